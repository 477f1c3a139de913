//! The tower middleware: [`JwtAuthLayer`], [`JwtAuth`] and the response future.

pub(crate) mod future;

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::Claims;
use crate::dpop::DpopMode;
use crate::gate::{Decision, Gate};
use crate::resource::ResourceMetadata;
use crate::response::{DefaultErrorResponse, ErrorResponder, Rejection, RequestHead};
use crate::route_rules::{Check, Denied, RequestRule, RoleClaim, RouteRules};
use crate::token::TokenSource;

use self::future::ResponseFuture;

/// Applies [`JwtAuth`] to a service, with one route's rules.
///
/// Made by [`Authenticator::layer`](crate::Authenticator::layer) or
/// [`Authenticator::optional`](crate::Authenticator::optional); the
/// `require_*` methods add the route's rules.
///
/// A request with a valid token goes to the inner service with
/// [`Claims<C>`](crate::Claims) in its extensions. Any other request gets an
/// RFC 6750 response and never reaches the inner service. Rejections are
/// responses, not errors, so `JwtAuth<S>` has the inner service's error type.
///
/// Rules may depend on the request: on one route, GET needing `read` and
/// POST `write` is `.require_scope_for([Method::GET], "read")
/// .require_scope_for([Method::POST], "write")` (see
/// [`require_scope_for`](Self::require_scope_for)). Browsers: see
/// [`allow_cors_preflight`](Self::allow_cors_preflight).
///
/// ```
/// use http::{Request, Response, StatusCode};
/// use tower::{Service, ServiceBuilder, ServiceExt};
/// use tower_jwt_auth::{Authenticator, Claims};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
/// let mut svc = ServiceBuilder::new()
///     .layer(auth.layer())
///     .service_fn(|req: Request<String>| async move {
///         let claims = req.extensions().get::<Claims>().cloned();
///         Ok::<_, std::convert::Infallible>(Response::new(format!("{:?}", claims.is_some())))
///     });
/// let res = svc.ready().await?.call(Request::new(String::new())).await?;
/// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(res.headers()["www-authenticate"], "Bearer");
/// # Ok(()) }
/// ```
pub struct JwtAuthLayer<C = serde_json::Value, R = DefaultErrorResponse> {
    gate: Gate<C>,
    responder: Responder<R>,
}

impl<C, R: Clone> Clone for JwtAuthLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            gate: self.gate.clone(),
            responder: self.responder.clone(),
        }
    }
}

impl<C, R> fmt::Debug for JwtAuthLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("gate", &self.gate)
            .field("responder", &std::any::type_name::<R>())
            .finish()
    }
}

impl<C> JwtAuthLayer<C> {
    pub(crate) fn new(gate: Gate<C>) -> Self {
        Self {
            gate,
            responder: Responder::completing(DefaultErrorResponse),
        }
    }
}

impl<C, R> JwtAuthLayer<C, R> {
    /// This route's request decision, for a framework other than tower
    /// ([`Gate::decide`]) or a tonic interceptor.
    #[must_use]
    pub fn into_gate(self) -> Gate<C> {
        self.gate
    }

    /// Also requires `scope` (in the `scope` claim, or `scp` when enabled);
    /// a valid token without it gets 403 `insufficient_scope`.
    ///
    /// Several calls
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
    /// see [`RoleClaim`] for Keycloak, groups, custom paths).
    ///
    /// Several calls
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

    /// Also requires `scope` of requests with one of `methods` (GET also matches HEAD).
    ///
    /// Shorthand for
    /// [`require_when`](Self::require_when)`(RequestRule::methods(methods).require_scope(scope))`:
    /// one route, one layer, a scope per method. A request of another
    /// method (one no rule names, unknown ones included) gets the route's
    /// own rules only.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use http::Method;
    /// use tower_jwt_auth::Authenticator;
    ///
    /// let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
    /// let items = get(|| async { "list" })
    ///     .post(|| async { "created" })
    ///     .delete(|| async { "deleted" })
    ///     .layer(
    ///         auth.layer()
    ///             .require_scope_for([Method::GET], "read")
    ///             .require_scope_for([Method::POST, Method::DELETE], "write"),
    ///     );
    /// let app: Router = Router::new().route("/items", items);
    /// # let _ = app;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn require_scope_for<I>(self, methods: I, scope: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = http::Method>,
    {
        self.require_when(RequestRule::methods(methods).require_scope(scope))
    }

