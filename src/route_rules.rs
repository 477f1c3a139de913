//! Route rules: what a verified token must also grant on one route.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use serde_json::{Map, Value};

use crate::claims::Claims;
use crate::dpop::DpopMode;
use crate::error::{AuthError, AuthErrorKind};

/// Where a token's roles are: a path of member names from the top of the
/// claims object to an array of strings (or a single string).
///
/// Names are taken as they are, never split on `.`, so a claim named
/// `https://example.com/roles` (Auth0 namespaced claims) works.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleClaim(Arc<[String]>);

impl RoleClaim {
    /// A top-level claim, e.g. `"roles"` or `"https://example.com/roles"`.
    #[must_use]
    pub fn claim(name: impl Into<String>) -> Self {
        Self(Arc::from([name.into()]))
    }

    /// A nested claim, e.g. `["resource_access", "api", "roles"]`.
    #[must_use]
    pub fn path<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(segments.into_iter().map(Into::into).collect())
    }

    /// `roles`: Microsoft Entra ID app roles, and the common default.
    #[must_use]
    pub fn roles() -> Self {
        Self::claim("roles")
    }

    /// `groups`: Okta, Amazon Cognito (`cognito:groups` is
    /// `RoleClaim::claim("cognito:groups")`), Entra ID group ids.
    #[must_use]
    pub fn groups() -> Self {
        Self::claim("groups")
    }

    /// Keycloak realm roles: `realm_access.roles`.
    #[must_use]
    pub fn keycloak_realm() -> Self {
        Self::path(["realm_access", "roles"])
    }

    /// Keycloak client roles: `resource_access.<client>.roles`.
    #[must_use]
    pub fn keycloak_client(client: impl Into<String>) -> Self {
        Self::path([
            "resource_access".to_owned(),
            client.into(),
            "roles".to_owned(),
        ])
    }

    /// Whether the token's roles at this path include `role`. Missing
    /// members, `null`s and values of another type grant nothing.
    pub(crate) fn grants(&self, claims: &Map<String, Value>, role: &str) -> bool {
        let mut segments = self.0.iter();
        let Some(first) = segments.next() else {
            return false;
        };
        let mut value = claims.get(first);
        for segment in segments {
            value = value.and_then(|v| v.get(segment));
        }
        match value {
            Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(role)),
            Some(Value::String(s)) => s == role,
            _ => false,
        }
    }
}

impl Default for RoleClaim {
    fn default() -> Self {
        Self::roles()
    }
}

/// Where an authenticator reads a token's grants: the role claim of
/// [`JwtAuthLayer::require_role`](crate::JwtAuthLayer::require_role), and whether `scp` counts besides `scope`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Grants {
    pub(crate) role_claim: RoleClaim,
    pub(crate) scp: bool,
}

impl Grants {
    /// Whether the token grants `required`: the space-separated `scope`
    /// claim (RFC 9068 §2.2.3, RFC 8693 §4.2) and, only when enabled, the
    /// `scp` claim as an array or a space-separated string. An empty scope
    /// is never granted.
    pub(crate) fn has_scope(&self, claims: &Map<String, Value>, required: &str) -> bool {
        if required.is_empty() {
            return false;
        }
        let in_str = |v: &Value| {
            v.as_str()
                .is_some_and(|s| s.split(' ').any(|scope| scope == required))
        };
        claims.get("scope").is_some_and(in_str)
            || (self.scp
                && claims.get("scp").is_some_and(|v| match v {
                    Value::Array(items) => items.iter().any(|i| i.as_str() == Some(required)),
                    other => in_str(other),
                }))
    }
}

/// A route rule's refusal: the request gets 403 `insufficient_scope`.
///
/// The reason is for logs (`tracing` feature), never sent to the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denied {
    reason: Option<&'static str>,
}

impl Denied {
    /// A refusal without a reason.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A refusal with a reason for the logs (never sent to the client).
    #[must_use]
    pub fn because(reason: &'static str) -> Self {
        Self {
            reason: Some(reason),
        }
    }

    /// The reason given, if any.
    #[must_use]
    pub fn reason(&self) -> Option<&'static str> {
        self.reason
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Some(reason) => write!(f, "denied by a route rule: {reason}"),
            None => f.write_str("denied by a route rule"),
        }
    }
}

impl std::error::Error for Denied {}

/// A route's own check on the typed claims.
pub(crate) type Check<C> = Arc<dyn Fn(&Claims<C>) -> Result<(), Denied> + Send + Sync>;

