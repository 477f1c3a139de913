//! The tower middleware: [`JwtAuthLayer`], [`JwtAuth`] and
//! [`future::ResponseFuture`].
//!
//! A request with a valid token goes to the inner service with
//! [`Claims<C>`](crate::Claims) in its extensions. Any other request gets an
//! RFC 6750 response and never reaches the inner service. Rejections are
//! responses, not errors, so `JwtAuth<S>` has the inner service's error type.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use tower_jwt_auth::{Authenticator, Claims};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
//! let mut svc = ServiceBuilder::new()
//!     .layer(auth.layer())
//!     .service_fn(|req: Request<String>| async move {
//!         let claims = req.extensions().get::<Claims>().cloned();
//!         Ok::<_, std::convert::Infallible>(Response::new(format!("{:?}", claims.is_some())))
//!     });
//! let res = svc.ready().await?.call(Request::new(String::new())).await?;
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(res.headers()["www-authenticate"], "Bearer");
//! # Ok(()) }
//! ```

pub mod future;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Method, Request, Response, Uri};
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::{AuthMarker, Claims};
use crate::dpop::{self, DpopMode};
use crate::error::{AuthError, AuthErrorKind};
use crate::policy::{run_checks, Check, Denied, RoleClaim, RouteRules};
use crate::token::{bearer_token, find_token, Credentials, TokenSource};
use crate::verifier::{PendingVerification, Verification, Verifier};

use self::future::ResponseFuture;

/// What a responder may know of the rejected request.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The configured `realm`, if any.
    pub realm: Option<&'a str>,
}

impl RequestHead<'_> {
    /// Whether this is a gRPC call: `POST` with `content-type`
    /// `application/grpc`, `application/grpc+…` or `application/grpc-web…`.
    /// Anything else (a `GET` claiming gRPC) gets plain HTTP statuses, so a
    /// client cannot turn a 401 into a cacheable 200.
    #[must_use]
    pub fn is_grpc(&self) -> bool {
        let Some(ct) = self.headers.get(http::header::CONTENT_TYPE) else {
            return false;
        };
        let ct = ct.as_bytes();
        let grpc = ct == b"application/grpc"
            || ct.starts_with(b"application/grpc+")
            || ct.starts_with(b"application/grpc-web");
        grpc && self.method == Method::POST
    }
}

/// Turns a rejection into a response. Implemented by
/// [`DefaultErrorResponse`] and by closures `Fn(&AuthError) -> Response<B>`.
pub trait ErrorResponder<B> {
    /// The response for `error` to the request described by `request`.
    fn respond(&self, error: &AuthError, request: &RequestHead<'_>) -> Response<B>;
}

/// The RFC 6750 response of [`AuthError::to_response`], with an empty body;
/// for gRPC calls ([`RequestHead::is_grpc`]), a trailers-only gRPC response
/// ([`AuthError::to_grpc_response`]) that gRPC clients read as a status code
/// and message.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultErrorResponse;

impl<B: Default> ErrorResponder<B> for DefaultErrorResponse {
    fn respond(&self, error: &AuthError, request: &RequestHead<'_>) -> Response<B> {
        if request.is_grpc() {
            error.to_grpc_response(request.realm)
        } else {
            error.to_response(request.realm)
        }
    }
}

impl<B, F> ErrorResponder<B> for F
where
    F: Fn(&AuthError) -> Response<B>,
{
    fn respond(&self, error: &AuthError, _: &RequestHead<'_>) -> Response<B> {
        self(error)
    }
}

/// Applies [`JwtAuth`] to a service, with one route's rules.
///
/// Made by [`Authenticator::layer`](crate::Authenticator::layer) or
/// [`Authenticator::optional`](crate::Authenticator::optional).
pub struct JwtAuthLayer<C = serde_json::Value, R = DefaultErrorResponse> {
    verifier: Verifier<C>,
    route: Arc<RouteRules>,
    checks: Arc<[Check<C>]>,
    sources: Arc<[TokenSource]>,
    optional: bool,
    responder: R,
}

impl<C, R: Clone> Clone for JwtAuthLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            route: self.route.clone(),
            checks: self.checks.clone(),
            sources: self.sources.clone(),
            optional: self.optional,
            responder: self.responder.clone(),
        }
    }
}

impl<C, R> fmt::Debug for JwtAuthLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("verifier", &self.verifier)
            .field("route", &self.route)
            .field("checks", &self.checks.len())
            .field("sources", &self.sources)
            .field("optional", &self.optional)
            .field("responder", &std::any::type_name::<R>())
            .finish()
    }
}

