//! Rendering rejections: HTTP challenges and responses, gRPC statuses.
//!
//! The `WWW-Authenticate` challenges of RFC 6750 §3 (`Bearer`) and RFC 9449
//! §7.1 (`DPoP`), the HTTP response, the gRPC response, and the rejection's
//! log event and metric.
//!
//! An [`AuthError`] says *why* a request was refused (its kind, the claim,
//! the scopes a 403 may list). A [`Challenge`] says *how to ask again* on
//! this route: the realm, and on a route with DPoP the schemes offered, the
//! proof algorithms and the current server nonce. A [`Rejection`] holds
//! both, and is what [`Gate::decide`](crate::Gate::decide) hands back; an
//! [`ErrorResponder`] turns it into a response (the default one,
//! [`DefaultErrorResponse`], as RFC 6750 says). Bodies never hold the token.
//!
//! ```
//! use tower_jwt_auth::{AuthError, AuthErrorKind, response::Challenge};
//!
//! let expired = AuthError::new(AuthErrorKind::Expired);
//! let res = Challenge::bearer(Some("api")).http_response::<String>(&expired);
//! assert_eq!(res.status(), 401);
//! assert_eq!(
//!     res.headers()["www-authenticate"],
//!     r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#
//! );
//! ```

use std::fmt;
use std::sync::Arc;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use crate::error::{AuthError, AuthErrorKind};
use crate::keys::AlgorithmSet;

/// How a client may ask again on the route that refused it: what the
/// `WWW-Authenticate` challenges and the `DPoP-Nonce` header say, besides
/// the error itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    realm: Option<Arc<str>>,
    dpop: Option<DpopChallenge>,
    /// RFC 9728 §5.1: where the resource's metadata is.
    resource_metadata: Option<Arc<str>>,
}

/// The DPoP side of a challenge (RFC 9449 §7.1), on a route with DPoP on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpopChallenge {
    /// Only the `DPoP` scheme is offered.
    pub(crate) required: bool,
    /// The request used the `DPoP` scheme (its error goes on that
    /// challenge).
    pub(crate) used_dpop: bool,
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) nonce: Option<HeaderValue>,
}

impl Challenge {
    /// A `Bearer` challenge, with a `realm` when given (a realm that cannot
    /// be a quoted string is left out; the builder refuses such a realm).
    #[must_use]
    pub fn bearer(realm: Option<&str>) -> Self {
        Self {
            realm: realm.filter(|r| is_quotable(r)).map(Arc::from),
            dpop: None,
            resource_metadata: None,
        }
    }

    pub(crate) fn new(
        realm: Option<Arc<str>>,
        dpop: Option<DpopChallenge>,
        resource_metadata: Option<Arc<str>>,
    ) -> Self {
        Self {
            realm,
            dpop,
            resource_metadata,
        }
    }

    /// The same challenge naming the resource's metadata URL in
    /// `resource_metadata` (RFC 9728 §5.1); a URL that cannot be a quoted
    /// string is left out.
    #[must_use]
    pub fn with_resource_metadata(mut self, url: &str) -> Self {
        self.resource_metadata = is_quotable(url).then(|| Arc::from(url));
        self
    }

    /// The resource metadata URL the challenges name, if any.
    #[must_use]
    pub fn resource_metadata(&self) -> Option<&str> {
        self.resource_metadata.as_deref()
    }

    /// The configured `realm`, if any.
    #[must_use]
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The server nonce to send in `DPoP-Nonce` (RFC 9449 §9), when the
    /// route uses DPoP nonces.
    #[must_use]
    pub fn dpop_nonce(&self) -> Option<&HeaderValue> {
        self.dpop.as_ref().and_then(|d| d.nonce.as_ref())
    }