#[derive(Debug, Clone)]
struct RoleRule {
    /// `None`: the authenticator's role claim.
    claim: Option<RoleClaim>,
    any_of: Vec<String>,
}

/// Route rules: what a verified token must also grant on one route.
///
/// These run after the token is verified (signature, time, issuer,
/// audience), on its claims, and every failure is a 403
/// `insufficient_scope` (gRPC `PERMISSION_DENIED`):
/// - scopes, from the space-separated `scope` claim (RFC 9068 §2.2.3) and,
///   when enabled, `scp`: all of a list ([`JwtAuthLayer::require_scope`](crate::JwtAuthLayer::require_scope)) or
///   any of one ([`JwtAuthLayer::require_any_scope`](crate::JwtAuthLayer::require_any_scope));
/// - roles, from wherever the identity provider puts them ([`RoleClaim`]):
///   `roles` (Entra ID, Auth0 custom claims), `groups` (Okta, Cognito),
///   Keycloak's `realm_access.roles` and `resource_access.<client>.roles`,
///   or any claim path;
/// - step-up (RFC 9470): the `acr` of the authentication event, one of a
///   set ([`JwtAuthLayer::require_acr`](crate::JwtAuthLayer::require_acr)), and its age from `auth_time`
///   ([`JwtAuthLayer::max_auth_age`](crate::JwtAuthLayer::max_auth_age)); failing these is a 401
///   `insufficient_user_authentication` naming `acr_values` and `max_age`
///   (gRPC `UNAUTHENTICATED`), never a 403: the user can fix it by signing
///   in again;
/// - a check of your own on the typed claims (`Fn(&Claims<C>) -> Result<(),
///   Denied>`), on the layer: [`JwtAuthLayer::require`](crate::JwtAuthLayer::require).
///
/// ```
/// use tower_jwt_auth::{Authenticator, rules::RoleClaim};
///
/// let auth = Authenticator::builder()
///     .hmac_secret("a secret of at least thirty-two bytes")
///     .role_claim(RoleClaim::keycloak_realm())      // where roles live
///     .build()?;
/// let read = auth.layer().require_any_scope(["read", "admin"]);
/// let write = auth.layer().require_scope("read").require_scope("write");
/// let ops = auth.layer().require_any_role(["ops", "admin"]);
/// let billing = auth
///     .layer()
///     .require_role_in(RoleClaim::keycloak_client("billing"), "manager");
/// # let _ = (read, write, ops, billing);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
///
/// Route-specific rules layered on an authenticator's rules: scopes, roles,
/// and an audience that replaces the authenticator's. Usually set through
/// [`JwtAuthLayer`](crate::JwtAuthLayer)'s methods of the same names.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteRules {
    pub(crate) audiences: Option<HashSet<String>>,
    /// All of these groups, each satisfied by any one of its scopes.
    scopes: Vec<Vec<String>>,
    roles: Vec<RoleRule>,
    /// Step-up: the `acr` values accepted (any one).
    acr: Option<Vec<String>>,
    /// Step-up: the largest age of `auth_time`, in seconds.
    max_auth_age: Option<u64>,
    /// This route's DPoP mode, replacing the authenticator's.
    pub(crate) dpop: Option<DpopMode>,
    /// Rules that apply to some requests only (by method, path, header).
    requests: Vec<RequestRule>,
}

impl RouteRules {
    /// No extra rules.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Sets this route's DPoP mode (RFC 9449), replacing the
    /// authenticator's; see [`DpopConfig`](crate::dpop::DpopConfig).
    #[must_use]
    pub(crate) fn dpop(mut self, mode: DpopMode) -> Self {
        self.dpop = Some(mode);
        self
    }