    /// Adds a rule for the requests it matches (by method, path prefix, header): see [`RequestRule`].
    ///
    /// Checked in the security sequence with the route's own rules, on
    /// every request, a token from the verified-token cache included; every
    /// matching rule applies.
    #[must_use]
    pub fn require_when(self, rule: RequestRule) -> Self {
        self.with_route(|r| r.require_when(rule))
    }

    /// Lets CORS preflights through without a token, to the inner service (a CORS layer).
    ///
    /// Strictly an `OPTIONS` request with both `Origin` and
    /// `Access-Control-Request-Method` (what a browser sends before a
    /// cross-origin request, never with credentials) goes through, with no
    /// claims; every other request, other `OPTIONS` requests included, is
    /// checked as before. Off by default (a preflight gets 401). The inner
    /// service must answer preflights itself (tower-http's `CorsLayer`
    /// does, without calling what it wraps) and run no handler of its own
    /// for them. Not needed when the CORS layer wraps this one, the order
    /// the README recommends.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower::ServiceBuilder;
    /// use tower_http::cors::CorsLayer;
    /// use tower_jwt_auth::Authenticator;
    ///
    /// let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
    /// // The auth layer outside the CORS layer: preflights must pass it.
    /// let api = get(|| async { "hi" }).layer(
    ///     ServiceBuilder::new()
    ///         .layer(auth.layer().allow_cors_preflight())
    ///         .layer(CorsLayer::permissive()),
    /// );
    /// let app: Router = Router::new().route("/api", api);
    /// # let _ = app;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn allow_cors_preflight(mut self) -> Self {
        self.gate.route_mut().cors_preflight = true;
        self
    }

    /// Adds a check of your own, run on the verified, typed claims after the
    /// scopes and roles; `Err(Denied)` answers 403 `insufficient_scope`
    /// (gRPC `PERMISSION_DENIED`).
    ///
    /// Several checks must all pass.
    ///
    /// ```
    /// use tower_jwt_auth::{Authenticator, Claims, rules::Denied};
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
        let check: Check<C> = Arc::new(check);
        self.gate.route_mut().checks.push(check);
        self
    }

    /// Looks for the token in these places, in this order, on this route
    /// (replacing the authenticator's sources; see [`TokenSource`]).
    #[must_use]
    pub fn token_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.gate.route_mut().sources = Some(sources.into_iter().collect());
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

    /// Step-up (RFC 9470): also requires the token's `acr` to be one of
    /// `acr` (RFC 9470); a token without it gets 401
    /// `insufficient_user_authentication` with `acr_values`, never 403.
    #[must_use]
    pub fn require_acr<I, S>(self, acr: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_route(|r| r.require_acr(acr))
    }

    /// Step-up (RFC 9470): also requires the token's `auth_time` to be at
    /// most `age` old (RFC 9470); otherwise 401
    /// `insufficient_user_authentication` with `max_age`.
    #[must_use]
    pub fn max_auth_age(self, age: std::time::Duration) -> Self {
        self.with_route(|r| r.max_auth_age(age))
    }

    /// Sets this route's DPoP mode (RFC 9449), replacing the one given to
    /// [`AuthenticatorBuilder::dpop`](crate::AuthenticatorBuilder::dpop).
    ///
    /// Without DPoP settings on the authenticator, a route that allows or
    /// requires DPoP accepts no DPoP request (there is no URL to check
    /// proofs against), and a route that requires it rejects everything.
    #[must_use]
    pub fn dpop(self, mode: DpopMode) -> Self {
        self.with_route(|r| r.dpop(mode))
    }

    /// Changes this layer's route rules, and nothing any other layer,
    /// the authenticator or its resource metadata sees.
    fn with_route(mut self, f: impl FnOnce(RouteRules) -> RouteRules) -> Self {
        let rules = &mut self.gate.route_mut().rules;
        *rules = f(std::mem::take(rules));
        self
    }

    /// The scopes this layer's route requires (for the resource metadata).
    pub(crate) fn required_scopes(&self) -> impl Iterator<Item = &String> {
        self.gate.route().rules.scopes()
    }

    /// Replaces the rejection response, keeping the challenge headers.
    ///
    /// The responder is an [`ErrorResponder`], or a closure given the error
    /// and the [`RequestHead`] (method, headers, [`Challenge`]); annotate
    /// its parameters, `|e: &AuthError, head: &RequestHead<'_>|`.
    ///
    /// A 401 or 403 it returns without `WWW-Authenticate` gets the route's
    /// challenge (`resource_metadata` included), and a response without
    /// `DPoP-Nonce` the nonce when due; headers it sets stay as they are,
    /// and other statuses get no challenge (see [`ErrorResponder`]).
    ///
    /// ```
    /// use axum::{body::Body, routing::get, Router};
    /// use http::{header, HeaderValue, Response};
    /// use tower_jwt_auth::{response::RequestHead, AuthError, Authenticator};
    ///
    /// let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
    /// let json = |e: &AuthError, _: &RequestHead<'_>| {
    ///     let body = format!(r#"{{"error":"{}"}}"#, e.kind().description());
    ///     let mut res = Response::new(Body::from(body));
    ///     *res.status_mut() = e.status();
    ///     let json = HeaderValue::from_static("application/json");
    ///     res.headers_mut().insert(header::CONTENT_TYPE, json);
    ///     res
    /// };
    /// // 401s and 403s from `/me` carry the JSON body and `WWW-Authenticate`.
    /// let me = get(|| async { "hi" }).layer(auth.layer().on_error(json));
    /// let app: Router = Router::new().route("/me", me);
    /// # let _ = app;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    ///
    /// [`Challenge`]: crate::response::Challenge
    #[must_use]
    pub fn on_error<R2>(self, responder: R2) -> JwtAuthLayer<C, R2> {
        JwtAuthLayer {
            gate: self.gate,
            responder: Responder::completing(responder),
        }
    }

    /// Replaces the rejection response and sends it exactly as built.
    ///
    /// Unlike with [`on_error`](Self::on_error), the layer adds no
    /// `WWW-Authenticate` and no `DPoP-Nonce`. The responder then owns RFC 6750
    /// §3 (a 401 MUST carry `WWW-Authenticate`) and RFC 9449 §9 (the nonce
    /// of a `use_dpop_nonce`); the [`RequestHead`]'s `challenge` has both
    /// ([`Challenge::www_authenticate`], [`Challenge::dpop_nonce`]). Prefer
    /// [`on_error`](Self::on_error).
    ///
    /// [`Challenge::www_authenticate`]: crate::response::Challenge::www_authenticate
    /// [`Challenge::dpop_nonce`]: crate::response::Challenge::dpop_nonce
    #[must_use]
    pub fn on_error_raw<R2>(self, responder: R2) -> JwtAuthLayer<C, R2> {
        JwtAuthLayer {
            gate: self.gate,
            responder: Responder {
                inner: responder,
                complete: false,
            },
        }
    }
}