    /// Every `WWW-Authenticate` challenge for `error`, the one carrying the
    /// error first: `Bearer` (RFC 6750 §3) and, on a route with DPoP,
    /// `DPoP` with its `algs` (RFC 9449 §7.1).
    ///
    /// Empty for 503: the client is
    /// not asked for other credentials.
    #[must_use]
    pub fn www_authenticate(&self, error: &AuthError) -> Vec<HeaderValue> {
        if error.status() == StatusCode::SERVICE_UNAVAILABLE {
            return Vec::new();
        }
        let Some(dpop) = &self.dpop else {
            return self.one("Bearer", error, true, None).into_iter().collect();
        };
        let algs = algs_attribute(dpop.algorithms);
        // DPoP-only errors, a DPoP request, or a DPoP-only route: the error
        // goes on the DPoP challenge.
        let on_dpop = dpop.required
            || dpop.used_dpop
            || matches!(
                error.kind(),
                AuthErrorKind::InvalidDpopProof | AuthErrorKind::UseDpopNonce
            );
        let dpop_challenge = self.one("DPoP", error, on_dpop, Some(&algs));
        if dpop.required {
            return dpop_challenge.into_iter().collect();
        }
        let bearer = self.one("Bearer", error, !on_dpop, None);
        let (first, second) = if on_dpop {
            (dpop_challenge, bearer)
        } else {
            (bearer, dpop_challenge)
        };
        first.into_iter().chain(second).collect()
    }

    fn one(
        &self,
        scheme: &str,
        error: &AuthError,
        with_error: bool,
        algs: Option<&str>,
    ) -> Option<HeaderValue> {
        let mut value = String::from(scheme);
        let mut sep = " ";
        if let Some(realm) = &self.realm {
            value.push_str(sep);
            value.push_str("realm=\"");
            value.push_str(realm);
            value.push('"');
            sep = ", ";
        }
        if let Some(code) = error.kind().error_code().filter(|_| with_error) {
            value.push_str(sep);
            value.push_str("error=\"");
            value.push_str(code);
            value.push_str("\", error_description=\"");
            value.push_str(error.kind().description());
            value.push('"');
            if let Some(scope) = error.scope() {
                value.push_str(", scope=\"");
                value.push_str(scope);
                value.push('"');
            }
            // RFC 9470 §3: what a new authentication must meet.
            if let Some(acr) = error.acr_values() {
                value.push_str(", acr_values=\"");
                value.push_str(acr);
                value.push('"');
            }
            if let Some(max_age) = error.max_age() {
                value.push_str(&format!(", max_age={max_age}"));
            }
            sep = ", ";
        }
        if let Some(algs) = algs {
            value.push_str(sep);
            value.push_str(algs);
            sep = ", ";
        }
        // RFC 9728 §5.1, last: the error stays first for readers that look
        // for `Bearer error=`.
        if let Some(url) = &self.resource_metadata {
            value.push_str(sep);
            value.push_str("resource_metadata=\"");
            value.push_str(url);
            value.push('"');
        }
        // Every part is a fixed string or was checked to be a valid
        // quoted-string body (realm and resource metadata URL at build,
        // scope and acr values by the error).
        HeaderValue::from_str(&value).ok()
    }