impl<C> JwtAuthLayer<C> {
    pub(crate) fn new(
        verifier: Verifier<C>,
        route: RouteRules,
        optional: bool,
        sources: Arc<[TokenSource]>,
    ) -> Self {
        Self {
            verifier,
            route: Arc::new(route),
            checks: Arc::from([]),
            sources,
            optional,
            responder: DefaultErrorResponse,
        }
    }
}

impl<C, R> JwtAuthLayer<C, R> {
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    pub(crate) fn verifier(&self) -> &Verifier<C> {
        &self.verifier
    }

    /// Also requires `scope` (in the `scope` claim, or `scp` when enabled);
    /// a valid token without it gets 403 `insufficient_scope`. Several calls
    /// require all of them. On an [`optional`](crate::Authenticator::optional)
    /// layer, a route with scopes, roles or checks still requires a token
    /// (401 without one): anonymous never gets further than a signed-in
    /// caller.
    #[must_use]
    pub fn require_scope(self, scope: impl Into<String>) -> Self {
        self.with_route(|r| r.require_scope(scope))
    }

    /// Requires every one of `scopes` (403 `insufficient_scope` otherwise).
    #[must_use]
    pub fn require_all_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_route(|r| r.require_all_scopes(scopes))
    }

    /// Requires at least one of `scopes` (403 `insufficient_scope`
    /// otherwise; an empty list lets no token through).
    #[must_use]
    pub fn require_any_scope<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_route(|r| r.require_any_scope(scopes))
    }

    /// Requires `role` in the authenticator's role claim (default `roles`;
    /// see [`RoleClaim`] for Keycloak, groups, custom paths). Several calls
    /// require all of them. 403 `insufficient_scope` otherwise.
    #[must_use]
    pub fn require_role(self, role: impl Into<String>) -> Self {
        self.with_route(|r| r.require_role(role))
    }

    /// Requires at least one of `roles` in the authenticator's role claim.
    #[must_use]
    pub fn require_any_role<I, S>(self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_route(|r| r.require_any_role(roles))
    }

    /// Requires `role` at `claim`, e.g.
    /// `require_role_in(RoleClaim::keycloak_client("billing"), "manager")`.
    #[must_use]
    pub fn require_role_in(self, claim: RoleClaim, role: impl Into<String>) -> Self {
        self.with_route(|r| r.require_role_in(claim, role))
    }

    /// Adds a check of your own, run on the verified, typed claims after the
    /// scopes and roles; `Err(Denied)` answers 403 `insufficient_scope`
    /// (gRPC `PERMISSION_DENIED`). Several checks must all pass.
    ///
    /// ```
    /// use tower_jwt_auth::{Authenticator, Claims, Denied};
    ///
    /// let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
    /// let layer = auth.layer().require(|claims: &Claims| {
    ///     match claims["tenant"].as_str() {
    ///         Some("acme") => Ok(()),
    ///         _ => Err(Denied::because("not an acme user")),
    ///     }
    /// });
    /// # let _ = layer;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn require<F>(mut self, check: F) -> Self
    where
        F: Fn(&Claims<C>) -> Result<(), Denied> + Send + Sync + 'static,
    {
        let mut checks: Vec<Check<C>> = self.checks.iter().cloned().collect();
        checks.push(Arc::new(check));
        self.checks = checks.into();
        self
    }

    /// Looks for the token in these places, in this order, on this route
    /// (replacing the authenticator's sources; see [`crate::token`]).
    #[must_use]
    pub fn token_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// Accepts only tokens for one of `audiences` on this route (replacing
    /// the authenticator's audiences; `aud` becomes required).
    #[must_use]
    pub fn audience<I, S>(self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_route(|r| r.audience(audiences))
    }

    /// Sets this route's DPoP mode (RFC 9449), replacing the one given to
    /// [`AuthenticatorBuilder::dpop`](crate::AuthenticatorBuilder::dpop).
    /// Without DPoP settings on the authenticator, a route that allows or
    /// requires DPoP accepts no DPoP request (there is no URL to check
    /// proofs against), and a route that requires it rejects everything.
    #[must_use]
    pub fn dpop(self, mode: DpopMode) -> Self {
        self.with_route(|r| r.dpop(mode))
    }

    fn with_route(mut self, f: impl FnOnce(RouteRules) -> RouteRules) -> Self {
        let route = Arc::make_mut(&mut self.route);
        *route = f(std::mem::take(route));
        self
    }

    /// Replaces the rejection response, e.g. with a JSON body:
    /// `auth.layer().on_error(|e: &AuthError| my_response(e))`.
    #[must_use]
    pub fn on_error<R2>(self, responder: R2) -> JwtAuthLayer<C, R2> {
        JwtAuthLayer {
            verifier: self.verifier,
            route: self.route,
            checks: self.checks,
            sources: self.sources,
            optional: self.optional,
            responder,
        }
    }
}

