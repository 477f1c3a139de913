//! Opaque tokens (feature `remote`): RFC 7662 token introspection, the
//! configuration ([`Introspection`]) and the introspector that asks the
//! authorization server, caches its answers and shares one request per
//! token among concurrent requests.

mod client;

use std::fmt;
use std::time::Duration;

use crate::cache::DEFAULT_CAPACITY;

#[cfg(fuzzing)]
pub(crate) use client::read_metadata;
pub(crate) use client::{Answer, Introspector};

/// Opaque access tokens checked by asking the authorization server (RFC
/// 7662 token introspection; feature `remote`), given to
/// [`AuthenticatorBuilder::introspection`](crate::AuthenticatorBuilder::introspection).
///
/// **Which tokens are introspected** is explicit: a token that is a JWS
/// compact serialization (three base64url segments whose header is a JSON
/// object) is verified locally when the authenticator has keys (a local or
/// remote key set), and a failure there is final (never a second try by
/// introspection); any other token, or every token when there are no keys,
/// is introspected. [`introspect_when`](Self::introspect_when) replaces
/// this rule. Under [`Authenticator::by_issuer`](crate::Authenticator::by_issuer)
/// (at most one issuer may introspect), a JWS compact token goes to the
/// issuer its `iss` names and any other token to the introspecting issuer.
///
/// **The request**: `POST` to the endpoint, `Content-Type:
/// application/x-www-form-urlencoded`, body
/// `token=<token>&token_type_hint=access_token`, `Accept:
/// application/json`, with the client authentication chosen here. The token
/// is never put in a URL, a log or an error. Redirects are never followed:
/// no token or client secret reaches a redirect target. An application's
/// own `reqwest::Client` ([`HttpClientOptions::reqwest_client`](crate::remote::HttpClientOptions::reqwest_client))
/// would follow them by its own policy, so it is never used here: with one,
/// an endpoint that is not loopback fails the build, and a loopback one is
/// asked with the crate's client. A loopback endpoint is never asked
/// through a proxy.
/// Its transport (timeouts, size limit, trust, proxy, plain
/// `http`) is the authenticator's, set once with
/// [`AuthenticatorBuilder::http_client`](crate::AuthenticatorBuilder::http_client):
/// the endpoint must be HTTPS, or plain `http` to loopback (see
/// [`HttpClientOptions::danger_allow_http`](crate::remote::HttpClientOptions::danger_allow_http)).
///
/// **The answer**: `active` must be the JSON literal `true`; any other
/// value (`false`, `"true"`, `1`, `null`) is an inactive token: 401
/// `invalid_token` ([`AuthErrorKind::InactiveToken`](crate::AuthErrorKind::InactiveToken)).
/// An active answer's members are the token's claims and pass exactly what
/// a JWT's claims pass ([`Verifier`](crate::Verifier)): the claim rules
/// (`exp`, `nbf`, `iss`, `aud`, required claims), the DPoP binding
/// (`cnf.jkt`), the route's scopes and roles, and revocation, on every
/// request, cached answer or not. Handlers see the members minus `active`.
///
/// **Failures close**: the endpoint unreachable, slower than the timeout
/// ([`HttpClientOptions::timeout`](crate::remote::HttpClientOptions::timeout),
/// default 10 s), answering other than 200, not a JSON object, larger than
/// the limit ([`HttpClientOptions::max_response_size`](crate::remote::HttpClientOptions::max_response_size),
/// default 1 MiB) or without `active` is a 503
/// ([`AuthErrorKind::IntrospectionUnavailable`](crate::AuthErrorKind::IntrospectionUnavailable)),
/// never an accept; such failures are not cached, so the next request asks
/// again.
///
/// **Caching**: an answer (active or inactive) is reused for the same
/// token, compared in constant time, for at most
/// [`cache_ttl`](Self::cache_ttl) (default 60 s) and never past its `exp`;
/// a token revoked at the server is refused within that time. Concurrent
/// requests for one token share one endpoint request.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::{Authenticator, remote::Introspection};
///
/// # async fn run() -> Result<(), tower_jwt_auth::ConfigError> {
/// let auth = Authenticator::builder()
///     .introspection(
///         Introspection::endpoint(
///             "https://keycloak.example/realms/main/protocol/openid-connect/token/introspect",
///         )
///         .client_secret_basic("resource-server", "its secret")
///         .cache_ttl(Duration::from_secs(30)),
///     )
///     .issuer(["https://keycloak.example/realms/main"])
///     .audience(["api"])
///     .build_async()
///     .await?;
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Introspection {
    pub(crate) endpoint: Endpoint,
    pub(crate) auth: ClientAuth,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_capacity: usize,
    pub(crate) rule: Option<fn(&str) -> bool>,
}

/// Where the endpoint is.
#[derive(Clone)]
pub(crate) enum Endpoint {
    Url(String),
    /// Found in the issuer's metadata (RFC 8414, then OIDC discovery).
    Discover(String),
}