    /// The RFC 6750 response: status, `WWW-Authenticate`, `DPoP-Nonce` when
    /// due, `Cache-Control: no-store`, and an empty body.
    #[must_use]
    pub fn http_response<B: Default>(&self, error: &AuthError) -> Response<B> {
        let mut res = Response::new(B::default());
        *res.status_mut() = error.status();
        let headers = res.headers_mut();
        for challenge in self.www_authenticate(error) {
            headers.append(WWW_AUTHENTICATE, challenge);
        }
        if let Some(nonce) = self.dpop_nonce() {
            headers.insert("dpop-nonce", nonce.clone());
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    /// A trailers-only gRPC response: HTTP 200, `content-type:
    /// application/grpc`, `grpc-status` ([`AuthError::grpc_status`]) and
    /// `grpc-message` (the fixed description), `Cache-Control: no-store`,
    /// the first challenge and the `DPoP-Nonce` when due.
    #[must_use]
    pub fn grpc_response<B: Default>(&self, error: &AuthError) -> Response<B> {
        let mut res = Response::new(B::default());
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("grpc-status", HeaderValue::from(error.grpc_status()));
        // Descriptions are fixed printable ASCII without '%': valid
        // grpc-message values as they are.
        headers.insert(
            "grpc-message",
            HeaderValue::from_static(error.kind().description()),
        );
        if let Some(challenge) = self.www_authenticate(error).into_iter().next() {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        if let Some(nonce) = self.dpop_nonce() {
            headers.insert("dpop-nonce", nonce.clone());
        }
        res
    }
}

impl Challenge {
    /// Completes a responder's answer to a request refused for `error` (see
    /// [`ErrorResponder`]): a 401 or 403 without `WWW-Authenticate` gets
    /// this challenge, any response without `DPoP-Nonce` the nonce when
    /// due. What the responder set stays.
    pub(crate) fn complete<B>(&self, error: &AuthError, response: &mut Response<B>) {
        let status = response.status();
        let headers = response.headers_mut();
        let challenged = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
        if challenged && !headers.contains_key(WWW_AUTHENTICATE) {
            let mut values = self.www_authenticate(error);
            if values.is_empty() {
                // A server-side failure (no challenge of its own) that the
                // responder answered as 401 or 403: the client is still
                // told how to authenticate.
                values = self.www_authenticate(&AuthError::new(AuthErrorKind::Missing));
            }
            for value in values {
                headers.append(WWW_AUTHENTICATE, value);
            }
        }
        if let Some(nonce) = self.dpop_nonce() {
            if !headers.contains_key(DPOP_NONCE) {
                headers.insert(DPOP_NONCE, nonce.clone());
            }
        }
    }
}

/// The `DPoP-Nonce` header (RFC 9449 §8.1).
const DPOP_NONCE: &str = "dpop-nonce";

/// Whether `s` may stand in a quoted string as it is (printable ASCII
/// without `"` or `\`).
pub(crate) fn is_quotable(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// `algs="ES256 PS256 …"` (RFC 9449 §7.1).
fn algs_attribute(algorithms: AlgorithmSet) -> String {
    let mut s = String::from("algs=\"");
    for (i, alg) in algorithms.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{alg:?}"));
        // RFC 9864: the fully-specified name is accepted too.
        if alg == jsonwebtoken::Algorithm::EdDSA {
            s.push(' ');
            s.push_str(crate::keys::ED25519);
        }
    }
    s.push('"');
    s
}

/// A refused request: why ([`AuthError`]) and how to ask again
/// ([`Challenge`]).
///
/// Made by [`Gate::decide`](crate::Gate::decide), which records it (one `tracing` event, the rejection counter) as it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    error: AuthError,
    challenge: Challenge,
}

impl Rejection {
    pub(crate) fn new(error: AuthError, challenge: Challenge) -> Self {
        Self { error, challenge }
    }

    /// Records the rejection: one `tracing` event (feature `tracing`; WARN
    /// when the server side failed, else DEBUG) and the rejection counter
    /// (feature `metrics`).
    pub(crate) fn record(&self) {
        crate::observe::rejected(&self.error);
    }

    /// Why the request was refused.
    #[must_use]
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// How the client may ask again.
    #[must_use]
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The default response for a request with `method` and `headers`: a
    /// gRPC response for a gRPC call ([`RequestHead::is_grpc`]), else the
    /// RFC 6750 response.
    #[must_use]
    pub fn to_response<B: Default>(&self, method: &Method, headers: &HeaderMap) -> Response<B> {
        let head = RequestHead {
            method,
            headers,
            challenge: &self.challenge,
        };
        DefaultErrorResponse.respond(&self.error, &head)
    }
}

/// What a responder may know of the refused request.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// How the client may ask again (realm, DPoP schemes and nonce).
    pub challenge: &'a Challenge,
}

impl RequestHead<'_> {
    /// Whether this is a gRPC call: `POST` with `content-type`
    /// `application/grpc`, `application/grpc+…` or `application/grpc-web…`.
    ///
    /// Anything else (a `GET` claiming gRPC) gets plain HTTP statuses, so a
    /// client cannot turn a 401 into a cacheable 200.
    #[must_use]
    pub fn is_grpc(&self) -> bool {
        let Some(ct) = self.headers.get(CONTENT_TYPE) else {
            return false;
        };
        let ct = ct.as_bytes();
        let grpc = ct == b"application/grpc"
            || ct.starts_with(b"application/grpc+")
            || ct.starts_with(b"application/grpc-web");
        grpc && self.method == Method::POST
    }
}

