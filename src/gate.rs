//! The request decision, without tower: [`Gate`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{header, Extensions, HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::claims::{AuthMarker, Claims};
use crate::dpop::{self, DpopBound, DpopMode};
use crate::error::{AuthError, AuthErrorKind};
use crate::forward::headers::{Forwarded, Forwarding};
use crate::response::{Challenge, DpopChallenge, Rejection};
use crate::route_rules::Matched;
use crate::settings::{Route, Shared};
use crate::token::{find_credentials, Found};
use crate::verifier::Verdict;

/// One route's request decision, without tower.
///
/// It holds the authenticator's settings (its verifier, token sources,
/// realm, DPoP, resource), shared with every other route, and the route's
/// own (rules, checks, token sources, whether a token is optional). Made by
/// [`JwtAuthLayer::into_gate`](crate::JwtAuthLayer::into_gate) (or
/// [`Authenticator::gate`](crate::Authenticator::gate)); cheap to clone.
///
/// [`Gate::decide`] reads a request's method, URI and headers once and
/// answers [`Decision::Accept`], [`Decision::Reject`] or
/// [`Decision::Pending`]. The tower layer, its response future and the
/// tonic interceptor are thin adapters around it; so is your own
/// framework's middleware:
///
/// ```
/// use http::{HeaderMap, Method, Uri};
/// use tower_jwt_auth::{testing::TestIssuer, Decision};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TestIssuer::hs256();
/// let auth = issuer.authenticator().build()?;
/// let gate = auth.layer().require_scope("read").into_gate();
///
/// let mut headers = HeaderMap::new();
/// let token = issuer.token().claim("scope", "read").sign();
/// headers.insert("authorization", format!("Bearer {token}").parse()?);
/// let uri: Uri = "/items".parse()?;
/// let accepted = match gate.decide(&Method::GET, &uri, &headers) {
///     Decision::Accept(accepted) => accepted,
///     // Your framework's response: status, `WWW-Authenticate`, ...
///     Decision::Reject(rejection) => {
///         let response = rejection.to_response::<String>(&Method::GET, &headers);
///         return Err(format!("refused with {}", response.status()).into());
///     }
///     // A key refetch, a revocation list or a replay store over the
///     // network: await it (or see `Pending` for callers that cannot).
///     Decision::Pending(pending) => pending.await.map_err(|r| r.to_string())?,
/// };
/// assert_eq!(accepted.claims().map(|c| c["scope"].clone()), Some("read".into()));
/// # Ok(()) }
/// ```
///
/// The order, for every adapter: the credentials (token sources, the
/// `Bearer` or `DPoP` scheme) are parsed once; a DPoP request's proof is
/// checked first, then its token; the [`Verifier`](crate::Verifier) runs the security
/// sequence (claims, binding, route rules with the request rules this
/// request matched, revocation); then the route's
/// own checks on the typed claims; a DPoP proof's `jti` is recorded last.
pub struct Gate<C = serde_json::Value> {
    shared: Arc<Shared<C>>,
    route: Arc<Route<C>>,
}

impl<C> Clone for Gate<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            route: Arc::clone(&self.route),
        }
    }
}

impl<C> fmt::Debug for Gate<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("shared", &self.shared)
            .field("route", &self.route)
            .finish()
    }
}

/// What [`Gate::decide`] answers for a request.
#[derive(Debug)]
pub enum Decision<C = serde_json::Value> {
    /// Let the request through, with what [`Accepted`] holds.
    Accept(Accepted<C>),
    /// Refuse it: render the [`Rejection`] (RFC 6750 / RFC 9449 response,
    /// or a gRPC status).
    Reject(Rejection),
    /// Decided once the [`Pending`] future completes (a key refetch, a
    /// revocation list or a DPoP replay store asked over the network).
    Pending(Pending<C>),
}

/// An accepted request: its claims (none for an anonymous request on an
/// optional route), the DPoP binding, and a `DPoP-Nonce` for the response.
pub struct Accepted<C = serde_json::Value> {
    claims: Option<Claims<C>>,
    dpop: Option<DpopBound>,
    nonce: Option<HeaderValue>,
    /// The route's `Bearer` challenge, for the extractors' own 401.
    challenge: Challenge,
    /// On a route that forwards claims: the headers to remove and to set.
    forwarded: Option<Forwarded>,
}

impl<C> fmt::Debug for Accepted<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field(
                "claims",
                &self.claims.as_ref().map(|_| std::any::type_name::<C>()),
            )
            .field("dpop", &self.dpop)
            .finish_non_exhaustive()
    }
}

