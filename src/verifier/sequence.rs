//! The security sequence: every check after the signature, written once
//! and run in this order for a cache miss and a cache hit alike:
//! 1. claim rules (`exp`, `nbf`, `iat`, `iss`, `aud` with the route's
//!    audience, required claims; [`ClaimRules`](crate::claim_rules));
//! 2. the key's issuer: a key bound to an issuer speaks only for it;
//! 3. the sender binding: the token's `cnf.jkt` against the request's DPoP
//!    proof key (RFC 9449 §7.1), or absent for a bearer request; any other
//!    `cnf` member (a binding this crate does not check) refuses the token
//!    unless the application accepted it unchecked;
//! 4. the route's step-up (`acr`, `auth_time`), scopes and roles, and
//!    those of the request rules the request matched (by method, path,
//!    header) ([`RouteRules`]);
//! 5. revocation, answered now or by a future (a list over the network).

use std::future::Future;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{IssuerVerifier, Verdict};
use crate::error::{AuthError, AuthErrorKind};
use crate::keys::Key;
use crate::revocation::{Revocation, RevocationError, TokenRef};
use crate::route_rules::{Matched, RouteRules};

/// What the request adds to a verification: the route's rules, which of
/// its request rules this request matched, and the DPoP proof key's
/// thumbprint (`None`: a bearer request).
pub(super) struct Request<'a> {
    pub(super) route: &'a RouteRules,
    pub(super) matched: &'a Matched,
    pub(super) jkt: Option<&'a str>,
}

/// Runs the sequence at clock second `now`. `Ok(Some(list))`: every check
/// passed but revocation, which `list` must answer over the network. `key`
/// is the key that verified a JWT's signature; `None` for an introspected
/// token, whose claims come from the authorization server itself.
pub(super) fn run(
    verifier: &IssuerVerifier,
    claims: &Map<String, Value>,
    key: Option<&Key>,
    request: &Request<'_>,
    now: u64,
) -> Result<Option<Arc<dyn Revocation>>, AuthError> {
    let settings = &verifier.settings;
    settings
        .rules
        .check_at(claims, request.route.audiences.as_ref(), now)?;
    // A key bound to an issuer speaks only for that issuer: another
    // issuer's key cannot mint tokens in its name.
    if let Some(bound) = key.and_then(Key::issuer) {
        if claims.get("iss").and_then(Value::as_str) != Some(bound) {
            return Err(AuthError::claim(AuthErrorKind::InvalidIssuer, "iss"));
        }
    }
    binding(claims, request.jkt, &settings.unverified_cnf)?;
    request.route.check(
        &settings.grants,
        claims,
        request.matched,
        now,
        settings.rules.leeway,
    )?;
    let Some(revocation) = &settings.revocation else {
        return Ok(None);
    };
    match revocation.is_revoked_now(&TokenRef::from_claims(claims)) {
        Some(answer) => verdict(answer).map(|()| None),
        None => Ok(Some(Arc::clone(revocation))),
    }
}

/// The token's `cnf.jkt` against the proof key's thumbprint (`expected`,
/// `None` for a bearer request); every other `cnf` member must be one the
/// application accepts unchecked (`unverified`).
///
/// # Errors
/// [`AuthErrorKind::InvalidBinding`]: a bound token sent as bearer, a DPoP
/// request whose token is unbound or bound to another key, a token bound by
/// a method this crate does not check (`x5t#S256`, `jwk`, ...); a `cnf` or
/// `cnf.jkt` of the wrong type is an invalid claim.
fn binding(
    claims: &Map<String, Value>,
    expected: Option<&str>,
    unverified: &[String],
) -> Result<(), AuthError> {
    let jkt = match claims.get("cnf") {
        None => None,
        Some(Value::Object(cnf)) => {
            // A binding nobody checks would turn a bound token into a
            // bearer token: refused unless the application checks it.
            if cnf
                .keys()
                .any(|m| m != "jkt" && !unverified.iter().any(|u| u == m))
            {
                return Err(AuthErrorKind::InvalidBinding.into());
            }
            match cnf.get("jkt") {
                None => None,
                Some(Value::String(jkt)) => Some(jkt.as_str()),
                Some(_) => return Err(AuthError::claim(AuthErrorKind::InvalidClaim, "cnf")),
            }
        }
        Some(_) => return Err(AuthError::claim(AuthErrorKind::InvalidClaim, "cnf")),
    };
    match (jkt, expected) {
        (None, None) => Ok(()),
        (Some(jkt), Some(expected)) if jkt == expected => Ok(()),
        _ => Err(AuthErrorKind::InvalidBinding.into()),
    }
}

/// Asks `revocation` over the network about `claims`.
pub(super) async fn ask(
    revocation: &dyn Revocation,
    claims: &Map<String, Value>,
) -> Result<(), AuthError> {
    verdict(revocation.is_revoked(&TokenRef::from_claims(claims)).await)
}

/// A verification waiting for a revocation answer; without waiting, the
/// list is unavailable (fail closed).
pub(super) fn pending_revocation<T>(
    wait: impl Future<Output = Result<T, AuthError>> + Send + 'static,
) -> Verdict<T> {
    Verdict::Pending {
        wait: Box::pin(wait),
        unless_waited: AuthErrorKind::RevocationUnavailable.into(),
    }
}

/// A revocation list's answer as a verification outcome: revoked is 401,
/// a list that cannot answer is 503 (fail closed).
fn verdict(answer: Result<bool, RevocationError>) -> Result<(), AuthError> {
    match answer {
        Ok(false) => Ok(()),
        Ok(true) => Err(AuthErrorKind::Revoked.into()),
        Err(_e) => {
            #[cfg(feature = "tracing")]
            tracing::warn!(error = %_e, "revocation list unavailable: request refused");
            Err(AuthErrorKind::RevocationUnavailable.into())
        }
    }
}
