//! Every outgoing HTTP request of the crate (JWK Sets, OIDC discovery, and
//! whatever else asks an identity provider) is made by a client built here,
//! under one transport policy: HTTPS (except to loopback, or with the
//! explicit `danger_allow_http`), host names and certificates always
//! checked, connect and total timeouts, a body size limit, bounded
//! redirects that keep to the same policy; TLS with the crypto backend's
//! rustls provider.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{redirect, Client, Proxy, Url};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;

use crate::error::{ConfigError, FetchError, FetchErrorKind};

/// Trust, transport and limits of every outgoing fetch (feature `remote`).
///
/// Set once with [`AuthenticatorBuilder::http_client`](crate::AuthenticatorBuilder::http_client), one setting applies to every request the authenticator makes: the JWK
/// Set, OIDC discovery, the tenants' discovery and keys
/// ([`TenantIssuers`](crate::remote::TenantIssuers)), a SPIFFE bundle URL,
/// and token introspection ([`Introspection`](crate::remote::Introspection)).
///
/// | setting | default |
/// |---|---|
/// | [`timeout`](Self::timeout) (total, body included) | 10 s |
/// | [`connect_timeout`](Self::connect_timeout) | 5 s |
/// | [`max_response_size`](Self::max_response_size) (enforced while reading) | 1 MiB |
/// | [`max_redirects`](Self::max_redirects) (introspection never follows one) | 5 |
/// | trust | the public web PKI roots (webpki-roots, compiled in) |
/// | proxy | the `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` environment variables |
/// | scheme | HTTPS, or plain `http` to loopback only ([`danger_allow_http`](Self::danger_allow_http)), on redirects too |
///
/// TLS is rustls with the crate's crypto backend: aws-lc-rs, or ring under
/// the `rust-crypto` feature alone. A provider behind a private certificate
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
/// use std::time::Duration;
/// use tower_jwt_auth::{Authenticator, remote::HttpClientOptions};
///
/// # async fn run() -> Result<(), tower_jwt_auth::ConfigError> {
/// let ca = std::fs::read("/etc/ssl/company-ca.pem").map_err(|source| {
///     tower_jwt_auth::ConfigError::Io { path: "/etc/ssl/company-ca.pem".into(), source }
/// })?;
/// let http = HttpClientOptions::new()
///     .add_root_certificates_pem(&ca)?
///     .timeout(Duration::from_secs(3));
/// let auth = Authenticator::builder()
///     .oidc_issuer("https://keycloak.corp.example/realms/main")
///     .audience(["api"])
///     .http_client(http)
///     .build_async()
///     .await?;
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClientOptions {
    roots: Vec<CertificateDer<'static>>,
    only_added_roots: bool,
    identity: Option<Arc<ClientIdentity>>,
    proxy: Option<Proxy>,
    client: Option<Client>,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_body: usize,
    pub(crate) max_redirects: usize,
    pub(crate) allow_http: bool,
}

/// A client certificate chain and its private key.
struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Default for HttpClientOptions {
    fn default() -> Self {
        Self {
            roots: Vec::new(),
            only_added_roots: false,
            identity: None,
            proxy: None,
            client: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
            max_redirects: 5,
            allow_http: false,
        }
    }
}

impl fmt::Debug for HttpClientOptions {
    // Counts, flags and limits only: no certificate, key or proxy credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientOptions")
            .field("extra_roots", &self.roots.len())
            .field("public_roots", &!self.only_added_roots)
            .field("client_identity", &self.identity.is_some())
            .field("proxy", &self.proxy.is_some())
            .field("own_client", &self.client.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_response_size", &self.max_body)
            .field("max_redirects", &self.max_redirects)
            .field("danger_allow_http", &self.allow_http)
            .finish()
    }
}