    /// Requires `scope` in the token's `scope` (space-separated) or, when
    /// enabled, `scp` claim; several calls require all of them.
    #[must_use]
    pub(crate) fn require_scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(vec![scope.into()]);
        self
    }

    /// Requires every one of `scopes`.
    #[must_use]
    pub(crate) fn require_all_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes
            .extend(scopes.into_iter().map(|s| vec![s.into()]));
        self
    }

    /// Requires at least one of `scopes` (an empty list is never satisfied).
    #[must_use]
    pub(crate) fn require_any_scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes
            .push(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Requires `role` in the authenticator's role claim (default `roles`,
    /// see [`AuthenticatorBuilder::role_claim`](crate::AuthenticatorBuilder::role_claim));
    /// several calls require all of them.
    #[must_use]
    pub(crate) fn require_role(self, role: impl Into<String>) -> Self {
        self.require_any_role([role])
    }

    /// Requires at least one of `roles` in the authenticator's role claim
    /// (an empty list is never satisfied).
    #[must_use]
    pub(crate) fn require_any_role<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.push(RoleRule {
            claim: None,
            any_of: roles.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Requires `role` at `claim` (e.g. a Keycloak client's roles) rather
    /// than in the authenticator's role claim.
    #[must_use]
    pub(crate) fn require_role_in(mut self, claim: RoleClaim, role: impl Into<String>) -> Self {
        self.roles.push(RoleRule {
            claim: Some(claim),
            any_of: vec![role.into()],
        });
        self
    }

    /// Step-up (RFC 9470): requires the token's `acr` to be one of `acr`
    /// (an empty list is never satisfied; several calls: the last one
    /// applies). A token without it gets 401
    /// `insufficient_user_authentication` with `acr_values`.
    #[must_use]
    pub(crate) fn require_acr<I, S>(mut self, acr: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr = Some(acr.into_iter().map(Into::into).collect());
        self
    }

    /// Step-up (RFC 9470): requires the token's `auth_time` to be at most
    /// `age` old (whole seconds). An absent or non-numeric `auth_time`, or
    /// an older one, gets 401 `insufficient_user_authentication` with
    /// `max_age`; the authenticator's leeway applies only to an
    /// `auth_time` in the future (clock skew), never to an old one.
    #[must_use]
    pub(crate) fn max_auth_age(mut self, age: Duration) -> Self {
        self.max_auth_age = Some(age.as_secs());
        self
    }

    /// The scopes the route names (for the resource metadata).
    pub(crate) fn scopes(&self) -> impl Iterator<Item = &String> {
        let requests = self.requests.iter().flat_map(|r| r.needs.scopes.iter());
        self.scopes.iter().chain(requests).flatten()
    }

    /// Adds a rule that applies to the requests it matches only.
    #[must_use]
    pub(crate) fn require_when(mut self, rule: RequestRule) -> Self {
        self.requests.push(rule);
        self
    }

    /// The request rules that match a request (`uri`: `None` when the
    /// path is not known, and then every path rule matches: fail closed).
    /// Without request rules, nothing is allocated.
    pub(crate) fn matching(
        &self,
        method: &Method,
        uri: Option<&Uri>,
        headers: &HeaderMap,
    ) -> Matched {
        let mut matched = Matched::default();
        for (i, rule) in self.requests.iter().enumerate() {
            if rule.matches(method, uri, headers) {
                matched.set(i);
            }
        }
        matched
    }

    /// The request rules of `matched`.
    fn applying<'a>(&'a self, matched: &'a Matched) -> impl Iterator<Item = &'a RouteRules> + 'a {
        self.requests
            .iter()
            .enumerate()
            .filter(|(i, _)| matched.has(*i))
            .map(|(_, r)| &r.needs)
    }

    /// Accepts only tokens whose `aud` names one of `audiences` (replacing
    /// the authenticator's audiences for this route; `aud` becomes required).
    #[must_use]
    pub(crate) fn audience<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the route asks more of a token than being valid (scopes,
    /// roles, an audience of its own): such a route needs a token even when
    /// optional, so that anonymous never gets further than a signed-in
    /// caller.
    pub(crate) fn has_requirements(&self) -> bool {
        !self.scopes.is_empty()
            || !self.roles.is_empty()
            || self.audiences.is_some()
            || self.acr.is_some()
            || self.max_auth_age.is_some()
    }

    /// The step-up rules (RFC 9470) at clock second `now`, `leeway`
    /// seconds of skew allowed for an `auth_time` in the future.
    fn check_step_up(
        &self,
        claims: &Map<String, Value>,
        now: u64,
        leeway: u64,
    ) -> Result<(), AuthError> {
        let acr_ok = self.acr.as_ref().is_none_or(|accepted| {
            claims
                .get("acr")
                .and_then(Value::as_str)
                .is_some_and(|acr| accepted.iter().any(|a| a == acr))
        });
        let age_ok = self.max_auth_age.is_none_or(|max_age| {
            // A NumericDate (RFC 7519 §2), within what `exp` may be.
            let auth_time = claims
                .get("auth_time")
                .and_then(Value::as_f64)
                .filter(|t| t.is_finite() && (0.0..=253_402_300_799.0).contains(t));
            // Exact in f64: every accepted value is below 2^53.
            auth_time.is_some_and(|t| {
                let (now, leeway) = (now as f64, leeway as f64);
                t <= now + leeway && now - t <= max_age as f64
            })
        });
        if acr_ok && age_ok {
            return Ok(());
        }
        Err(AuthError::insufficient_user_authentication(
            self.acr.as_deref().unwrap_or_default(),
            self.max_auth_age,
        ))
    }

    /// Checks step-up, scopes and roles on verified claims at clock second
    /// `now` (`leeway`: the authenticator's clock skew), with the request
    /// rules of `matched` besides the route's own. Runs on every request,
    /// cached verification or not. Step-up comes first: a new
    /// authentication (401) may bring the scopes too.
    pub(crate) fn check(
        &self,
        grants: &Grants,
        claims: &Map<String, Value>,
        matched: &Matched,
        now: u64,
        leeway: u64,
    ) -> Result<(), AuthError> {
        self.check_step_up(claims, now, leeway)?;
        let groups = || {
            let requests = self.applying(matched).flat_map(|r| r.scopes.iter());
            self.scopes.iter().chain(requests)
        };
        let scopes_ok = groups().all(|any| any.iter().any(|s| grants.has_scope(claims, s)));
        if !scopes_ok {
            // The challenge may list the scopes only when each is required
            // (RFC 6750 §3: the scopes "necessary to access"): those of the
            // route and of the request rules this request matched.
            let all_required = groups().all(|g| g.len() == 1);
            let listed: Vec<String> = if all_required {
                groups().flatten().cloned().collect()
            } else {
                Vec::new()
            };
            return Err(AuthError::insufficient_scope(&listed));
        }
        let requests = self.applying(matched).flat_map(|r| r.roles.iter());
        for rule in self.roles.iter().chain(requests) {
            let claim = rule.claim.as_ref().unwrap_or(&grants.role_claim);
            if !rule.any_of.iter().any(|r| claim.grants(claims, r)) {
                return Err(AuthError::new(AuthErrorKind::Forbidden));
            }
        }
        Ok(())
    }
}

/// Runs a route's own checks on the typed claims.
pub(crate) fn run_checks<C>(checks: &[Check<C>], claims: &Claims<C>) -> Result<(), AuthError> {
    for check in checks {
        if let Err(denied) = check(claims) {
            #[cfg(feature = "tracing")]
            tracing::debug!(
                reason = denied.reason().unwrap_or(""),
                "a route check denied the token"
            );
            let _ = denied;
            return Err(AuthError::new(AuthErrorKind::Forbidden));
        }
    }
    Ok(())
}

/// Which methods a [`RequestRule`] matches.
#[derive(Debug, Clone)]
enum Methods {
    Any,
    Only(Vec<Method>),
    Except(Vec<Method>),
}

impl Methods {
    /// Whether `method` is in `set`, HEAD counting as GET (a GET handler
    /// answers HEAD: axum and hyper do so).
    fn contains(set: &[Method], method: &Method) -> bool {
        set.contains(method) || (method == Method::HEAD && set.contains(&Method::GET))
    }

    fn matches(&self, method: &Method) -> bool {
        match self {
            Self::Any => true,
            Self::Only(set) => Self::contains(set, method),
            Self::Except(set) => !Self::contains(set, method),
        }
    }
}

/// A test of a header value, for [`RequestRule::header`].
type HeaderTest = Arc<dyn Fn(&HeaderValue) -> bool + Send + Sync>;

/// Rules for some requests only: those of some methods, under a path, or with a header.
///
/// A rule matches a request when its method is in the rule's set (HEAD
/// counts as GET, since a GET handler answers HEAD), its path is under the
/// rule's prefix, and each of its header tests passes; what it requires
/// (scopes, roles) then applies besides the route's own rules, in the same
/// security sequence (a token from the verified-token cache is checked
/// against it too). Every matching rule applies; a request that no rule
/// matches (an unknown method, say) gets the route's own rules only, so
/// give the route a strict base or use [`RequestRule::methods_except`].
///
/// A refusal is a 403 `insufficient_scope` whose challenge names the scopes
/// this request needed (the route's and the matching rules'), when each of
/// them is required. On an [`optional`](crate::Authenticator::optional)
/// route, a request that a rule matches needs a token.
///
/// The rules read the request as the layer sees it: a layer that rewrites
/// the method (`X-HTTP-Method-Override`) or the path must run before this
/// one, and inside `Router::nest` the path is without the nest's prefix.
///
/// ```
/// use http::Method;
/// use tower_jwt_auth::{rules::RequestRule, Authenticator};
///
/// let auth = Authenticator::builder()
///     .hmac_secret("a secret of at least thirty-two bytes")
///     .build()?;
/// let items = auth
///     .layer()
///     .require_scope_for([Method::GET], "read") // and HEAD
///     .require_when(RequestRule::methods_except([Method::GET]).require_scope("write"))
///     .require_when(
///         RequestRule::any()
///             .header("x-on-behalf-of".parse()?, |_| true)
///             .require_role("delegate"),
///     );
/// # let _ = items;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RequestRule {
    methods: Methods,
    path_prefix: Option<String>,
    headers: Vec<(HeaderName, HeaderTest)>,
    /// What the rule requires: scopes and roles only.
    needs: RouteRules,
}

impl fmt::Debug for RequestRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&HeaderName> = self.headers.iter().map(|(name, _)| name).collect();
        f.debug_struct("RequestRule")
            .field("methods", &self.methods)
            .field("path_prefix", &self.path_prefix)
            .field("headers", &headers)
            .field("needs", &self.needs)
            .finish()
    }
}