impl fmt::Debug for Endpoint {
    // The URL without its userinfo.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::http_client::Shown;
        match self {
            Self::Url(url) => f.debug_tuple("Url").field(&Shown(url).to_string()).finish(),
            Self::Discover(issuer) => f
                .debug_tuple("Discover")
                .field(&Shown(issuer).to_string())
                .finish(),
        }
    }
}

/// How the resource server authenticates to the endpoint.
#[derive(Clone)]
pub(crate) enum ClientAuth {
    None,
    /// RFC 6749 §2.3.1 HTTP Basic.
    Basic {
        id: String,
        secret: String,
    },
    /// RFC 6749 §2.3.1 in the request body.
    Post {
        id: String,
        secret: String,
    },
}

impl fmt::Debug for Introspection {
    // Never the client secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            ClientAuth::None => "none",
            ClientAuth::Basic { .. } => "client_secret_basic",
            ClientAuth::Post { .. } => "client_secret_post",
        };
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_auth", &auth)
            .field("cache_ttl", &self.cache_ttl)
            .field("cache_capacity", &self.cache_capacity)
            .field("rule", &self.rule.is_some())
            .finish_non_exhaustive()
    }
}

impl Introspection {
    fn with(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            auth: ClientAuth::None,
            cache_ttl: Duration::from_secs(60),
            cache_capacity: DEFAULT_CAPACITY,
            rule: None,
        }
    }

    /// The introspection endpoint at `url`: HTTPS, or plain http to a
    /// loopback host.
    #[must_use]
    pub fn endpoint(url: impl Into<String>) -> Self {
        Self::with(Endpoint::Url(url.into()))
    }

    /// The endpoint named by the `introspection_endpoint` of `issuer`'s
    /// metadata, read at build: RFC 8414 authorization server metadata
    /// (`/.well-known/oauth-authorization-server` inserted before the
    /// issuer's path), else OpenID Connect discovery
    /// (`<issuer>/.well-known/openid-configuration`).
    ///
    /// A document counts
    /// only when its `issuer` is exactly `issuer` (RFC 8414 §3.3).
    #[must_use]
    pub fn discover(issuer: impl Into<String>) -> Self {
        Self::with(Endpoint::Discover(issuer.into()))
    }

    /// Authenticates with HTTP Basic (`client_secret_basic`, RFC 6749
    /// §2.3.1): the id and the secret are form-urlencoded, joined by `:`,
    /// and base64-encoded.
    ///
    /// The secret never appears in `Debug` output.
    #[must_use]
    pub fn client_secret_basic(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.auth = ClientAuth::Basic {
            id: id.into(),
            secret: secret.into(),
        };
        self
    }

    /// Authenticates with `client_id` and `client_secret` in the request
    /// body (`client_secret_post`, RFC 6749 §2.3.1).
    #[must_use]
    pub fn client_secret_post(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.auth = ClientAuth::Post {
            id: id.into(),
            secret: secret.into(),
        };
        self
    }

    /// How long an answer is reused for the same token (default 60 s;
    /// never past the token's `exp`; whole seconds).
    ///
    /// Zero turns the cache
    /// off: every request asks (concurrent ones still share one request).
    #[must_use]
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The most answers the cache holds (default 10,000; the least useful
    /// are evicted).
    #[must_use]
    pub fn cache_capacity(mut self, answers: usize) -> Self {
        self.cache_capacity = answers;
        self
    }

    /// Which tokens are introspected, instead of the default rule (not a
    /// JWS compact token, or no keys): `rule(token)` returns `true` for a
    /// token to introspect; the others are verified locally.
    ///
    /// It sees the
    /// token: it must not log or store it.
    #[must_use]
    pub fn introspect_when(mut self, rule: fn(&str) -> bool) -> Self {
        self.rule = Some(rule);
        self
    }
}

/// Whether `token` is a JWS compact serialization: three base64url
/// segments whose header is a JSON object.
pub(crate) fn is_jws_compact(token: &str) -> bool {
    crate::jws::Compact::split(token)
        .ok()
        .and_then(|jws| crate::jws::decode_segment(jws.header).ok())
        .is_some_and(|header| crate::jws::parse_object(&header).is_ok())
}

/// `application/x-www-form-urlencoded` encoding of `s` (WHATWG URL
/// §5.2): alphanumerics and `*-._` kept, space as `+`, the rest `%XX`.
pub(crate) fn form_encode(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_of_rfc_6749_credentials() {
        let mut out = String::new();
        form_encode("a b+c:d/é%", &mut out);
        assert_eq!(out, "a+b%2Bc%3Ad%2F%C3%A9%25");
    }

    #[test]
    fn jws_compact_is_three_segments_with_an_object_header() {
        assert!(is_jws_compact("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"));
        assert!(!is_jws_compact("opaque-token-123"));
        assert!(!is_jws_compact("a.b.c"));
        assert!(!is_jws_compact("WzFd.e30.c2ln"), "header [1]");
        assert!(!is_jws_compact("eyJhbGciOiJIUzI1NiJ9.e30"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let i = Introspection::endpoint("https://as.example/introspect")
            .client_secret_basic("rs", "s3cret-value");
        assert!(!format!("{i:?}").contains("s3cret"));
    }
}