/// The proof half of an accepted DPoP request.
pub(crate) struct Proof {
    bound: DpopBound,
    next_nonce: Option<HeaderValue>,
}

impl<C: Send + Sync + 'static> Accepted<C> {
    pub(crate) fn new(
        claims: Option<Claims<C>>,
        proof: Option<Proof>,
        challenge: Challenge,
    ) -> Self {
        let (dpop, nonce) = match proof {
            Some(p) => (Some(p.bound), p.next_nonce),
            None => (None, None),
        };
        Self {
            claims,
            dpop,
            nonce,
            challenge,
            forwarded: None,
        }
    }

    /// The verified claims; `None` for an anonymous request on an optional
    /// route.
    #[must_use]
    pub fn claims(&self) -> Option<&Claims<C>> {
        self.claims.as_ref()
    }

    /// The proof key a DPoP request was bound to.
    #[must_use]
    pub fn dpop_bound(&self) -> Option<&DpopBound> {
        self.dpop.as_ref()
    }

    /// A fresh server nonce to send in the response's `DPoP-Nonce` header
    /// (RFC 9449 §8.2), when the proof's is getting old.
    #[must_use]
    pub fn dpop_nonce(&self) -> Option<&HeaderValue> {
        self.nonce.as_ref()
    }

    /// Puts what handlers read into a request's extensions: the
    /// [`Claims`], the [`DpopBound`], and the marker the axum extractors
    /// check (so an optional route's handler can tell "no token" from "no
    /// layer").
    pub fn insert_into(self, extensions: &mut Extensions) {
        if let Some(claims) = self.claims {
            extensions.insert(claims);
        }
        if let Some(bound) = self.dpop {
            extensions.insert(bound);
        }
        extensions.insert(AuthMarker::of::<C>(self.challenge));
    }

    /// The headers this request's claims map to, for the upstream.
    ///
    /// Those of the route's [`ClaimHeaders`](crate::forward::ClaimHeaders);
    /// none on a route without
    /// [`forward_claims`](crate::JwtAuthLayer::forward_claims), or for an
    /// anonymous request.
    pub fn forwarded_headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        let set = self.forwarded.as_ref().map(|f| f.set.as_slice());
        set.unwrap_or_default().iter().map(|(n, v)| (n, v))
    }

    /// Prepares the request for the upstream on a route that forwards claims.
    ///
    /// Removes `Authorization`, `DPoP`, the route's header token sources and
    /// every copy of the mapped headers, then sets the mapped ones
    /// ([`forwarded_headers`](Self::forwarded_headers)). Does nothing on a
    /// route without [`forward_claims`](crate::JwtAuthLayer::forward_claims).
    /// A token in a cookie or a query parameter stays where it is.
    pub fn forward_into(&self, headers: &mut HeaderMap) {
        if let Some(forwarded) = &self.forwarded {
            forwarded.apply(headers);
        }
    }

    /// The claims, dropping the rest.
    #[must_use]
    pub fn into_claims(self) -> Option<Claims<C>> {
        self.claims
    }
}

type Waiting<C> = Pin<Box<dyn Future<Output = Result<Accepted<C>, Rejection>> + Send + 'static>>;

/// A decision that waits on I/O: await it for the [`Accepted`] request or
/// its [`Rejection`].
pub struct Pending<C = serde_json::Value> {
    wait: Waiting<C>,
    /// The answer for a caller that cannot wait, with its challenge.
    unless_waited: (AuthError, Challenge),
}

impl<C> fmt::Debug for Pending<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl<C> Future for Pending<C> {
    type Output = Result<Accepted<C>, Rejection>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let decided = ready!(self.wait.as_mut().poll(cx));
        record(&decided);
        Poll::Ready(decided)
    }
}

/// Counts an answered request (feature `metrics`) and logs a rejection
/// (feature `tracing`): once per request, where the answer is given.
fn record<C>(decided: &Result<Accepted<C>, Rejection>) {
    match decided {
        Ok(accepted) => crate::observe::accepted(accepted.claims.is_some()),
        Err(rejection) => rejection.record(),
    }
}

impl<C> Pending<C> {
    /// The answer for a caller that cannot wait and drops the wait: 503
    /// while a revocation list or a replay store has no answer at hand, 401
    /// for a `kid` that a remote key source does not know yet.
    ///
    /// Fails
    /// closed: never an accept.
    #[must_use]
    pub fn into_rejection(self) -> Rejection {
        let (error, challenge) = self.unless_waited;
        let rejection = Rejection::new(error, challenge);
        rejection.record();
        rejection
    }
}

