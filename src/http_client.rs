//! Every outgoing HTTP request of the crate (JWK Sets, OIDC discovery, and
//! whatever else asks an identity provider) is made by a client built here,
//! under one transport policy: HTTPS (except to loopback, or with the
//! explicit `danger_allow_http`), host names and certificates always
//! checked, connect and total timeouts, a body size limit, bounded
//! redirects that keep to the same policy; TLS with the crypto backend's
//! rustls provider. A loopback URL never goes through a proxy, and a URL
//! is shown (errors, logs, `Debug`) without its userinfo.

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
/// | proxy | the `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` environment variables (with `NO_PROXY`), never for a loopback URL |
/// | scheme | HTTPS, or plain `http` to loopback only ([`danger_allow_http`](Self::danger_allow_http)), on redirects too |
///
/// TLS is rustls with the crate's crypto backend: aws-lc-rs, or ring under
/// the `rust-crypto` feature alone. A provider behind a private certificate
/// authority (a company Keycloak, the Kubernetes API server's issuer) needs
/// its root added; one that asks for a client certificate (mutual TLS)
/// needs [`client_identity_pem`](Self::client_identity_pem).
///
/// A loopback URL (`127.0.0.0/8`, `[::1]`, `localhost`) is always fetched
/// directly: no proxy, from the environment, from [`proxy`](Self::proxy)
/// or inside an own [`reqwest_client`](Self::reqwest_client), is ever sent
/// a loopback request, so keys, tokens and client secrets meant for this
/// host never leave it. Other URLs may go through the proxy.
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
    /// A proxy URL that parses.
    proxy: Option<String>,
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

    /// Sends every fetch but those to loopback through this HTTP(S) proxy
    /// (`http://host:port`, `https://host:port`, credentials as
    /// `http://user:pass@host:port`), instead of the environment's.
    ///
    /// A loopback URL (`127.0.0.0/8`, `[::1]`, `localhost`) is fetched
    /// directly. The provider's certificate is still
    /// checked end to end (HTTPS goes through the proxy with `CONNECT`).
    ///
    /// # Errors
    /// [`ConfigError::HttpClient`] when the proxy URL does not parse.
    pub fn proxy(mut self, url: &str) -> Result<Self, ConfigError> {
        Proxy::all(url).map_err(|_| ConfigError::HttpClient("the proxy url does not parse"))?;
        self.proxy = Some(url.to_owned());
        Ok(self)
    }

    /// Makes every fetch with this client (reqwest 0.13), which the application built.
    ///
    /// Its roots, client certificate, proxy, connection pool, DNS and TLS
    /// provider are the client's, for every URL but a loopback one.
    ///
    /// A loopback URL (`127.0.0.0/8`, `[::1]`, `localhost`) is fetched with
    /// a client the crate builds (no proxy, the public roots, the limits
    /// here): the crate cannot see or turn off a proxy inside this client
    /// (reqwest takes the environment's by default), and must never send a
    /// loopback request to one. Token introspection never uses this
    /// client: an introspection endpoint that is not loopback fails the
    /// build ([`FetchErrorKind::ClientConfig`](crate::remote::FetchErrorKind::ClientConfig)), since
    /// the client could follow a 307 or 308 redirect, re-sending the token
    /// and the client secret, before the crate sees the answer.
    ///
    /// For the other URLs the crate still applies, per request: the
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

/// The clients of one fetch target: the one of `options`, and, with the
/// application's own client, a client the crate builds for loopback URLs.
#[derive(Clone, Debug)]
pub(crate) struct Clients {
    main: Client,
    /// With an own client: the crate's, without a proxy, for loopback URLs
    /// (the own client may send them to a proxy, from the environment or
    /// its builder, that the crate cannot see or change).
    direct: Option<Client>,
}

impl Clients {
    /// The client that fetches `url`: a loopback URL is always fetched
    /// directly, whatever client the application gave.
    pub(crate) fn for_url(&self, url: &Url) -> &Client {
        match &self.direct {
            Some(direct) if is_loopback(url) => direct,
            _ => &self.main,
        }
    }

    /// Whether `url` is fetched with the application's own client.
    pub(crate) fn is_own(&self, url: &Url) -> bool {
        self.direct.is_some() && !is_loopback(url)
    }
}

