//! Every outgoing HTTP request of the crate (JWK Sets, OIDC discovery, and
//! whatever else asks an identity provider) is made by a client built here,
//! under one transport policy: HTTPS (except to loopback, or with the
//! explicit `danger_allow_http`), host names and certificates always
//! checked, connect and total timeouts, bounded redirects that keep to the
//! same policy.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::{redirect, Certificate, Client, Identity, Proxy, Url};

use crate::error::{ConfigError, FetchError, FetchErrorKind};

/// Trust and transport of every outgoing fetch (feature `remote`): the
/// JWK Set, OIDC discovery, and any other request this crate makes to an
/// identity provider.
///
/// The default trusts the public web PKI roots (webpki-roots, compiled in)
/// and goes through the proxy of the `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`
/// environment variables when set. A provider behind a private certificate
/// authority (a company Keycloak, the Kubernetes API server's issuer) needs
/// its root added; one that asks for a client certificate (mutual TLS)
/// needs [`client_identity_pem`](Self::client_identity_pem).
///
/// Host names and certificate chains are always checked: nothing here
/// turns certificate verification off. A private root you add is trusted
/// for every host name, as the public roots are; trust only a CA you
/// control.
///
/// ```no_run
/// use tower_jwt_auth::{Authenticator, remote::HttpClientOptions, remote::RemoteOptions};
///
/// # async fn run() -> Result<(), tower_jwt_auth::ConfigError> {
/// let ca = std::fs::read("/etc/ssl/company-ca.pem").map_err(|source| {
///     tower_jwt_auth::ConfigError::Io { path: "/etc/ssl/company-ca.pem".into(), source }
/// })?;
/// let http = HttpClientOptions::new().add_root_certificates_pem(&ca)?;
/// let auth = Authenticator::builder()
///     .oidc_issuer("https://keycloak.corp.example/realms/main")
///     .audience(["api"])
///     .remote_options(RemoteOptions::new().http_client(http))
///     .build_async()
///     .await?;
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct HttpClientOptions {
    roots: Vec<Certificate>,
    only_added_roots: bool,
    identity: Option<Identity>,
    proxy: Option<Proxy>,
    client: Option<Client>,
}

impl fmt::Debug for HttpClientOptions {
    // Counts and flags only: no certificate, key or proxy credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientOptions")
            .field("extra_roots", &self.roots.len())
            .field("public_roots", &!self.only_added_roots)
            .field("client_identity", &self.identity.is_some())
            .field("proxy", &self.proxy.is_some())
            .field("own_client", &self.client.is_some())
            .finish()
    }
}

impl HttpClientOptions {
    /// The defaults: the public roots, the environment's proxy, no client
    /// certificate.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the certificates of a PEM bundle (one or more `CERTIFICATE`
    /// blocks) as roots, besides the public roots (see
    /// [`with_only_added_roots`](Self::with_only_added_roots)).
    ///
    /// # Errors
    /// [`ConfigError::HttpClient`] when the PEM holds no certificate or one
    /// does not parse.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        let certs = Certificate::from_pem_bundle(pem)
            .map_err(|_| ConfigError::HttpClient("the root certificate PEM does not parse"))?;
        if certs.is_empty() {
            return Err(ConfigError::HttpClient(
                "the root certificate PEM holds no CERTIFICATE block",
            ));
        }
        self.roots.extend(certs);
        Ok(self)
    }

    /// Trusts only the roots added with
    /// [`add_root_certificates_pem`](Self::add_root_certificates_pem), not
    /// the public ones: a provider on a private network that no public CA
    /// should be able to impersonate.
    ///
    /// Building fails if no root was added.
    #[must_use]
    pub fn with_only_added_roots(mut self) -> Self {
        self.only_added_roots = true;
        self
    }

    /// Presents a client certificate (mutual TLS) to providers that ask for
    /// one: `cert_pem` holds the certificate and its chain, `key_pem` the
    /// private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    ///
    /// # Errors
    /// [`ConfigError::HttpClient`] when either PEM does not parse or lacks
    /// its certificate or key. The message never contains key material.
    pub fn client_identity_pem(
        mut self,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, ConfigError> {
        let mut both = Vec::with_capacity(cert_pem.len() + key_pem.len() + 1);
        both.extend_from_slice(cert_pem);
        both.push(b'\n');
        both.extend_from_slice(key_pem);
        let identity = Identity::from_pem(&both).map_err(|_| {
            ConfigError::HttpClient(
                "the client certificate or key PEM does not parse, or lacks its certificate or key",
            )
        })?;
        self.identity = Some(identity);
        Ok(self)
    }

    /// Sends every fetch through this HTTP(S) proxy (`http://host:port`,
    /// `https://host:port`, credentials as `http://user:pass@host:port`),
    /// instead of the environment's.
    ///
    /// The provider's certificate is still
    /// checked end to end (HTTPS goes through the proxy with `CONNECT`).
    ///
    /// # Errors
    /// [`ConfigError::HttpClient`] when the proxy URL does not parse.
    pub fn proxy(mut self, url: &str) -> Result<Self, ConfigError> {
        let proxy =
            Proxy::all(url).map_err(|_| ConfigError::HttpClient("the proxy url does not parse"))?;
        self.proxy = Some(proxy);
        Ok(self)
    }

    /// Makes every fetch with this client, which the application built
    /// (its roots, client certificate, proxy, connection pool, DNS).
    ///
    /// The
    /// crate still applies, per request: the total timeout, the body size
    /// limit, the HTTPS-only rule on the URL and on the final URL after
    /// redirects. Redirects and the connect timeout are the client's own:
    /// give it a `reqwest::redirect::Policy::none()` or a limited policy.
    /// Certificate checks are the client's too: do not build it with
    /// `danger_accept_invalid_certs`.
    ///
    /// It replaces the other settings: combining it with roots, a client
    /// certificate or a proxy set here fails the build
    /// ([`ConfigError::HttpClient`]), since they would silently not apply.
    #[must_use]
    pub fn reqwest_client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Whether the application gave its own client: the crate then checks
    /// timeouts and the final URL per request.
    pub(crate) fn own_client(&self) -> bool {
        self.client.is_some()
    }
}

