//! Why a remote source (a JWK Set URL, OIDC discovery) could not be used.

use std::fmt;

/// Why a remote key source could not be used. Its `Display` names the URL
/// and the reason; never key material.
#[derive(Debug)]
pub struct FetchError {
    url: String,
    kind: FetchErrorKind,
    source: Option<reqwest::Error>,
}

/// The reason of a [`FetchError`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchErrorKind {
    /// The URL does not parse, or is not `http(s)`.
    InvalidUrl,
    /// Plain `http` to a host that is not loopback (see
    /// [`RemoteOptions::danger_allow_http`](crate::RemoteOptions::danger_allow_http)), on the URL itself or a redirect.
    InsecureUrl,
    /// No connection (DNS, refused, TLS).
    Connect,
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
    /// The JWK Set holds no key this crate may verify with. An error at the
    /// first fetch only: once keys were fetched, such a set is followed
    /// (the provider withdrew its keys).
    NoUsableKeys,
    /// The discovery document's `issuer` is not exactly the configured one.
    IssuerMismatch,
    /// The discovery document has no `jwks_uri`.
    MissingJwksUri,
    /// Remote keys need a tokio runtime, and none is running.
    NoRuntime,
}

impl FetchError {
    pub(crate) fn new(url: impl fmt::Display, kind: FetchErrorKind) -> Self {
        Self {
            url: url.to_string(),
            kind,
            source: None,
        }
    }

    pub(crate) fn transport(url: &reqwest::Url, e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            FetchErrorKind::Timeout
        } else if e.is_redirect() {
            FetchErrorKind::Redirect
        } else if e.is_connect() {
            FetchErrorKind::Connect
        } else {
            FetchErrorKind::Transport
        };
        Self {
            url: url.to_string(),
            kind,
            source: Some(e.without_url()),
        }
    }

    /// The URL that failed.
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
        }?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