impl RequestRule {
    fn with(methods: Methods) -> Self {
        Self {
            methods,
            path_prefix: None,
            headers: Vec::new(),
            needs: RouteRules::default(),
        }
    }

    /// A rule for every request (narrow it with a path or a header).
    #[must_use]
    pub fn any() -> Self {
        Self::with(Methods::Any)
    }

    /// A rule for requests of these methods (GET also matches HEAD).
    #[must_use]
    pub fn methods(methods: impl IntoIterator<Item = Method>) -> Self {
        Self::with(Methods::Only(methods.into_iter().collect()))
    }

    /// A rule for requests of any other method, unknown ones included (GET also excludes HEAD).
    #[must_use]
    pub fn methods_except(methods: impl IntoIterator<Item = Method>) -> Self {
        Self::with(Methods::Except(methods.into_iter().collect()))
    }

    /// Matches only paths under `prefix`, whole segments: `/admin` matches `/admin` and `/admin/x`, not `/administrator`.
    ///
    /// The path is compared as sent, without decoding (a router that
    /// decodes or normalizes paths before matching routes must not be
    /// trusted to agree); where the path is unknown (a tonic interceptor),
    /// the rule applies. Prefer a layer on the route itself to a path rule.
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Matches only requests with header `name` of which some value passes `test`.
    ///
    /// Any value: a request that repeats the header to slip a value past
    /// the rule still matches it. Several calls: every test must pass.
    #[must_use]
    pub fn header<F>(mut self, name: HeaderName, test: F) -> Self
    where
        F: Fn(&HeaderValue) -> bool + Send + Sync + 'static,
    {
        self.headers.push((name, Arc::new(test)));
        self
    }

