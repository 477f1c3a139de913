//! Route rules: what a verified token must also grant on one route.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
        self.scopes.iter().flatten()
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
    /// `now` (`leeway`: the authenticator's clock skew). Runs on every
    /// request, cached verification or not. Step-up comes first: a new
    /// authentication (401) may bring the scopes too.
    pub(crate) fn check(
        &self,
        grants: &Grants,
        claims: &Map<String, Value>,
        now: u64,
        leeway: u64,
    ) -> Result<(), AuthError> {
        self.check_step_up(claims, now, leeway)?;
        let scopes_ok = self
            .scopes
            .iter()
            .all(|any| any.iter().any(|s| grants.has_scope(claims, s)));
        if !scopes_ok {
            // The challenge may list the scopes only when each is required
            // (RFC 6750 §3: the scopes "necessary to access").
            let all_required = self.scopes.iter().all(|g| g.len() == 1);
            let listed: Vec<String> = if all_required {
                self.scopes.iter().flatten().cloned().collect()
            } else {
                Vec::new()
            };
            return Err(AuthError::insufficient_scope(&listed));
        }
        for rule in &self.roles {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn check(route: RouteRules, claims: Value) -> Result<(), AuthErrorKind> {
        route
            .check(&Grants::default(), &m(claims), NOW, 60)
            .map_err(|e| e.kind())
    }

    const NOW: u64 = 1_700_000_000;

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
            .check(&Grants::default(), &m(json!({})), NOW, 60)
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
            .check(&Grants::default(), &m(json!({})), NOW, 60)
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
            r.check(&Grants::default(), &m(json!({})), NOW, 60)
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