/// Builds the clients of `options`, following at most `max_redirects`
/// redirects; `url` is named in errors.
pub(crate) fn build_client(
    options: &HttpClientOptions,
    max_redirects: usize,
    url: &Url,
) -> Result<Clients, FetchError> {
    let config_error = || FetchError::new(url, FetchErrorKind::ClientConfig);
    if let Some(client) = &options.client {
        if !options.roots.is_empty()
            || options.identity.is_some()
            || options.proxy.is_some()
            || options.only_added_roots
        {
            return Err(config_error());
        }
        let crate_built = HttpClientOptions {
            client: None,
            ..options.clone()
        };
        return Ok(Clients {
            main: client.clone(),
            direct: Some(crate_client(&crate_built, max_redirects, url)?),
        });
    }
    Ok(Clients {
        main: crate_client(options, max_redirects, url)?,
        direct: None,
    })
}

/// A client the crate builds from `options` (which hold no own client).
fn crate_client(
    options: &HttpClientOptions,
    max_redirects: usize,
    url: &Url,
) -> Result<Client, FetchError> {
    let config_error = || FetchError::new(url, FetchErrorKind::ClientConfig);
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
    // Not the proxies reqwest would pick on its own (the environment's,
    // with no loopback exception): only those of `proxy_rules`.
    let mut builder = Client::builder()
        .no_proxy()
        .connect_timeout(options.connect_timeout)
        .timeout(options.timeout)
        .redirect(policy)
        .user_agent(concat!("tower-jwt-auth/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls);
    // Set but not UTF-8 still counts as set (`REQUEST_METHOD`); such a
    // proxy URL then does not parse and is ignored, as reqwest does.
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    for rule in proxy_rules(options.proxy.as_deref(), &env) {
        if let Some(proxy) = to_proxy(&rule) {
            builder = builder.proxy(proxy);
        }
    }
    builder
        .build()
        .map_err(|e| FetchError::transport(url, e).with_kind(FetchErrorKind::ClientConfig))
}

/// The hosts never sent to a proxy: a loopback URL is fetched directly, so
/// keys, tokens and client secrets meant for this host never leave it.
const LOOPBACK: &str = "localhost,127.0.0.0/8,::1";

/// Which requests a proxy takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Http,
    Https,
    All,
}

/// One proxy of a client the crate builds: its scope, its URL, and the
/// hosts it is never sent (a `NO_PROXY` list).
#[derive(Debug, PartialEq, Eq)]
struct ProxyRule {
    scope: Scope,
    url: String,
    exempt: String,
}

/// The proxies of a client the crate builds: `configured` (from
/// [`HttpClientOptions::proxy`]), else those `env` names (`HTTP_PROXY`,
/// `HTTPS_PROXY`, `ALL_PROXY`, upper case first, then lower case; none in
/// a CGI process, where `HTTP_PROXY` may come from a request header); each
/// exempting loopback hosts, and an environment proxy the hosts of
/// `NO_PROXY` too.
fn proxy_rules(configured: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Vec<ProxyRule> {
    if let Some(url) = configured {
        return vec![ProxyRule {
            scope: Scope::All,
            url: url.to_owned(),
            exempt: LOOPBACK.to_owned(),
        }];
    }
    if env("REQUEST_METHOD").is_some() {
        return Vec::new();
    }
    let first = |names: [&str; 2]| {
        names
            .into_iter()
            .find_map(env)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut exempt = LOOPBACK.to_owned();
    if let Some(no_proxy) = first(["NO_PROXY", "no_proxy"]) {
        exempt.push(',');
        exempt.push_str(&no_proxy);
    }
    // The scheme-specific ones first: reqwest takes the first that matches.
    [
        (Scope::Http, ["HTTP_PROXY", "http_proxy"]),
        (Scope::Https, ["HTTPS_PROXY", "https_proxy"]),
        (Scope::All, ["ALL_PROXY", "all_proxy"]),
    ]
    .into_iter()
    .filter_map(|(scope, names)| {
        first(names).map(|url| ProxyRule {
            scope,
            url,
            exempt: exempt.clone(),
        })
    })
    .collect()
}

/// The reqwest proxy of `rule`; `None` when its URL does not parse (an
/// environment proxy reqwest would ignore too).
fn to_proxy(rule: &ProxyRule) -> Option<Proxy> {
    let proxy = match rule.scope {
        Scope::Http => Proxy::http(&rule.url),
        Scope::Https => Proxy::https(&rule.url),
        Scope::All => Proxy::all(&rule.url),
    };
    Some(
        proxy
            .ok()?
            .no_proxy(reqwest::NoProxy::from_string(&rule.exempt)),
    )
}

/// A URL as messages, logs and `Debug` show it: without its userinfo
/// (`user:secret@`), which reqwest sends as HTTP Basic credentials.
///
/// A URL without userinfo shows as written; one with userinfo, as `url`
/// serializes it once the userinfo is removed. A string that does not
/// parse as a URL shows as written unless it holds an `@`.
pub(crate) struct Shown<'a>(pub(crate) &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Url::parse(self.0) {
            Ok(url) if url.has_authority() => {
                if url.username().is_empty() && url.password().is_none() {
                    return f.write_str(self.0);
                }
                let mut url = url;
                if url.set_username("").is_err() || url.set_password(None).is_err() {
                    return f.write_str("(a url with credentials, not shown)");
                }
                f.write_str(url.as_str())
            }
            // No authority to hold userinfo: an `@` may still be one.
            _ if self.0.contains('@') => f.write_str("(a url that does not parse, not shown)"),
            _ => f.write_str(self.0),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment of `vars`.
    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn rule(scope: Scope, url: &str, exempt: &str) -> ProxyRule {
        ProxyRule {
            scope,
            url: url.into(),
            exempt: exempt.into(),
        }
    }

    #[test]
    fn environment_proxies_never_take_loopback_hosts() {
        let env = env_of(&[
            ("HTTP_PROXY", "http://p1:3128"),
            ("http_proxy", "http://ignored:1"),
            ("https_proxy", " http://p2:3128 "),
            ("ALL_PROXY", "socks5h://p3:1080"),
            ("NO_PROXY", "corp.example"),
        ]);
        let exempt = "localhost,127.0.0.0/8,::1,corp.example";
        assert_eq!(
            proxy_rules(None, &env),
            [
                rule(Scope::Http, "http://p1:3128", exempt),
                rule(Scope::Https, "http://p2:3128", exempt),
                rule(Scope::All, "socks5h://p3:1080", exempt),
            ]
        );
        // Without NO_PROXY, loopback is still exempt.
        let env = env_of(&[("all_proxy", "http://p:1"), ("HTTPS_PROXY", "")]);
        assert_eq!(
            proxy_rules(None, &env),
            [rule(Scope::All, "http://p:1", LOOPBACK)]
        );
        // CGI: HTTP_PROXY may be a request's `Proxy` header.
        let env = env_of(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://p:1")]);
        assert_eq!(proxy_rules(None, &env), []);
        assert_eq!(proxy_rules(None, &env_of(&[])), []);
    }

    #[test]
    fn a_configured_proxy_replaces_the_environment_and_never_takes_loopback_hosts() {
        let env = env_of(&[("HTTP_PROXY", "http://env:1"), ("NO_PROXY", "*")]);
        assert_eq!(
            proxy_rules(Some("http://mine:8080"), &env),
            [rule(Scope::All, "http://mine:8080", LOOPBACK)]
        );
        for r in proxy_rules(None, &env) {
            assert!(to_proxy(&r).is_some(), "{r:?}");
        }
        assert!(to_proxy(&rule(Scope::Http, "::not a url", LOOPBACK)).is_none());
    }

    #[test]
    fn urls_are_shown_without_their_userinfo() {
        for (url, shown) in [
            (
                "https://id:secret@idp.example/jwks",
                "https://idp.example/jwks",
            ),
            ("https://id@idp.example/jwks", "https://idp.example/jwks"),
            (
                "http://:secret@127.0.0.1:8/x?q=1",
                "http://127.0.0.1:8/x?q=1",
            ),
            ("https://idp.example", "https://idp.example"),
            ("not a url", "not a url"),
            (
                "id:secret@idp.example",
                "(a url that does not parse, not shown)",
            ),
            (
                "https://id:secret@",
                "(a url that does not parse, not shown)",
            ),
            (
                "https://idp.example/?mail=a@b",
                "https://idp.example/?mail=a@b",
            ),
        ] {
            assert_eq!(Shown(url).to_string(), shown, "{url}");
        }
        assert!(
            !FetchError::new("https://id:secret@h/x", FetchErrorKind::Connect)
                .to_string()
                .contains("secret")
        );
    }
}