impl<R> JwtAuthLayer<serde_json::Value, R> {
    /// Forwards claims as headers to the inner service, for an in-process proxy in front of an upstream.
    ///
    /// On every accepted request the layer removes `Authorization`, `DPoP`,
    /// the route's header token sources
    /// ([`TokenSource::header`]) and every copy of the mapped headers the
    /// client sent, then sets the mapped headers from the verified claims
    /// (Envoy's `claim_to_headers`). A claim value that is not header-safe
    /// (see [`ClaimHeaders`](crate::forward::ClaimHeaders)) refuses the
    /// request with 403; the inner service never sees it. An anonymous
    /// request on an [`optional`](crate::Authenticator::optional) route gets
    /// the client's copies removed and nothing set. A token in a cookie or a
    /// query parameter stays where it is.
    ///
    /// The same mapping makes the 200 of a
    /// [`ForwardAuth`](crate::forward::ForwardAuth) service (through
    /// [`into_gate`](Self::into_gate)).
    ///
    /// ```
    /// use tower_jwt_auth::{forward::ClaimHeaders, Authenticator};
    ///
    /// let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
    /// let claims = ClaimHeaders::new().map("sub", "x-user")?.map("email", "x-user-email")?;
    /// let layer = auth.layer().forward_claims(claims);
    /// # let _ = layer;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn forward_claims(mut self, headers: crate::forward::ClaimHeaders) -> Self {
        let forwarding = crate::forward::headers::Forwarding {
            headers,
            read: crate::forward::ClaimHeaders::values,
        };
        self.gate.route_mut().forward = Some(Arc::new(forwarding));
        self
    }
}