    /// Requires `scope` of the requests the rule matches; several calls require all of them.
    #[must_use]
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        self.needs = self.needs.require_scope(scope);
        self
    }

    /// Requires every one of `scopes` of the requests the rule matches.
    #[must_use]
    pub fn require_all_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.needs = self.needs.require_all_scopes(scopes);
        self
    }

    /// Requires at least one of `scopes` (an empty list lets no token through).
    #[must_use]
    pub fn require_any_scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.needs = self.needs.require_any_scope(scopes);
        self
    }

    /// Requires `role` in the authenticator's role claim; several calls require all of them.
    #[must_use]
    pub fn require_role(mut self, role: impl Into<String>) -> Self {
        self.needs = self.needs.require_role(role);
        self
    }

    /// Requires at least one of `roles` in the authenticator's role claim.
    #[must_use]
    pub fn require_any_role<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.needs = self.needs.require_any_role(roles);
        self
    }

    /// Requires `role` at `claim` rather than in the authenticator's role claim.
    #[must_use]
    pub fn require_role_in(mut self, claim: RoleClaim, role: impl Into<String>) -> Self {
        self.needs = self.needs.require_role_in(claim, role);
        self
    }

    /// Whether the rule matches a request (`uri`: `None` when unknown).
    fn matches(&self, method: &Method, uri: Option<&Uri>, headers: &HeaderMap) -> bool {
        self.methods.matches(method)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|prefix| uri.is_none_or(|uri| under(uri.path(), prefix)))
            && self
                .headers
                .iter()
                .all(|(name, test)| headers.get_all(name).iter().any(|value| test(value)))
    }
}

