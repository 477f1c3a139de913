//! Behind a gateway, or in front of an upstream: claims forwarded as headers.
//!
//! - [`ClaimHeaders`]: which claims become which request headers for the
//!   upstream (Envoy's `claim_to_headers`), each value checked for header
//!   safety. Given to [`JwtAuthLayer::forward_claims`](crate::JwtAuthLayer::forward_claims),
//!   an in-process proxy's layer then removes `Authorization`, `DPoP`, a
//!   header token source and the client's own copies of the mapped headers
//!   from every accepted request, and sets the mapped ones.
//! - [`ForwardAuth`]: a tower service answering nginx `auth_request`,
//!   Traefik ForwardAuth and Envoy's HTTP `ext_authz` ("may this request
//!   through, and as whom?") from a [`Gate`]: 200 with the mapped headers,
//!   or the rejection (401 or 403 with its `WWW-Authenticate` challenge,
//!   503).
//! - [`Origin`]: where [`ForwardAuth`] reads the original method and URI
//!   (for DPoP's `htm`/`htu` and query token sources); headers are trusted
//!   only when configured.
//!
//! ```
//! use tower_jwt_auth::forward::{ClaimHeaders, ForwardAuth, Origin};
//! # use tower_jwt_auth::testing::TestIssuer;
//! # let auth = TestIssuer::hs256().authenticator().build()?;
//! let claims = ClaimHeaders::new().map("sub", "x-user")?.map("email", "x-user-email")?;
//! // In process: the layer in front of a proxying service.
//! let proxy_layer = auth.layer().forward_claims(claims.clone());
//! // For nginx `auth_request` (which sets `X-Original-Method`/`X-Original-URI`).
//! let gate = auth.layer().require_scope("api").forward_claims(claims).into_gate();
//! let check = ForwardAuth::new(gate, Origin::nginx());
//! # let _ = (proxy_layer, check);
//! # Ok::<(), tower_jwt_auth::ConfigError>(())
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{HeaderName, HeaderValue, CACHE_CONTROL};
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use serde_json::Value;
use tower_service::Service;

use crate::gate::{Decision, Gate};
use crate::response::Rejection;

pub(crate) mod headers;

pub use headers::ClaimHeaders;

/// Where [`ForwardAuth`] reads the original request's method and URI.
///
/// The default, [`Origin::request`], trusts no header: the method and URI
/// are those of the request [`ForwardAuth`] receives. The others read
/// headers that a client could send too, so configure one only when the
/// service is reachable from the proxy alone (a private port or socket) and
/// the proxy sets those headers on every check, replacing any copy the
/// client sent. A request whose configured headers are missing, repeated or
/// malformed is answered 400, never judged on something else.
///
/// The origin (scheme and host) of a DPoP proof's `htu` is the one the
/// [`DpopConfig`](crate::dpop::DpopConfig) names (or the forwarded headers
/// it was told to trust); the path comes from here.
#[derive(Debug, Clone, Default)]
pub struct Origin(OriginKind);

#[derive(Debug, Clone, Default)]
enum OriginKind {
    #[default]
    Request,
    Headers {
        method: HeaderName,
        uri: HeaderName,
    },
    Prefix(Arc<str>),
}

impl Origin {
    /// The request's own method and URI; no header is trusted (the default).
    #[must_use]
    pub fn request() -> Self {
        Self(OriginKind::Request)
    }

    /// The method and URI (path and query) from these two headers.
    #[must_use]
    pub fn headers(method: HeaderName, uri: HeaderName) -> Self {
        Self(OriginKind::Headers { method, uri })
    }

    /// nginx `auth_request`: `X-Original-Method` and `X-Original-URI`.
    ///
    /// Set them in the auth location: `proxy_set_header X-Original-Method
    /// $request_method;` and `proxy_set_header X-Original-URI $request_uri;`.
    #[must_use]
    pub fn nginx() -> Self {
        Self::headers(
            HeaderName::from_static("x-original-method"),
            HeaderName::from_static("x-original-uri"),
        )
    }

    /// Traefik ForwardAuth: `X-Forwarded-Method` and `X-Forwarded-Uri`.
    ///
    /// Traefik sets them (and `X-Forwarded-Proto`, `X-Forwarded-Host`) on
    /// every check, replacing a client's copies unless the entry point
    /// trusts forwarded headers from the client.
    #[must_use]
    pub fn traefik() -> Self {
        Self::headers(
            HeaderName::from_static("x-forwarded-method"),
            HeaderName::from_static("x-forwarded-uri"),
        )
    }

    /// Envoy HTTP `ext_authz` with `path_prefix`: the path after `prefix`.
    ///
    /// The method is the request's own (Envoy sends the original one), the
    /// URI its path with `prefix` removed. A request whose path does not start with `prefix` followed by `/`
    /// (or nothing) is answered 400.
    #[must_use]
    pub fn path_prefix(prefix: &str) -> Self {
        Self(OriginKind::Prefix(Arc::from(prefix.trim_end_matches('/'))))
    }