impl ResourceMetadata {
    /// Adds the scopes `layer` requires to `scopes_supported`.
    ///
    /// Those of [`require_scope`](JwtAuthLayer::require_scope),
    /// [`require_all_scopes`](JwtAuthLayer::require_all_scopes),
    /// [`require_any_scope`](JwtAuthLayer::require_any_scope), and of its
    /// request rules ([`require_scope_for`](JwtAuthLayer::require_scope_for),
    /// [`require_when`](JwtAuthLayer::require_when)); pass each
    /// layer the application mounts. Building a layer registers nothing by
    /// itself; this is the one way a layer's scopes enter the metadata.
    ///
    /// ```
    /// use tower_jwt_auth::Authenticator;
    ///
    /// let auth = Authenticator::builder()
    ///     .hmac_secret("a secret of at least thirty-two bytes")
    ///     .resource("https://api.example/mcp")
    ///     .build()?;
    /// let tools = auth.layer().require_scope("tools");
    /// let admin = auth.layer().require_any_scope(["admin", "ops"]);
    /// let _unused = auth.layer().require_scope("never-mounted");
    /// let metadata = auth
    ///     .resource_metadata()
    ///     .expect("a resource is configured")
    ///     .with_scopes_of(&tools)
    ///     .with_scopes_of(&admin);
    /// assert_eq!(
    ///     metadata.document()["scopes_supported"],
    ///     serde_json::json!(["admin", "ops", "tools"])
    /// );
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_scopes_of<C, R>(mut self, layer: &JwtAuthLayer<C, R>) -> Self {
        self.add_scopes(layer.required_scopes());
        self
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
        match self
            .layer
            .gate
            .decide(req.method(), req.uri(), req.headers())
        {
            Decision::Accept(accepted) => {
                let nonce = accepted.dpop_nonce().cloned();
                accepted.forward_into(req.headers_mut());
                accepted.insert_into(req.extensions_mut());
                ResponseFuture::inner(self.inner.call(req), nonce)
            }
            Decision::Reject(rejection) => {
                ResponseFuture::reject(self.layer.responder.respond(&rejection, &req))
            }
            Decision::Pending(pending) => {
                // The service made ready by `poll_ready` goes with the
                // future; this one is replaced by a clone (tower-http's
                // async authorization does the same).
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::pending(pending, service, req, self.layer.responder.clone())
            }
        }
    }
}

/// A layer's responder, and whether the layer completes its answers
/// ([`JwtAuthLayer::on_error`]) or sends them as they are
/// ([`JwtAuthLayer::on_error_raw`]).
#[derive(Clone)]
pub(crate) struct Responder<R> {
    inner: R,
    complete: bool,
}

impl<R> Responder<R> {
    pub(crate) fn completing(inner: R) -> Self {
        Self {
            inner,
            complete: true,
        }
    }

    /// The responder's answer to a rejected request, completed unless raw.
    pub(crate) fn respond<B, ResBody>(
        &self,
        rejection: &Rejection,
        req: &Request<B>,
    ) -> Response<ResBody>
    where
        R: ErrorResponder<ResBody>,
    {
        let head = RequestHead {
            method: req.method(),
            headers: req.headers(),
            challenge: rejection.challenge(),
        };
        let mut response = self.inner.respond(rejection.error(), &head);
        if self.complete {
            rejection
                .challenge()
                .complete(rejection.error(), &mut response);
        }
        response
    }
}