impl<S, C, R: Clone> Layer<S> for JwtAuthLayer<C, R> {
    type Service = JwtAuth<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            layer: self.clone(),
        }
    }
}

/// Middleware that authenticates requests with a bearer JWT.
pub struct JwtAuth<S, C = serde_json::Value, R = DefaultErrorResponse> {
    inner: S,
    layer: JwtAuthLayer<C, R>,
}

impl<S: Clone, C, R: Clone> Clone for JwtAuth<S, C, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, C, R> fmt::Debug for JwtAuth<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &std::any::type_name::<S>())
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, C, R> JwtAuth<S, C, R> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    C: Send + Sync + 'static,
    R: ErrorResponder<ResBody> + Clone,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match authenticate(&self.layer, req.method(), req.headers(), req.uri()) {
            Outcome::Ready(Ok(claims)) => {
                accept(&self.layer, &mut req, claims);
                ResponseFuture::inner(self.inner.call(req))
            }
            Outcome::Dpop(claims, accepted) => {
                accept(&self.layer, &mut req, Some(claims));
                req.extensions_mut().insert(accepted.bound);
                ResponseFuture::inner(self.inner.call(req)).with_dpop_nonce(accepted.next_nonce)
            }
            Outcome::Ready(Err(error)) => ResponseFuture::reject(reject(&self.layer, &req, &error)),
            Outcome::Pending(verification) => {
                // The service made ready by `poll_ready` goes with the
                // future; this one is replaced by a clone (tower-http's
                // async authorization does the same).
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::verifying(verification, service, req, self.layer.clone())
            }
            Outcome::DpopPending(recording, accepted) => {
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::verifying(recording, service, req, self.layer.clone())
                    .dpop_accepted(accepted)
            }
        }
    }
}

/// Lets a request through: its claims (if any) and the marker that the
/// extractors check go into its extensions.
fn accept<C: Send + Sync + 'static, R, B>(
    layer: &JwtAuthLayer<C, R>,
    req: &mut Request<B>,
    claims: Option<Claims<C>>,
) {
    crate::observe::accepted(claims.is_some());
    let ext = req.extensions_mut();
    if let Some(claims) = claims {
        ext.insert(claims);
    }
    ext.insert(AuthMarker::of::<C>(layer.verifier.realm_arc()));
}

/// The rejection response for `error`.
fn reject<C, R: ErrorResponder<ResBody>, B, ResBody>(
    layer: &JwtAuthLayer<C, R>,
    req: &Request<B>,
    error: &AuthError,
) -> Response<ResBody> {
    error.trace();
    // On a route with DPoP, the challenges name it (RFC 9449 §7.1).
    let with_dpop;
    let mode = dpop_mode(layer);
    let error = match (layer.verifier.dpop(), mode) {
        (Some(d), DpopMode::Allowed | DpopMode::Required) => {
            let used_dpop = matches!(
                bearer_token(req.headers(), layer.verifier.max_token_len()),
                Ok(Credentials::Dpop(_))
            );
            with_dpop = error.clone().with_dpop(d.challenge(mode, used_dpop));
            &with_dpop
        }
        _ => error,
    };
    let head = RequestHead {
        method: req.method(),
        headers: req.headers(),
        realm: layer.verifier.realm(),
    };
    layer.responder.respond(error, &head)
}

/// The layer's own checks on verified claims (the route's custom checks).
fn checked<C, R>(
    layer: &JwtAuthLayer<C, R>,
    claims: Result<Claims<C>, AuthError>,
) -> Result<Claims<C>, AuthError> {
    let claims = claims?;
    run_checks(&layer.checks, &claims)?;
    Ok(claims)
}

/// What the layer does with a request.
enum Outcome<C> {
    /// Decided now; `Ok(None)`: no credentials on an optional route.
    Ready(Result<Option<Claims<C>>, AuthError>),
    /// Decided once the verification completes (then [`checked`]).
    Pending(PendingVerification<C>),
    /// A DPoP request, accepted (its proof and its bound token).
    Dpop(Claims<C>, dpop::Accepted),
    /// A DPoP request, accepted once the replay store has recorded its
    /// proof (a store that waits on the network).
    DpopPending(PendingVerification<C>, dpop::Accepted),
}

/// The route's DPoP mode: its own, else the authenticator's.
fn dpop_mode<C, R>(layer: &JwtAuthLayer<C, R>) -> DpopMode {
    let route = layer.route.dpop;
    layer
        .verifier
        .dpop()
        .map_or(route.unwrap_or_default(), |d| d.mode(route))
}