/// The limits a built client enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_redirects: usize,
    pub(crate) allow_http: bool,
}

/// Builds the client of `options` under `limits`; `url` is named in errors.
pub(crate) fn build_client(
    options: &HttpClientOptions,
    limits: Limits,
    url: &Url,
) -> Result<Client, FetchError> {
    let config_error = || FetchError::new(url, FetchErrorKind::ClientConfig);
    if let Some(client) = &options.client {
        if !options.roots.is_empty()
            || options.identity.is_some()
            || options.proxy.is_some()
            || options.only_added_roots
        {
            return Err(config_error());
        }
        return Ok(client.clone());
    }
    if options.only_added_roots && options.roots.is_empty() {
        return Err(config_error());
    }
    let allow_http = limits.allow_http;
    let max_redirects = limits.max_redirects;
    let policy = redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max_redirects {
            attempt.error("too many redirects")
        } else if check_url(attempt.url(), allow_http).is_err() {
            attempt.error("redirect to an insecure url")
        } else {
            attempt.follow()
        }
    });
    let mut builder = Client::builder()
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.timeout)
        .redirect(policy)
        .user_agent(concat!("tower-jwt-auth/", env!("CARGO_PKG_VERSION")))
        .tls_built_in_root_certs(!options.only_added_roots);
    for root in &options.roots {
        builder = builder.add_root_certificate(root.clone());
    }
    if let Some(identity) = &options.identity {
        builder = builder.identity(identity.clone());
    }
    if let Some(proxy) = &options.proxy {
        builder = builder.proxy(proxy.clone());
    }
    builder
        .build()
        .map_err(|e| FetchError::transport(url, e).with_kind(FetchErrorKind::ClientConfig))
}

/// Reads `response`'s body, chunk by chunk, abandoned as soon as it passes
/// `max` bytes; `url` is named in errors.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    url: &Url,
    max: usize,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || FetchError::new(url, FetchErrorKind::TooLarge { limit: max });
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::transport(url, e))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses `url` and applies the transport policy.
pub(crate) fn parse_url(url: &str, allow_http: bool) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|_| FetchError::new(url, FetchErrorKind::InvalidUrl))?;
    check_url(&parsed, allow_http).map_err(|kind| FetchError::new(url, kind))?;
    Ok(parsed)
}

/// HTTPS, or plain HTTP to a loopback host (or anywhere with the opt-in):
/// keys fetched over plain HTTP across a network are whatever an attacker
/// on the path wants them to be.
pub(crate) fn check_url(url: &Url, allow_http: bool) -> Result<(), FetchErrorKind> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(FetchErrorKind::InsecureUrl),
        _ => Err(FetchErrorKind::InvalidUrl),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