/// Whether `path` is `prefix` or under it, by whole segments.
fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

/// Which of a route's request rules match one request: a bit per rule,
/// with no allocation for a route's first 64 rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Matched {
    first: u64,
    more: Vec<u64>,
}

impl Matched {
    fn set(&mut self, i: usize) {
        if i < 64 {
            self.first |= 1 << i;
            return;
        }
        let word = i / 64 - 1;
        if self.more.len() <= word {
            self.more.resize(word + 1, 0);
        }
        if let Some(w) = self.more.get_mut(word) {
            *w |= 1 << (i % 64);
        }
    }

    fn has(&self, i: usize) -> bool {
        if i < 64 {
            return self.first & (1 << i) != 0;
        }
        self.more
            .get(i / 64 - 1)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Whether no request rule matched.
    pub(crate) fn is_empty(&self) -> bool {
        self.first == 0 && self.more.iter().all(|w| *w == 0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn check(route: RouteRules, claims: Value) -> Result<(), AuthErrorKind> {
        route
            .check(&Grants::default(), &m(claims), &Matched::default(), NOW, 60)
            .map_err(|e| e.kind())
    }

    const NOW: u64 = 1_700_000_000;

    impl RouteRules {
        fn require_scope_when_post(self, scope: &str) -> Self {
            self.require_when(RequestRule::methods([Method::POST]).require_scope(scope))
        }
    }

    fn head(method: Method, path: &str, headers: &[(&'static str, &'static str)]) -> Matched {
        let rules = RouteRules::new()
            .require_when(RequestRule::methods([Method::GET]).require_scope("read"))
            .require_when(RequestRule::methods_except([Method::GET]).require_scope("write"))
            .require_when(
                RequestRule::any()
                    .path_prefix("/admin")
                    .require_scope("admin"),
            )
            .require_when(
                RequestRule::any()
                    .header(HeaderName::from_static("x-mode"), |v| v == "sudo")
                    .require_scope("sudo"),
            );
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_static(value));
        }
        let uri: Uri = path.parse().unwrap();
        rules.matching(&method, Some(&uri), &map)
    }

    fn bits(m: &Matched) -> Vec<usize> {
        (0..4).filter(|i| m.has(*i)).collect()
    }

    #[test]
    fn request_rules_match_method_head_as_get_path_by_segment_and_any_header_value() {
        assert_eq!(bits(&head(Method::GET, "/items", &[])), [0]);
        assert_eq!(bits(&head(Method::HEAD, "/items", &[])), [0], "HEAD is GET");
        assert_eq!(bits(&head(Method::POST, "/items", &[])), [1]);
        let purge = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(bits(&head(purge, "/items", &[])), [1], "unknown: not GET");
        assert_eq!(bits(&head(Method::GET, "/admin", &[])), [0, 2]);
        assert_eq!(bits(&head(Method::GET, "/admin/x?y", &[])), [0, 2]);
        assert_eq!(bits(&head(Method::GET, "/administrator", &[])), [0]);
        assert_eq!(bits(&head(Method::GET, "/x/admin", &[])), [0]);
        let sudo = [("x-mode", "no"), ("x-mode", "sudo")];
        assert_eq!(bits(&head(Method::GET, "/", &sudo)), [0, 3], "any value");
        assert_eq!(bits(&head(Method::GET, "/", &[("x-mode", "SUDO")])), [0]);
    }

    #[test]
    fn request_rules_apply_to_unknown_paths_and_many_rules() {
        let rules = RouteRules::new().require_when(RequestRule::any().path_prefix("/admin"));
        let unknown = rules.matching(&Method::GET, None, &HeaderMap::new());
        assert!(
            !unknown.is_empty(),
            "a path rule applies where the path is unknown"
        );
        let mut many = RouteRules::new();
        for i in 0..130 {
            let method = if i == 129 { Method::POST } else { Method::PUT };
            many = many.require_when(RequestRule::methods([method]).require_scope(format!("s{i}")));
        }
        let post = many.matching(&Method::POST, None, &HeaderMap::new());
        assert!(post.has(129) && !post.has(128) && !post.has(0));
        let grants = Grants::default();
        let e = many
            .check(&grants, &m(json!({"scope": "s0"})), &post, NOW, 60)
            .unwrap_err();
        assert_eq!(e.scope(), Some("s129"), "the scope this request needs");
        assert!(many
            .check(&grants, &m(json!({"scope": "s129"})), &post, NOW, 60)
            .is_ok());
    }

    #[test]
    fn the_challenge_names_the_route_and_the_matched_rules_scopes() {
        let rules = RouteRules::new()
            .require_scope("api")
            .require_scope_when_post("write")
            .require_when(RequestRule::methods([Method::POST]).require_all_scopes(["a", "b"]));
        let post = rules.matching(&Method::POST, None, &HeaderMap::new());
        let get = rules.matching(&Method::GET, None, &HeaderMap::new());
        let claims = m(json!({"scope": "api"}));
        let e = rules
            .check(&Grants::default(), &claims, &post, NOW, 60)
            .unwrap_err();
        assert_eq!(e.scope(), Some("api write a b"));
        assert!(rules
            .check(&Grants::default(), &claims, &get, NOW, 60)
            .is_ok());
        let roles = RouteRules::new()
            .require_when(RequestRule::methods([Method::DELETE]).require_role("admin"));
        let delete = roles.matching(&Method::DELETE, None, &HeaderMap::new());
        let e = roles
            .check(
                &Grants::default(),
                &m(json!({"roles": ["user"]})),
                &delete,
                NOW,
                60,
            )
            .unwrap_err();
        assert_eq!(e.kind(), AuthErrorKind::Forbidden);
    }

    #[test]
    fn step_up_acr_is_one_of_a_set() {
        let route = || RouteRules::new().require_acr(["urn:a", "urn:b"]);
        assert_eq!(check(route(), json!({"acr": "urn:b"})), Ok(()));
        for claims in [
            json!({"acr": "urn:c"}),
            json!({}),
            json!({"acr": ["urn:a"]}),
        ] {
            assert_eq!(
                check(route(), claims.clone()),
                Err(AuthErrorKind::InsufficientUserAuthentication),
                "{claims}"
            );
        }
        let e = route()
            .check(
                &Grants::default(),
                &m(json!({})),
                &Matched::default(),
                NOW,
                60,
            )
            .unwrap_err();
        assert_eq!((e.acr_values(), e.max_age()), (Some("urn:a urn:b"), None));
    }

    #[test]
    fn step_up_auth_age_has_leeway_only_for_the_future() {
        let route = || RouteRules::new().max_auth_age(Duration::from_secs(300));
        let at = |t: Value| check(route(), json!({ "auth_time": t }));
        let fail = Err(AuthErrorKind::InsufficientUserAuthentication);
        assert_eq!(at(json!(NOW - 300)), Ok(()), "exactly max age");
        assert_eq!(at(json!(NOW - 301)), fail, "no leeway for the past");
        assert_eq!(at(json!(NOW + 60)), Ok(()), "future within leeway");
        assert_eq!(at(json!(NOW + 61)), fail, "future beyond leeway");
        assert_eq!(at(json!("1700000000")), fail, "a string");
        assert_eq!(check(route(), json!({})), fail, "absent");
        let e = route()
            .check(
                &Grants::default(),
                &m(json!({})),
                &Matched::default(),
                NOW,
                60,
            )
            .unwrap_err();
        assert_eq!((e.acr_values(), e.max_age()), (None, Some(300)));
        assert_eq!(e.status(), 401);
    }

    #[test]
    fn step_up_comes_before_scopes() {
        let route = RouteRules::new()
            .require_scope("admin")
            .require_acr(["mfa"]);
        assert_eq!(
            check(route, json!({"scope": "read"})),
            Err(AuthErrorKind::InsufficientUserAuthentication)
        );
    }

    #[test]
    fn any_of_and_all_of_scopes() {
        let any = || RouteRules::new().require_any_scope(["a", "b"]);
        assert_eq!(check(any(), json!({"scope": "x b"})), Ok(()));
        assert_eq!(
            check(any(), json!({"scope": "x c"})),
            Err(AuthErrorKind::InsufficientScope)
        );
        let all = || RouteRules::new().require_all_scopes(["a", "b"]);
        assert_eq!(check(all(), json!({"scope": "b a"})), Ok(()));
        assert_eq!(
            check(all(), json!({"scope": "a"})),
            Err(AuthErrorKind::InsufficientScope)
        );
        let none: [&str; 0] = [];
        assert_eq!(
            check(
                RouteRules::new().require_any_scope(none),
                json!({"scope": "a"})
            ),
            Err(AuthErrorKind::InsufficientScope),
            "an empty any-of grants nothing"
        );
    }

    #[test]
    fn the_challenge_lists_scopes_only_when_each_is_required() {
        let scope = |r: RouteRules| {
            r.check(
                &Grants::default(),
                &m(json!({})),
                &Matched::default(),
                NOW,
                60,
            )
            .unwrap_err()
            .scope()
            .map(str::to_owned)
        };
        assert_eq!(
            scope(RouteRules::new().require_all_scopes(["a", "b"])).as_deref(),
            Some("a b")
        );
        assert_eq!(scope(RouteRules::new().require_any_scope(["a", "b"])), None);
    }

    #[test]
    fn roles_from_identity_provider_shapes() {
        let keycloak = json!({
            "realm_access": {"roles": ["user", "admin"]},
            "resource_access": {"billing": {"roles": ["manager"]}, "other": {"roles": ["x"]}},
        });
        let route = |claim: RoleClaim, role: &str| RouteRules::new().require_role_in(claim, role);
        assert_eq!(
            check(
                route(RoleClaim::keycloak_realm(), "admin"),
                keycloak.clone()
            ),
            Ok(())
        );
        assert_eq!(
            check(
                route(RoleClaim::keycloak_client("billing"), "manager"),
                keycloak.clone()
            ),
            Ok(())
        );
        assert_eq!(
            check(
                route(RoleClaim::keycloak_client("billing"), "x"),
                keycloak.clone()
            ),
            Err(AuthErrorKind::Forbidden),
            "another client's role"
        );
        assert_eq!(
            check(route(RoleClaim::roles(), "admin"), keycloak),
            Err(AuthErrorKind::Forbidden)
        );
        let entra = json!({"roles": ["Task.Write"], "groups": ["g-1"]});
        assert_eq!(
            check(route(RoleClaim::roles(), "Task.Write"), entra.clone()),
            Ok(())
        );
        assert_eq!(check(route(RoleClaim::groups(), "g-1"), entra), Ok(()));
        let namespaced = json!({"https://example.com/roles": ["editor"]});
        assert_eq!(
            check(
                route(RoleClaim::claim("https://example.com/roles"), "editor"),
                namespaced
            ),
            Ok(())
        );
        assert_eq!(
            check(
                route(RoleClaim::roles(), "admin"),
                json!({"roles": "admin"})
            ),
            Ok(())
        );
    }

    #[test]
    fn roles_of_the_wrong_shape_grant_nothing() {
        for claims in [
            json!({"roles": "admin user"}),
            json!({"roles": [["admin"]]}),
            json!({"roles": {"admin": true}}),
            json!({"roles": null}),
            json!({"roles": ["Admin"]}),
            json!({"scope": "admin"}),
        ] {
            assert_eq!(
                check(RouteRules::new().require_role("admin"), claims.clone()),
                Err(AuthErrorKind::Forbidden),
                "{claims}"
            );
        }
    }

    #[test]
    fn any_and_all_roles() {
        let any = || RouteRules::new().require_any_role(["ops", "admin"]);
        assert_eq!(check(any(), json!({"roles": ["ops"]})), Ok(()));
        assert_eq!(
            check(any(), json!({"roles": ["user"]})),
            Err(AuthErrorKind::Forbidden)
        );
        let all = || RouteRules::new().require_role("ops").require_role("admin");
        assert_eq!(check(all(), json!({"roles": ["admin", "ops"]})), Ok(()));
        assert_eq!(
            check(all(), json!({"roles": ["admin"]})),
            Err(AuthErrorKind::Forbidden)
        );
    }

    #[test]
    fn scopes_from_scope_and_scp_when_enabled() {
        let m = |v: Value| v.as_object().unwrap().clone();
        let r = Grants::default();
        assert!(r.has_scope(&m(json!({"scope": "read admin"})), "admin"));
        assert!(!r.has_scope(&m(json!({"scope": "read administrator"})), "admin"));
        assert!(!r.has_scope(&m(json!({"scope": ["admin"]})), "admin"));
        assert!(
            !r.has_scope(&m(json!({"scp": ["admin"]})), "admin"),
            "scp is opt-in"
        );
        assert!(
            !r.has_scope(&m(json!({"scope": "a  b"})), ""),
            "empty scope"
        );
        let scp = Grants {
            scp: true,
            ..Grants::default()
        };
        assert!(scp.has_scope(&m(json!({"scp": ["admin"]})), "admin"));
        assert!(scp.has_scope(&m(json!({"scp": "a admin"})), "admin"));
    }
}