impl<C: Send + 'static> Pending<C> {
    /// A pending decision from a future (for the layer's tests).
    #[cfg(test)]
    pub(crate) fn from_future(
        wait: impl Future<Output = Result<Accepted<C>, Rejection>> + Send + 'static,
    ) -> Self {
        Self {
            wait: Box::pin(wait),
            unless_waited: (
                AuthErrorKind::KeySourceUnavailable.into(),
                Challenge::default(),
            ),
        }
    }

    /// For a caller that cannot wait (a synchronous tonic interceptor):
    /// the wait goes on in the background, on the current tokio runtime,
    /// so that what it fetches (a key set, a revocation answer kept in the
    /// list's local cache) serves the next request; this request gets the
    /// rejection a caller that cannot wait gets (503 while a revocation
    /// list has no answer at hand, 401 for a `kid` not yet known).
    #[cfg(feature = "tonic")]
    pub(crate) fn detach(mut self) -> Rejection {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // The wait alone: its answer serves no request, so it is not
            // recorded.
            let wait = self.wait;
            runtime.spawn(async move {
                let _ = wait.await;
            });
            self.wait = Box::pin(std::future::pending());
        }
        self.into_rejection()
    }
}

impl<C> Gate<C> {
    /// A route of the authenticator of `shared` with no rules of its own.
    pub(crate) fn new(shared: Arc<Shared<C>>, optional: bool) -> Self {
        Self {
            shared,
            route: Arc::new(Route::new(optional)),
        }
    }

    /// The route's own settings.
    pub(crate) fn route(&self) -> &Route<C> {
        &self.route
    }

    /// The route's own settings, to change (a copy if another gate holds
    /// them): the authenticator's stay as they are.
    pub(crate) fn route_mut(&mut self) -> &mut Route<C> {
        Arc::make_mut(&mut self.route)
    }

    /// This route's DPoP mode: its own, else the authenticator's.
    fn dpop_mode(&self) -> DpopMode {
        let route = self.route.rules.dpop;
        self.shared
            .dpop
            .as_ref()
            .map_or(route.unwrap_or_default(), |d| d.mode(route))
    }

    /// How a client may ask again on this route; `used_dpop`: the request
    /// used the `DPoP` scheme.
    fn challenge(&self, used_dpop: bool) -> Challenge {
        let mode = self.dpop_mode();
        let dpop = match (&self.shared.dpop, mode) {
            (Some(d), DpopMode::Allowed | DpopMode::Required) => Some(DpopChallenge {
                required: mode == DpopMode::Required,
                used_dpop,
                algorithms: d.algorithms(),
                nonce: d.current_nonce(),
            }),
            _ => None,
        };
        Challenge::new(self.shared.realm.clone(), dpop, self.resource_metadata())
    }

    /// The metadata URL the challenges name (RFC 9728 §5.1).
    fn resource_metadata(&self) -> Option<Arc<str>> {
        let resource = self.shared.resource.as_ref();
        resource.map(|r| Arc::clone(r.metadata_url()))
    }

    /// The route's `Bearer` challenge without DPoP (for the extractors).
    fn plain_challenge(&self) -> Challenge {
        Challenge::new(self.shared.realm.clone(), None, self.resource_metadata())
    }

    fn reject(&self, error: AuthError, used_dpop: bool) -> Rejection {
        Rejection::new(error, self.challenge(used_dpop))
    }

    /// Whether a request without a token goes through: an optional route
    /// that asks nothing more of a token than being valid, and no request
    /// rule that matched (anonymous must never get further than a
    /// signed-in caller).
    fn lets_anonymous_through(&self, matched: &Matched) -> bool {
        let route = &*self.route;
        route.optional
            && !route.rules.has_requirements()
            && route.checks.is_empty()
            && matched.is_empty()
    }

    /// Whether the request is a CORS preflight that the route lets through:
    /// strictly `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
    fn lets_preflight_through(&self, method: &Method, headers: &HeaderMap) -> bool {
        self.route.cors_preflight
            && method == Method::OPTIONS
            && headers.contains_key(header::ORIGIN)
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }
}