impl HttpClientOptions {
    /// The defaults: the public roots, the environment's proxy, no client
    /// certificate, the limits of the table above.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Total timeout of each request, body included (default 10 s).
    ///
    /// Also the longest a request waits for a key refetch or an
    /// introspection answer (503 past it).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connect timeout of each request (default 5 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Largest accepted response body, in bytes (default 1 MiB).
    ///
    /// Enforced while reading: a larger key set or discovery document
    /// fails the fetch, a larger introspection answer is a 503.
    #[must_use]
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Most redirects a key or discovery fetch follows (default 5).
    ///
    /// Each is under the same HTTPS rule. Introspection never follows one:
    /// its request carries the token.
    #[must_use]
    pub fn max_redirects(mut self, redirects: usize) -> Self {
        self.max_redirects = redirects;
        self
    }

    /// DANGER: allows plain `http` URLs to any host, for every fetch.
    ///
    /// Keys fetched over plain HTTP across a network are whatever an
    /// attacker on the path wants, and an introspection request sends the
    /// token and the client secret in clear text. Loopback URLs
    /// (`127.0.0.0/8`, `::1`, `localhost`) are always allowed.
    #[must_use]
    pub fn danger_allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Trusts the certificates of a PEM bundle (one or more `CERTIFICATE`
    /// blocks) as roots, besides the public roots (see
    /// [`with_only_added_roots`](Self::with_only_added_roots)).
    ///
    /// # Errors
    /// [`ConfigError::HttpClient`] when the PEM holds no certificate or one
    /// does not parse.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        let malformed = || ConfigError::HttpClient("the root certificate PEM does not parse");
        let mut certs = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|_| malformed())?;
            // A root rustls cannot use as a trust anchor fails here, not at
            // the first fetch.
            RootCertStore::empty()
                .add(cert.clone())
                .map_err(|_| malformed())?;
            certs.push(cert);
        }
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
    /// its certificate or key, or the key's type is not supported. The
    /// message never contains key material.
    pub fn client_identity_pem(
        mut self,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, ConfigError> {
        let refused = || {
            ConfigError::HttpClient(
                "the client certificate or key PEM does not parse, or lacks its certificate or key",
            )
        };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| refused())?;
        if chain.is_empty() {
            return Err(refused());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| refused())?;
        crate::crypto::tls_provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|_| refused())?;
        self.identity = Some(Arc::new(ClientIdentity { chain, key }));
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

    /// Makes every fetch with this client (reqwest 0.13), which the application built.
    ///
    /// Its roots, client certificate, proxy, connection pool, DNS and TLS
    /// provider are the client's. The crate still applies, per request: the
    /// total timeout, the body size limit, the HTTPS-only rule on the URL
    /// and on the final URL after redirects. Redirects and the connect
    /// timeout are the client's own: give it a
    /// `reqwest::redirect::Policy::none()` or a limited policy. Certificate
    /// checks are the client's too: do not build it with
    /// `danger_accept_invalid_certs`.
    ///
    /// It replaces the trust and proxy settings: combining it with roots, a
    /// client certificate or a proxy set here fails the build
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

    /// The rustls configuration of a client the crate builds: the backend's
    /// provider, TLS 1.2 and 1.3, the roots, the client certificate.
    fn tls_config(&self) -> Option<rustls::ClientConfig> {
        let mut roots = RootCertStore::empty();
        if !self.only_added_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for root in &self.roots {
            roots.add(root.clone()).ok()?;
        }
        let builder =
            rustls::ClientConfig::builder_with_provider(Arc::new(crate::crypto::tls_provider()))
                .with_safe_default_protocol_versions()
                .ok()?
                .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                .ok()?,
            None => builder.with_no_client_auth(),
        };
        // reqwest is built without HTTP/2 here.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Some(config)
    }
}

/// Builds the client of `options`, following at most `max_redirects`
/// redirects; `url` is named in errors.
pub(crate) fn build_client(
    options: &HttpClientOptions,
    max_redirects: usize,
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
    let tls = options.tls_config().ok_or_else(config_error)?;
    let allow_http = options.allow_http;
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
        .connect_timeout(options.connect_timeout)
        .timeout(options.timeout)
        .redirect(policy)
        .user_agent(concat!("tower-jwt-auth/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls);
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