    /// The original method and URI of `req`, or `None` when they cannot be
    /// known.
    fn of<B>(&self, req: &Request<B>) -> Option<(Method, Uri)> {
        match &self.0 {
            OriginKind::Request => Some((req.method().clone(), req.uri().clone())),
            OriginKind::Headers { method, uri } => {
                let method = only(req.headers(), method)?;
                let method = Method::from_bytes(method.as_bytes()).ok()?;
                let uri = only(req.headers(), uri)?;
                Some((method, path_and_query(uri.as_bytes())?))
            }
            OriginKind::Prefix(prefix) => {
                let pq = req.uri().path_and_query()?.as_str();
                let rest = pq.strip_prefix(&**prefix)?;
                let rest = match rest.as_bytes().first() {
                    None => "/".to_owned(),
                    Some(b'/') => rest.to_owned(),
                    Some(b'?') => format!("/{rest}"),
                    Some(_) => return None,
                };
                Some((req.method().clone(), path_and_query(rest.as_bytes())?))
            }
        }
    }
}

/// The one value of `name`; `None` when absent or repeated.
fn only<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// An origin-form URI (`/path?query`): no scheme, no authority.
fn path_and_query(bytes: &[u8]) -> Option<Uri> {
    if bytes.first() != Some(&b'/') || bytes.starts_with(b"//") {
        return None;
    }
    let uri = Uri::try_from(bytes).ok()?;
    (uri.scheme().is_none() && uri.authority().is_none()).then_some(uri)
}

/// A forward-auth service: "may this request through, and as whom?" for nginx `auth_request`, Traefik ForwardAuth and Envoy HTTP `ext_authz`.
///
/// It asks its [`Gate`] about the original request ([`Origin`]: its
/// method and URI; the headers are those the proxy passed on, with the
/// client's `Authorization`, `DPoP` and cookies) and answers:
/// - 200 with the headers of the gate's [`ClaimHeaders`]
///   ([`JwtAuthLayer::forward_claims`](crate::JwtAuthLayer::forward_claims))
///   and a `DPoP-Nonce` when due, for the proxy to copy onto the upstream
///   request;
/// - the rejection otherwise: 401 or 403 with its `WWW-Authenticate`
///   challenge, 503 when keys or the revocation list are unavailable;
///   always as HTTP, for a gRPC call too (a gRPC rejection is an HTTP 200,
///   which a gateway would read as "let it through");
/// - 400 when the original method or URI cannot be known.
///
/// Every answer has an empty body (a `String`: axum and hyper serve it as
/// it is) and `Cache-Control: no-store`. The proxy
/// must also drop `Authorization` and `DPoP` from the upstream request and
/// replace the client's copies of the mapped headers (the README's "Behind a
/// gateway" shows it for nginx, Traefik and Envoy).
pub struct ForwardAuth<C = Value> {
    gate: Gate<C>,
    origin: Origin,
}

impl<C> Clone for ForwardAuth<C> {
    fn clone(&self) -> Self {
        Self {
            gate: self.gate.clone(),
            origin: self.origin.clone(),
        }
    }
}

impl<C> fmt::Debug for ForwardAuth<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForwardAuth")
            .field("gate", &self.gate)
            .field("origin", &self.origin)
            .finish()
    }
}

impl<C> ForwardAuth<C> {
    /// Answers with `gate`'s decision on the original request that `origin` describes.
    #[must_use]
    pub fn new(gate: Gate<C>, origin: Origin) -> Self {
        Self { gate, origin }
    }
}

type Answer<B> = Pin<Box<dyn Future<Output = Result<Response<B>, Infallible>> + Send>>;

impl<C, ReqBody> Service<Request<ReqBody>> for ForwardAuth<C>
where
    C: Send + Sync + 'static,
{
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Answer<String>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some((method, uri)) = self.origin.of(&req) else {
            return Box::pin(std::future::ready(Ok(answer(StatusCode::BAD_REQUEST))));
        };
        let headers = req.headers();
        match self.gate.decide(&method, &uri, headers) {
            Decision::Accept(accepted) => {
                Box::pin(std::future::ready(Ok(accepted_answer(&accepted))))
            }
            Decision::Reject(rejection) => Box::pin(std::future::ready(Ok(refused(&rejection)))),
            Decision::Pending(pending) => Box::pin(async move {
                Ok(match pending.await {
                    Ok(accepted) => accepted_answer(&accepted),
                    Err(rejection) => refused(&rejection),
                })
            }),
        }
    }
}

/// The HTTP rejection, even for a gRPC call: a gRPC rejection is an HTTP
/// 200 (with `grpc-status`), which a gateway reads as "let it through".
fn refused(rejection: &Rejection) -> Response<String> {
    let challenge = rejection.challenge();
    challenge.http_response(rejection.error())
}