impl<C: Send + Sync + 'static> Gate<C> {
    /// Decides one request from its method, URI and headers.
    ///
    /// The credentials are parsed once; no other part of the request is
    /// read but what the route's request rules (method, path, headers) and
    /// its CORS preflight opt-in look at, and nothing is sent anywhere but
    /// a remote key source, a revocation list or a replay store that the
    /// authenticator was configured with.
    pub fn decide(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Decision<C> {
        self.decide_at(method, Some(uri), headers)
    }

    /// [`decide`](Self::decide), recorded when answered now (a pending
    /// decision is recorded when it completes).
    pub(crate) fn decide_at(
        &self,
        method: &Method,
        uri: Option<&Uri>,
        headers: &HeaderMap,
    ) -> Decision<C> {
        let decision = self.decide_unrecorded(method, uri, headers);
        match &decision {
            Decision::Accept(accepted) => crate::observe::accepted(accepted.claims.is_some()),
            Decision::Reject(rejection) => rejection.record(),
            Decision::Pending(_) => {}
        }
        decision
    }

    /// [`decide`](Self::decide) for a request whose URI may not be known
    /// (`None`: a tonic interceptor is given none; query sources then find
    /// nothing, and a DPoP proof's `htu` may name any path under the public
    /// URL).
    fn decide_unrecorded(
        &self,
        method: &Method,
        uri: Option<&Uri>,
        headers: &HeaderMap,
    ) -> Decision<C> {
        let decision = self.decide_credentials(method, uri, headers);
        let Some(forwarding) = self.route.forward.clone() else {
            return decision;
        };
        match decision {
            Decision::Accept(mut accepted) => match self.forwarded(&mut accepted, &forwarding) {
                Ok(()) => Decision::Accept(accepted),
                Err(e) => Decision::Reject(self.reject(e, accepted.dpop.is_some())),
            },
            Decision::Reject(rejection) => Decision::Reject(rejection),
            Decision::Pending(pending) => {
                let gate = self.clone();
                let wait = pending.wait;
                Decision::Pending(Pending {
                    wait: Box::pin(async move {
                        let mut accepted = wait.await?;
                        match gate.forwarded(&mut accepted, &forwarding) {
                            Ok(()) => Ok(accepted),
                            Err(e) => Err(gate.reject(e, accepted.dpop.is_some())),
                        }
                    }),
                    unless_waited: pending.unless_waited,
                })
            }
        }
    }

    /// Sets what an accepted request on a route that forwards claims hands
    /// the upstream: the headers its claims map to, the ones to remove.
    ///
    /// # Errors
    /// A claim value that is not header-safe.
    fn forwarded(
        &self,
        accepted: &mut Accepted<C>,
        forwarding: &Forwarding<C>,
    ) -> Result<(), AuthError> {
        let set = match &accepted.claims {
            Some(claims) => (forwarding.read)(&forwarding.headers, claims)?,
            None => Vec::new(),
        };
        let sources = self.route.sources.as_deref();
        let token_headers = sources
            .unwrap_or(&self.shared.sources)
            .iter()
            .filter_map(|s| s.header_name().cloned());
        let strip = [http::header::AUTHORIZATION, HeaderName::from_static("dpop")]
            .into_iter()
            .chain(token_headers)
            .chain(forwarding.headers.headers().cloned())
            .collect();
        accepted.forwarded = Some(Forwarded { strip, set });
        Ok(())
    }

    /// The decision on the request's credentials, before any forwarding.
    fn decide_credentials(
        &self,
        method: &Method,
        uri: Option<&Uri>,
        headers: &HeaderMap,
    ) -> Decision<C> {
        if self.lets_preflight_through(method, headers) {
            // No token, no claims: the inner service (a CORS layer)
            // answers it.
            return Decision::Accept(Accepted::new(None, None, self.plain_challenge()));
        }
        // Which request rules apply: nothing is allocated without any.
        let matched = self.route.rules.matching(method, uri, headers);
        let root = Uri::from_static("/");
        let mode = self.dpop_mode();
        let max_len = self.shared.max_token_len;
        let dpop_on = mode != DpopMode::Off;
        let sources = self.route.sources.as_deref();
        let found = match find_credentials(
            sources.unwrap_or(&self.shared.sources),
            headers,
            uri.unwrap_or(&root),
            max_len,
            dpop_on,
        ) {
            Ok(found) => found,
            Err(e) => return Decision::Reject(self.reject(e, false)),
        };
        match found {
            Found::Dpop(token) => self.decide_dpop(method, uri, headers, token, &matched),
            // A bearer token (from any source) where DPoP is required.
            Found::Bearer(_) if mode == DpopMode::Required => {
                Decision::Reject(self.reject(AuthErrorKind::DpopRequired.into(), false))
            }
            Found::Bearer(token) => self.decide_bearer(token, &matched),
            // (An optional route stays optional with DPoP required: what it
            // requires is that a token, when sent, be DPoP-bound.)
            Found::None if self.lets_anonymous_through(&matched) => {
                Decision::Accept(Accepted::new(None, None, self.plain_challenge()))
            }
            Found::None => Decision::Reject(self.reject(AuthErrorKind::Missing.into(), false)),
        }
    }

    /// The route's own checks on the typed claims.
    fn checked(&self, claims: Claims<C>) -> Result<Claims<C>, AuthError> {
        crate::route_rules::run_checks(&self.route.checks, &claims)?;
        Ok(claims)
    }

    fn decide_bearer(&self, token: Cow<'_, str>, matched: &Matched) -> Decision<C> {
        let rules = &self.route.rules;
        let verdict = self.shared.verifier.check(&token, rules, matched, None);
        match verdict {
            Verdict::Ready(result) => match result.and_then(|c| self.checked(c)) {
                Ok(claims) => {
                    Decision::Accept(Accepted::new(Some(claims), None, self.plain_challenge()))
                }
                Err(e) => Decision::Reject(self.reject(e, false)),
            },
            Verdict::Pending {
                wait,
                unless_waited,
            } => {
                let gate = self.clone();
                self.pending(false, unless_waited, async move {
                    let claims = wait.await.and_then(|c| gate.checked(c));
                    match claims {
                        Ok(claims) => Ok(Accepted::new(Some(claims), None, gate.plain_challenge())),
                        Err(e) => Err(gate.reject(e, false)),
                    }
                })
            }
        }
    }

    /// A request with `Authorization: DPoP`: the proof, then the token
    /// bound to the proof's key, then the route's checks; the proof's `jti`
    /// is recorded last. A token whose verification waits on I/O is waited
    /// for as a bearer token is, and the checks and the recording follow it
    /// in the same order.
    fn decide_dpop(
        &self,
        method: &Method,
        uri: Option<&Uri>,
        headers: &HeaderMap,
        token: &str,
        matched: &Matched,
    ) -> Decision<C> {
        let Some(dpop) = &self.shared.dpop else {
            return Decision::Reject(self.reject(AuthErrorKind::InvalidDpopProof.into(), true));
        };
        let proof = match dpop.check_proof(method, uri, headers, token) {
            Ok(proof) => proof,
            Err(e) => return Decision::Reject(self.reject(e, true)),
        };
        let (proven, record) = proof.into_parts();
        let jkt = Some(proven.bound.thumbprint());
        let rules = &self.route.rules;
        let verdict = self.shared.verifier.check(token, rules, matched, jkt);
        let proof = Proof {
            bound: proven.bound,
            next_nonce: proven.next_nonce,
        };
        match verdict {
            Verdict::Ready(result) => {
                let claims = match result.and_then(|c| self.checked(c)) {
                    Ok(claims) => claims,
                    Err(e) => return Decision::Reject(self.reject(e, true)),
                };
                match dpop.record(&record) {
                    Ok(None) => Decision::Accept(Accepted::new(
                        Some(claims),
                        Some(proof),
                        self.plain_challenge(),
                    )),
                    // A replay store that asks the network: accepted once it
                    // recorded the proof's `jti`.
                    Ok(Some(recording)) => {
                        let gate = self.clone();
                        let unless = AuthErrorKind::DpopStoreUnavailable.into();
                        self.pending(true, unless, async move {
                            match dpop::replay_verdict(recording.await) {
                                Ok(()) => Ok(Accepted::new(
                                    Some(claims),
                                    Some(proof),
                                    gate.plain_challenge(),
                                )),
                                Err(e) => Err(gate.reject(e, true)),
                            }
                        })
                    }
                    Err(e) => Decision::Reject(self.reject(e, true)),
                }
            }
            Verdict::Pending {
                wait,
                unless_waited,
            } => {
                let gate = self.clone();
                let dpop = Arc::clone(dpop);
                self.pending(true, unless_waited, async move {
                    let accepted = async {
                        let claims = gate.checked(wait.await?)?;
                        if let Some(recording) = dpop.record(&record)? {
                            dpop::replay_verdict(recording.await)?;
                        }
                        Ok::<_, AuthError>(claims)
                    };
                    match accepted.await {
                        Ok(claims) => Ok(Accepted::new(
                            Some(claims),
                            Some(proof),
                            gate.plain_challenge(),
                        )),
                        Err(e) => Err(gate.reject(e, true)),
                    }
                })
            }
        }
    }

    fn pending(
        &self,
        used_dpop: bool,
        unless_waited: AuthError,
        wait: impl Future<Output = Result<Accepted<C>, Rejection>> + Send + 'static,
    ) -> Decision<C> {
        Decision::Pending(Pending {
            wait: Box::pin(wait),
            unless_waited: (unless_waited, self.challenge(used_dpop)),
        })
    }
}
