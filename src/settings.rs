//! Where a gate's settings live: the authenticator's, made once by
//! `build()` and shared by reference by every gate and layer made from it
//! ([`Shared`]), and one route's own ([`Route`]). A layer's `require_*`
//! methods replace its route part and nothing else: building a layer
//! changes nothing another layer, the authenticator or its resource
//! metadata sees.

use std::fmt;
use std::sync::Arc;

use crate::dpop::Dpop;
use crate::resource::ResourceConfig;
use crate::route_rules::{Check, RouteRules};
use crate::token::TokenSource;
use crate::verifier::Verifier;

/// An authenticator's settings, the same for each of its routes: its
/// verifier, where tokens are looked for, the challenges' realm, DPoP and
/// the protected resource. Made once per authenticator (by `build()`,
/// [`Authenticator::by_issuer`](crate::Authenticator::by_issuer) or
/// [`Authenticator::with_token_sources`](crate::Authenticator::with_token_sources))
/// and never changed: gates hold it in an `Arc`.
pub(crate) struct Shared<C> {
    pub(crate) verifier: Verifier<C>,
    /// The verifier's bound on a token's size, read once.
    pub(crate) max_token_len: usize,
    pub(crate) sources: Box<[TokenSource]>,
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) dpop: Option<Arc<Dpop>>,
    pub(crate) resource: Option<Arc<ResourceConfig>>,
}

impl<C> Shared<C> {
    /// The settings of an authenticator around `verifier`.
    pub(crate) fn new(
        verifier: Verifier<C>,
        sources: Box<[TokenSource]>,
        realm: Option<Arc<str>>,
        dpop: Option<Arc<Dpop>>,
        resource: Option<Arc<ResourceConfig>>,
    ) -> Self {
        Self {
            max_token_len: verifier.max_token_len(),
            verifier,
            sources,
            realm,
            dpop,
            resource,
        }
    }

    /// The same settings around another verifier (whose size bound is
    /// read again).
    pub(crate) fn with_verifier(&self, verifier: Verifier<C>) -> Self {
        Self::new(
            verifier,
            self.sources.clone(),
            self.realm.clone(),
            self.dpop.clone(),
            self.resource.clone(),
        )
    }
}

impl<C> fmt::Debug for Shared<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("verifier", &self.verifier)
            .field("sources", &self.sources)
            .field("realm", &self.realm)
            .field("dpop", &self.dpop)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// One route's own settings: its rules (scopes, roles, audience, step-up,
/// its DPoP mode, request rules), its checks on the typed claims, its token
/// sources when not the authenticator's, whether a token is optional, and
/// whether CORS preflights go through.
pub(crate) struct Route<C> {
    pub(crate) rules: RouteRules,
    pub(crate) checks: Vec<Check<C>>,
    /// Replaces the authenticator's sources on this route.
    pub(crate) sources: Option<Box<[TokenSource]>>,
    pub(crate) optional: bool,
    /// The claims forwarded as headers ([`crate::JwtAuthLayer::forward_claims`]).
    pub(crate) forward: Option<Arc<crate::forward::headers::Forwarding<C>>>,
    /// CORS preflights (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`) go through without a token.
    pub(crate) cors_preflight: bool,
}

impl<C> Route<C> {
    /// A route with no rules of its own.
    pub(crate) fn new(optional: bool) -> Self {
        Self {
            rules: RouteRules::default(),
            checks: Vec::new(),
            sources: None,
            optional,
            forward: None,
            cors_preflight: false,
        }
    }
}

impl<C> Clone for Route<C> {
    fn clone(&self) -> Self {
        Self {
            rules: self.rules.clone(),
            checks: self.checks.clone(),
            sources: self.sources.clone(),
            optional: self.optional,
            forward: self.forward.clone(),
            cors_preflight: self.cors_preflight,
        }
    }
}

impl<C> fmt::Debug for Route<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("rules", &self.rules)
            .field("checks", &self.checks.len())
            .field("sources", &self.sources)
            .field("optional", &self.optional)
            .field("forward", &self.forward)
            .field("cors_preflight", &self.cors_preflight)
            .finish()
    }
}