fn answer<B: Default>(status: StatusCode) -> Response<B> {
    let mut res = Response::new(B::default());
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn accepted_answer<C: Send + Sync + 'static, B: Default>(
    accepted: &crate::Accepted<C>,
) -> Response<B> {
    let mut res = answer(StatusCode::OK);
    for (name, value) in accepted.forwarded_headers() {
        res.headers_mut().insert(name.clone(), value.clone());
    }
    if let Some(nonce) = accepted.dpop_nonce() {
        res.headers_mut().insert("dpop-nonce", nonce.clone());
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{AuthErrorKind, ConfigError};
    use serde_json::json;

    fn one(max: usize, v: Value) -> Result<Option<String>, AuthErrorKind> {
        let h = ClaimHeaders::new()
            .map("c", "x-c")
            .unwrap()
            .max_value_len(max);
        h.values(&json!({ "c": v }))
            .map(|mut v| {
                v.pop()
                    .map(|(_, v)| String::from_utf8_lossy(v.as_bytes()).into_owned())
            })
            .map_err(|e| e.kind())
    }

    #[test]
    fn values_render_and_unsafe_ones_are_refused() {
        let forbidden = Err(AuthErrorKind::Forbidden);
        assert_eq!(one(64, json!("ada")), Ok(Some("ada".into())));
        assert_eq!(one(64, json!(42)), Ok(Some("42".into())));
        assert_eq!(one(64, json!(true)), Ok(Some("true".into())));
        assert_eq!(one(64, json!(["a", "b", 3])), Ok(Some("a,b,3".into())));
        assert_eq!(one(64, json!("José")), Ok(Some("José".into())));
        assert_eq!(one(64, Value::Null), Ok(None));
        for bad in [
            json!("a\r\nx-admin: 1"),
            json!("a\nb"),
            json!("a\0"),
            json!("a\tb"),
            json!("a\u{7f}"),
            json!(" admin"),
            json!("admin "),
            json!({"a": 1}),
            json!([["a"]]),
            json!(["a,b"]),
            json!("x".repeat(65)),
            Value::from(vec!["xxxxxxxxxx"; 7]),
        ] {
            assert_eq!(one(64, bad.clone()), forbidden, "{bad}");
        }
        assert_eq!(one(65, json!("x".repeat(65))), Ok(Some("x".repeat(65))));
    }

    #[test]
    fn json_pointers_name_nested_claims() {
        let h = ClaimHeaders::new()
            .map("/realm_access/roles", "x-roles")
            .unwrap();
        let v = h
            .values(&json!({"realm_access": {"roles": ["a", "b"]}}))
            .unwrap();
        assert_eq!(v[0].1, "a,b");
    }

    #[test]
    fn reserved_invalid_and_duplicate_headers_are_refused() {
        for bad in [
            "authorization",
            "DPoP",
            "Host",
            "content-length",
            "transfer-encoding",
            "cookie",
            "x-forwarded-user",
            "X-Original-URI",
            "bad header",
            "x-user\r\n",
        ] {
            assert!(
                matches!(
                    ClaimHeaders::new().map("sub", bad),
                    Err(ConfigError::Forward(_))
                ),
                "{bad}"
            );
        }
        let twice = ClaimHeaders::new()
            .map("sub", "x-user")
            .unwrap()
            .map("email", "X-User");
        assert!(matches!(twice, Err(ConfigError::Forward(_))));
    }

    #[test]
    fn origins_read_only_their_configured_headers() {
        let req = |uri: &str, headers: &[(&str, &str)]| {
            let mut b = Request::builder().method("POST").uri(uri);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(()).unwrap()
        };
        let spoof = [("x-original-uri", "/public"), ("x-original-method", "GET")];
        let r = req("/check", &spoof);
        let (m, u) = Origin::request().of(&r).unwrap();
        assert_eq!((m, u.to_string()), (Method::POST, "/check".to_owned()));
        let (m, u) = Origin::nginx().of(&r).unwrap();
        assert_eq!((m, u.to_string()), (Method::GET, "/public".to_owned()));
        assert!(Origin::traefik().of(&r).is_none());
        for bad in ["http://evil/x", "//evil/x", "x", ""] {
            let r = req(
                "/check",
                &[("x-original-uri", bad), ("x-original-method", "GET")],
            );
            assert!(Origin::nginx().of(&r).is_none(), "{bad}");
        }
        let twice = req(
            "/check",
            &[
                ("x-original-uri", "/a"),
                ("x-original-uri", "/b"),
                ("x-original-method", "GET"),
            ],
        );
        assert!(Origin::nginx().of(&twice).is_none());
        let envoy = Origin::path_prefix("/auth/");
        let (_, u) = envoy.of(&req("/auth/items?a=1", &[])).unwrap();
        assert_eq!(u.to_string(), "/items?a=1");
        let (_, u) = envoy.of(&req("/auth", &[])).unwrap();
        assert_eq!(u.to_string(), "/");
        assert!(envoy.of(&req("/authx/items", &[])).is_none());
        assert!(envoy.of(&req("/items", &[])).is_none());
    }
}