/// A request with `Authorization: DPoP`: the proof, then the token bound to
/// the proof's key, then the route's checks; the proof's `jti` is recorded
/// last. A token whose verification waits on I/O (a refetch of a remote
/// key set for a new `kid`, a revocation list over the network) is waited
/// for as a bearer token is, and the checks and the recording follow it in
/// the same order.
fn authenticate_dpop<C: Send + Sync + 'static, R>(
    layer: &JwtAuthLayer<C, R>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    token: &str,
) -> Outcome<C> {
    let Some(dpop) = layer.verifier.dpop() else {
        return Outcome::Ready(Err(AuthErrorKind::InvalidDpopProof.into()));
    };
    let proof = match dpop.check_proof(method, uri, headers, token) {
        Ok(proof) => proof,
        Err(e) => return Outcome::Ready(Err(e)),
    };
    let verification = layer
        .verifier
        .verify_request_bound(token, &layer.route, Some(&proof.jkt));
    let (accepted, record) = proof.into_parts();
    match verification {
        Verification::Ready(result) => {
            let claims = match checked(layer, result) {
                Ok(claims) => claims,
                Err(e) => return Outcome::Ready(Err(e)),
            };
            match dpop.record(&record) {
                Ok(None) => Outcome::Dpop(claims, accepted),
                // A replay store that asks the network: accepted once it
                // recorded the proof's `jti`.
                Ok(Some(recording)) => Outcome::DpopPending(
                    PendingVerification::new(async move {
                        dpop::replay_verdict(recording.await)?;
                        Ok(claims)
                    }),
                    accepted,
                ),
                Err(e) => Outcome::Ready(Err(e)),
            }
        }
        Verification::Pending(verifying) => {
            let verifier = layer.verifier.clone();
            let checks = Arc::clone(&layer.checks);
            Outcome::DpopPending(
                PendingVerification::new(async move {
                    let claims = verifying.await?;
                    run_checks(&checks, &claims)?;
                    let dpop = verifier
                        .dpop()
                        .ok_or_else(|| AuthError::new(AuthErrorKind::InvalidDpopProof))?;
                    if let Some(recording) = dpop.record(&record)? {
                        dpop::replay_verdict(recording.await)?;
                    }
                    Ok(claims)
                }),
                accepted,
            )
        }
    }
}

/// The request's token; `Ok(None)` when an optional route without
/// requirements lets it through without one.
fn token_of<'r, C, R>(
    layer: &JwtAuthLayer<C, R>,
    headers: &'r HeaderMap,
    uri: &'r Uri,
) -> Result<Option<Cow<'r, str>>, AuthError> {
    let max_len = layer.verifier.max_token_len();
    let dpop_required = dpop_mode(layer) == DpopMode::Required;
    match find_token(&layer.sources, headers, uri, max_len)? {
        // A bearer token (from any source) where DPoP is required.
        Some(_) if dpop_required => Err(AuthErrorKind::DpopRequired.into()),
        Some(token) => Ok(Some(token)),
        // A route with requirements needs a token even when optional:
        // anonymous must never get further than a signed-in caller. (An
        // optional route stays optional with DPoP required: what it
        // requires is that a token, when sent, be DPoP-bound.)
        None if layer.optional && !layer.route.has_requirements() && layer.checks.is_empty() => {
            Ok(None)
        }
        None => Err(AuthErrorKind::Missing.into()),
    }
}

fn authenticate<C: Send + Sync + 'static, R>(
    layer: &JwtAuthLayer<C, R>,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
) -> Outcome<C> {
    let mode = dpop_mode(layer);
    if mode != DpopMode::Off {
        // The DPoP scheme comes only in `Authorization` (RFC 9449 §7.1).
        if let Ok(Credentials::Dpop(token)) = bearer_token(headers, layer.verifier.max_token_len())
        {
            return authenticate_dpop(layer, method, uri, headers, token);
        }
    }
    let token = match token_of(layer, headers, uri) {
        Ok(Some(token)) => token,
        Ok(None) => return Outcome::Ready(Ok(None)),
        Err(e) => return Outcome::Ready(Err(e)),
    };
    match layer.verifier.verify_request(&token, &layer.route) {
        Verification::Ready(result) => Outcome::Ready(checked(layer, result).map(Some)),
        Verification::Pending(p) => Outcome::Pending(p),
    }
}

/// [`authenticate`] without waiting, for the (synchronous) tonic
/// interceptor: a token whose `kid` is not yet in a remote key set is
/// refused now, and the refetch it starts serves the next call.
#[cfg(feature = "tonic")]
pub(crate) fn authenticate_now<C: Send + Sync + 'static, R>(
    layer: &JwtAuthLayer<C, R>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Option<Claims<C>>, AuthError> {
    match token_of(layer, headers, uri)? {
        None => Ok(None),
        Some(token) => checked(layer, layer.verifier.verify_for(&token, &layer.route)).map(Some),
    }
}