/// Turns a rejection into a response.
///
/// Implemented by [`DefaultErrorResponse`], by types of your own, and by
/// closures `Fn(&AuthError, &RequestHead<'_>) -> Response<B>`. Give one to [`JwtAuthLayer::on_error`](crate::JwtAuthLayer::on_error).
/// The layer then completes what the responder returns, so a custom body
/// never costs the client its challenge (RFC 6750 §3: a 401 MUST carry
/// `WWW-Authenticate`):
/// - a 401 or 403 without `WWW-Authenticate` gets the challenge's values,
///   [`Challenge::www_authenticate`] (`Bearer`, `DPoP` with its `algs`,
///   the error attributes, `resource_metadata`); for an error that has no
///   challenge (a 503 kind answered as 401 or 403), the challenge without
///   an error;
/// - any response without `DPoP-Nonce` gets the challenge's nonce, when the
///   route hands one out ([`Challenge::dpop_nonce`]);
/// - headers the responder set itself are never replaced; other statuses
///   (a 404 that hides the route, a gRPC response's HTTP 200 with its
///   `grpc-status`) get no `WWW-Authenticate`. A gRPC responder that wants
///   the challenge in its metadata adds it from `request.challenge`.
///
/// [`JwtAuthLayer::on_error_raw`](crate::JwtAuthLayer::on_error_raw) sends
/// the responder's response as it is.
///
/// ```
/// use http::{Response, StatusCode};
/// use tower_jwt_auth::{AuthError, AuthErrorKind, response::{Challenge, ErrorResponder, RequestHead}};
///
/// /// A JSON body; the layer adds the challenge headers.
/// #[derive(Clone)]
/// struct Json;
///
/// impl ErrorResponder<String> for Json {
///     fn respond(&self, error: &AuthError, request: &RequestHead<'_>) -> Response<String> {
///         let body = format!(r#"{{"error":"{:?}","method":"{}"}}"#, error.kind(), request.method);
///         let mut res = Response::new(body);
///         *res.status_mut() = error.status();
///         res
///     }
/// }
///
/// let head = RequestHead {
///     method: &http::Method::GET,
///     headers: &http::HeaderMap::new(),
///     challenge: &Challenge::bearer(Some("api")),
/// };
/// let res = Json.respond(&AuthErrorKind::Expired.into(), &head);
/// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(res.body(), r#"{"error":"Expired","method":"GET"}"#);
/// ```
pub trait ErrorResponder<B> {
    /// The response for `error` to the request described by `request`.
    fn respond(&self, error: &AuthError, request: &RequestHead<'_>) -> Response<B>;
}

/// The RFC 6750 response ([`Challenge::http_response`]), with an empty
/// body; for gRPC calls ([`RequestHead::is_grpc`]), a trailers-only gRPC
/// response ([`Challenge::grpc_response`]) that gRPC clients read as a
/// status code and message.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultErrorResponse;

impl<B: Default> ErrorResponder<B> for DefaultErrorResponse {
    fn respond(&self, error: &AuthError, request: &RequestHead<'_>) -> Response<B> {
        if request.is_grpc() {
            request.challenge.grpc_response(error)
        } else {
            request.challenge.http_response(error)
        }
    }
}

impl<B, F> ErrorResponder<B> for F
where
    F: Fn(&AuthError, &RequestHead<'_>) -> Response<B>,
{
    fn respond(&self, error: &AuthError, request: &RequestHead<'_>) -> Response<B> {
        self(error, request)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn www(error: &AuthError, challenge: &Challenge) -> String {
        challenge.www_authenticate(error)[0]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn missing_credentials_challenge_has_no_error_attribute() {
        let missing = AuthError::new(AuthErrorKind::Missing);
        assert_eq!(www(&missing, &Challenge::bearer(None)), "Bearer");
        assert_eq!(
            www(&missing, &Challenge::bearer(Some("api"))),
            "Bearer realm=\"api\""
        );
    }

    #[test]
    fn invalid_token_challenge_names_the_error() {
        assert_eq!(
            www(&AuthErrorKind::Expired.into(), &Challenge::bearer(None)),
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        );
    }

    #[test]
    fn insufficient_scope_challenge_names_the_scope_only_when_safe() {
        let bearer = Challenge::bearer(None);
        let v = www(&AuthError::insufficient_scope(&["admin".into()]), &bearer);
        assert!(v.ends_with(", scope=\"admin\""));
        let v = www(
            &AuthError::insufficient_scope(&["a".into(), "b".into()]),
            &bearer,
        );
        assert!(v.ends_with(", scope=\"a b\""));
        let v = www(
            &AuthError::insufficient_scope(&["ok".into(), "ad\"min".into()]),
            &bearer,
        );
        assert!(!v.contains("scope=\""));
        assert_eq!(AuthErrorKind::InsufficientScope.status(), 403);
    }

    #[test]
    fn unavailable_has_no_challenge() {
        let e = AuthError::new(AuthErrorKind::RevocationUnavailable);
        assert!(Challenge::bearer(None).www_authenticate(&e).is_empty());
        let res = Challenge::bearer(None).http_response::<()>(&e);
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    }

    fn bare<B: Default>(status: StatusCode) -> Response<B> {
        let mut res = Response::new(B::default());
        *res.status_mut() = status;
        res
    }

    #[test]
    fn complete_adds_the_challenge_to_a_bare_401_and_403_only() {
        let challenge = Challenge::bearer(Some("api")).with_resource_metadata("https://r/m");
        let expired = AuthError::new(AuthErrorKind::Expired);
        let mut res = bare::<()>(StatusCode::UNAUTHORIZED);
        challenge.complete(&expired, &mut res);
        assert_eq!(
            res.headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .collect::<Vec<_>>(),
            challenge
                .www_authenticate(&expired)
                .iter()
                .collect::<Vec<_>>()
        );
        let scope = AuthError::insufficient_scope(&["admin".into()]);
        let mut res = bare::<()>(StatusCode::FORBIDDEN);
        challenge.complete(&scope, &mut res);
        let www = res.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert!(www.contains("error=\"insufficient_scope\""), "{www}");
        assert!(www.contains("scope=\"admin\""), "{www}");
        // A 404 that hides the route, and a gRPC response's 200: untouched.
        for status in [StatusCode::NOT_FOUND, StatusCode::OK] {
            let mut res = bare::<()>(status);
            challenge.complete(&expired, &mut res);
            assert!(res.headers().is_empty(), "{status}");
        }
    }

    #[test]
    fn complete_keeps_the_responders_own_challenge_and_nonce() {
        let dpop = DpopChallenge {
            required: false,
            used_dpop: true,
            algorithms: AlgorithmSet::default(),
            nonce: Some(HeaderValue::from_static("server-nonce")),
        };
        let challenge = Challenge::new(None, Some(dpop), None);
        let error = AuthError::new(AuthErrorKind::UseDpopNonce);
        let mut res = bare::<()>(StatusCode::UNAUTHORIZED);
        challenge.complete(&error, &mut res);
        assert_eq!(res.headers()["dpop-nonce"], "server-nonce");
        assert!(res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("DPoP error=\"use_dpop_nonce\""));
        let mut res = bare::<()>(StatusCode::UNAUTHORIZED);
        let own = HeaderValue::from_static("Custom");
        res.headers_mut().insert(WWW_AUTHENTICATE, own.clone());
        res.headers_mut()
            .insert("dpop-nonce", HeaderValue::from_static("mine"));
        challenge.complete(&error, &mut res);
        assert_eq!(res.headers().get_all(WWW_AUTHENTICATE).iter().count(), 1);
        assert_eq!(res.headers()[WWW_AUTHENTICATE], own);
        assert_eq!(res.headers()["dpop-nonce"], "mine");
    }

    #[test]
    fn complete_gives_a_401_for_an_unavailable_kind_the_plain_challenge() {
        let challenge = Challenge::bearer(Some("api"));
        let mut res = bare::<()>(StatusCode::UNAUTHORIZED);
        challenge.complete(&AuthErrorKind::KeySourceUnavailable.into(), &mut res);
        assert_eq!(res.headers()[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
        // Left as a 503, it gets none (the client is not asked to retry
        // with other credentials).
        let mut res = bare::<()>(StatusCode::SERVICE_UNAVAILABLE);
        challenge.complete(&AuthErrorKind::KeySourceUnavailable.into(), &mut res);
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn an_unquotable_realm_is_left_out() {
        assert_eq!(Challenge::bearer(Some("a\"b")).realm(), None);
    }
}
