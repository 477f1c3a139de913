//! Why a remote source (a JWK Set URL, OIDC discovery) could not be used.

use std::fmt;

use crate::http_client::Shown;

/// Why a remote key source could not be used. Its `Display` names the URL
/// and the reason; never key material.
#[derive(Debug)]
pub struct FetchError {
    url: String,
    kind: FetchErrorKind,
    /// What TLS said (a certificate problem), when that is the cause.
    tls: Option<String>,
    source: Option<reqwest::Error>,
}

/// The reason of a [`FetchError`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchErrorKind {
    /// The URL does not parse, or is not `http(s)`.
    InvalidUrl,
    /// Plain `http` to a host that is not loopback (see
    /// [`HttpClientOptions::danger_allow_http`](crate::remote::HttpClientOptions::danger_allow_http)), on the URL itself or a redirect.
    InsecureUrl,
    /// No connection (DNS, refused).
    Connect,
    /// The TLS handshake failed: most often the provider's certificate was
    /// refused (an unknown issuer: a private CA not added with
    /// [`HttpClientOptions::add_root_certificates_pem`](crate::remote::HttpClientOptions::add_root_certificates_pem);
    /// a certificate for another host name; an expired one), or the
    /// provider refused ours.
    ///
    /// The message says which.
    Tls,
    /// The HTTP client could not be built from the
    /// [`HttpClientOptions`](crate::remote::HttpClientOptions) (a root or client
    /// certificate the TLS library refuses, no root at all, an own
    /// client combined with settings it would ignore, or an own client for
    /// an introspection endpoint that is not loopback).
    ClientConfig,
    /// The connect or total timeout passed.
    Timeout,
    /// Too many redirects, or a redirect to an insecure URL.
    Redirect,
    /// Another transport error.
    Transport,
    /// A status other than 200.
    Status(u16),
    /// The body is larger than the limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not the expected JSON document.
    InvalidDocument,
    /// The JWK Set holds no key this crate may verify with.
    ///
    /// An error at the
    /// first fetch only: once keys were fetched, such a set is followed
    /// (the provider withdrew its keys).
    NoUsableKeys,
    /// The discovery document's `issuer` is not exactly the configured one.
    IssuerMismatch,
    /// The discovery document has no `jwks_uri`.
    MissingJwksUri,
    /// Remote keys need a tokio runtime, and none is running.
    NoRuntime,
    /// Neither the authorization server metadata (RFC 8414) nor the OpenID
    /// Connect discovery document of the issuer names an
    /// `introspection_endpoint` (and, for one that answered, its `issuer`
    /// was exactly the configured one).
    MissingIntrospectionEndpoint,
}

impl FetchError {
    pub(crate) fn new(url: impl fmt::Display, kind: FetchErrorKind) -> Self {
        Self {
            url: Shown(&url.to_string()).to_string(),
            kind,
            tls: None,
            source: None,
        }
    }

    pub(crate) fn with_kind(mut self, kind: FetchErrorKind) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn transport(url: &reqwest::Url, e: reqwest::Error) -> Self {
        let tls = tls_problem(&e);
        let kind = if tls.is_some() {
            FetchErrorKind::Tls
        } else if e.is_timeout() {
            FetchErrorKind::Timeout
        } else if e.is_redirect() {
            FetchErrorKind::Redirect
        } else if e.is_connect() {
            FetchErrorKind::Connect
        } else {
            FetchErrorKind::Transport
        };
        Self {
            url: Shown(url.as_str()).to_string(),
            kind,
            tls,
            source: Some(e.without_url()),
        }
    }

    /// The URL that failed, without its userinfo (`user:secret@`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Why it failed.
    #[must_use]
    pub fn kind(&self) -> &FetchErrorKind {
        &self.kind
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.url)?;
        match &self.kind {
            FetchErrorKind::InvalidUrl => f.write_str("not a valid http(s) url"),
            FetchErrorKind::InsecureUrl => f.write_str(
                "plain http is refused except to loopback (use https, or danger_allow_http)",
            ),
            FetchErrorKind::Connect => f.write_str("cannot connect"),
            FetchErrorKind::Tls => match &self.tls {
                Some(problem) => write!(f, "tls handshake failed: {problem}"),
                None => f.write_str("tls handshake failed"),
            },
            FetchErrorKind::ClientConfig => f.write_str(
                "the http client cannot be built from the HttpClientOptions (roots, client certificate, proxy, own client)",
            ),
            FetchErrorKind::Timeout => f.write_str("timed out"),
            FetchErrorKind::Redirect => {
                f.write_str("too many redirects, or a redirect to an insecure url")
            }
            FetchErrorKind::Transport => f.write_str("transport error"),
            FetchErrorKind::Status(s) => write!(f, "http status {s} (expected 200)"),
            FetchErrorKind::TooLarge { limit } => {
                write!(f, "response larger than the limit of {limit} bytes")
            }
            FetchErrorKind::InvalidDocument => f.write_str("not the expected json document"),
            FetchErrorKind::NoUsableKeys => {
                f.write_str("the jwk set holds no usable signature key")
            }
            FetchErrorKind::IssuerMismatch => f.write_str(
                "the discovery document's `issuer` is not exactly the configured issuer",
            ),
            FetchErrorKind::MissingJwksUri => {
                f.write_str("the discovery document has no `jwks_uri`")
            }
            FetchErrorKind::NoRuntime => f.write_str("remote keys need a running tokio runtime"),
            FetchErrorKind::MissingIntrospectionEndpoint => f.write_str(
                "no authorization server metadata of this issuer names an `introspection_endpoint`",
            ),
        }?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

/// The rustls error in `e`'s chain, if any, as text (rustls names the
/// certificate problem: `invalid peer certificate: UnknownIssuer`,
/// `certificate not valid for name ...`); never certificate bytes.
fn tls_problem(e: &reqwest::Error) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    // Bounded: an error chain is short, and io errors nest io errors.
    for _ in 0..16 {
        let err = current?;
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // `io::Error::source` skips the error it wraps: look inside.
        current = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => err.source(),
        };
    }
    None
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
