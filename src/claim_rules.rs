//! Claim rules: time (`exp`, `nbf`, `iat` with leeway), issuer, audience,
//! required claims and header `typ`: what every token of an authenticator
//! must pass, whatever the route (route rules add scopes and roles on top).
//!
//! Defaults, each the safe reading of RFC 7519 and RFC 8725:
//! - `exp` is required; `nbf` and `iat` are checked when present;
//! - leeway 60 s for clock skew; a token is expired once
//!   `now >= exp + leeway` (RFC 7519 §4.1.4: "on or after");
//! - `iss` / `aud` are required and matched once configured (an `aud` that
//!   is present is type-checked even when no audience is configured);
//! - registered claims of the wrong JSON type are invalid, not ignored, and a
//!   NumericDate must be a finite number between 0 and year 9999 (so neither
//!   `"exp": "1e99"` nor `"exp": 18446744073709551615` slips through).
//!
//! Time comes from a [`Clock`], so tests move time without sleeping.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::error::{AuthError, AuthErrorKind};

/// Largest NumericDate accepted: 9999-12-31T23:59:59Z.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// The token rules shared by every route of an authenticator.
#[derive(Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuers: Option<HashSet<String>>,
    pub(crate) audiences: Option<HashSet<String>>,
    pub(crate) required: Vec<&'static str>,
    pub(crate) leeway: u64,
    pub(crate) typ: Option<String>,
    pub(crate) clock: Arc<dyn Clock>,
    /// A tenant's verifier: the claim naming the tenant, and its id.
    pub(crate) tenant: Option<(&'static str, String)>,
    /// JWT-SVIDs: the SPIFFE IDs `sub` may name.
    pub(crate) spiffe: Option<crate::spiffe::SpiffeIds>,
}

impl fmt::Debug for ClaimRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimRules")
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("required", &self.required)
            .field("leeway", &self.leeway)
            .field("typ", &self.typ)
            .field("tenant", &self.tenant)
            .field("spiffe", &self.spiffe)
            .finish_non_exhaustive()
    }
}

impl Default for ClaimRules {
    fn default() -> Self {
        Self {
            issuers: None,
            audiences: None,
            required: vec!["exp"],
            leeway: 60,
            typ: None,
            clock: Arc::new(SystemClock),
            tenant: None,
            spiffe: None,
        }
    }
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && (0.0..=MAX_NUMERIC_DATE).contains(&v) => Ok(Some(v)),
            _ => Err(AuthError::claim(AuthErrorKind::InvalidClaim, name)),
        },
        Some(_) => Err(AuthError::claim(AuthErrorKind::InvalidClaim, name)),
    }
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AuthError::claim(AuthErrorKind::InvalidClaim, name)),
    }
}

impl ClaimRules {
    /// Checks the registered claims (RFC 7519 §4.1) of a verified token.
    #[cfg(test)]
    pub(crate) fn check(
        &self,
        claims: &Map<String, Value>,
        audiences: Option<&HashSet<String>>,
    ) -> Result<(), AuthError> {
        self.check_at(claims, audiences, self.clock.now())
    }

    /// [`check`](Self::check) at clock second `now` (read once per
    /// request by the caller).
    pub(crate) fn check_at(
        &self,
        claims: &Map<String, Value>,
        audiences: Option<&HashSet<String>>,
        now: u64,
    ) -> Result<(), AuthError> {
        for name in &self.required {
            // `"sub": null` is no subject: null counts as absent.
            if claims.get(*name).is_none_or(Value::is_null) {
                return Err(AuthError::claim(AuthErrorKind::MissingClaim, name));
            }
        }
        let exp = numeric_date(claims, "exp")?;
        let nbf = numeric_date(claims, "nbf")?;
        let iat = numeric_date(claims, "iat")?;
        let iss = string_claim(claims, "iss")?;
        string_claim(claims, "sub")?;
        string_claim(claims, "jti")?;
        let aud = claims.get("aud");
        match aud {
            None | Some(Value::String(_)) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(_) => return Err(AuthError::claim(AuthErrorKind::InvalidClaim, "aud")),
        }

        // Exact in f64: every accepted value is below 2^53.
        let now = now as f64;
        let leeway = self.leeway as f64;
        if exp.is_some_and(|exp| now >= exp + leeway) {
            return Err(AuthError::claim(AuthErrorKind::Expired, "exp"));
        }
        if nbf.is_some_and(|nbf| now + leeway < nbf) {
            return Err(AuthError::claim(AuthErrorKind::NotYetValid, "nbf"));
        }
        if iat.is_some_and(|iat| iat > now + leeway) {
            return Err(AuthError::claim(AuthErrorKind::IssuedInFuture, "iat"));
        }

        if let Some(accepted) = &self.issuers {
            let iss = iss.ok_or(AuthError::claim(AuthErrorKind::MissingClaim, "iss"))?;
            if !accepted.contains(iss) {
                return Err(AuthError::claim(AuthErrorKind::InvalidIssuer, "iss"));
            }
        }
        if let Some(accepted) = audiences.or(self.audiences.as_ref()) {
            let aud = aud.ok_or(AuthError::claim(AuthErrorKind::MissingClaim, "aud"))?;
            let named = |a: &Value| a.as_str().is_some_and(|a| accepted.contains(a));
            let ok = match aud {
                Value::Array(items) => items.iter().any(named),
                single => named(single),
            };
            if !ok {
                return Err(AuthError::claim(AuthErrorKind::InvalidAudience, "aud"));
            }
        }
        if let Some(spiffe) = &self.spiffe {
            spiffe.check(claims)?;
        }
        // A tenant's token names its tenant (Entra: `tid`), as its `iss` does.
        if let Some((claim, tenant)) = &self.tenant {
            match claims.get(*claim) {
                Some(Value::String(t)) if t == tenant => {}
                None | Some(Value::Null) => {
                    return Err(AuthError::claim(AuthErrorKind::MissingClaim, claim))
                }
                Some(_) => return Err(AuthError::claim(AuthErrorKind::InvalidIssuer, claim)),
            }
        }
        Ok(())
    }

    /// RFC 7515 §4.1.9: `typ` is a media type, compared case-insensitively,
    /// with the `application/` prefix optional.
    pub(crate) fn check_typ(&self, typ: Option<&str>) -> Result<(), AuthError> {
        let Some(expected) = &self.typ else {
            return Ok(());
        };
        // No allocation on the request path: strip the optional prefix and
        // compare case-insensitively in place.
        fn strip(t: &str) -> &str {
            match t.get(..12) {
                Some(p) if p.eq_ignore_ascii_case("application/") => &t[12..],
                _ => t,
            }
        }
        match typ {
            Some(t) if strip(t).eq_ignore_ascii_case(strip(expected)) => Ok(()),
            _ => Err(AuthErrorKind::InvalidType.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clock::FixedClock;

    const NOW: u64 = 1_700_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            clock: Arc::new(FixedClock::new(NOW)),
            ..ClaimRules::default()
        }
    }

    fn check(r: &ClaimRules, v: Value) -> Result<(), AuthErrorKind> {
        r.check(v.as_object().unwrap(), None).map_err(|e| e.kind())
    }

    #[test]
    fn exp_is_required_by_default() {
        assert_eq!(check(&rules(), json!({})), Err(AuthErrorKind::MissingClaim));
        assert_eq!(check(&rules(), json!({"exp": NOW + 10})), Ok(()));
    }

    #[test]
    fn exp_boundary_with_leeway() {
        let r = rules();
        assert_eq!(check(&r, json!({"exp": NOW - 59})), Ok(()));
        assert_eq!(
            check(&r, json!({"exp": NOW - 60})),
            Err(AuthErrorKind::Expired)
        );
        let strict = ClaimRules {
            leeway: 0,
            ..rules()
        };
        assert_eq!(
            check(&strict, json!({"exp": NOW})),
            Err(AuthErrorKind::Expired)
        );
        assert_eq!(check(&strict, json!({"exp": NOW + 1})), Ok(()));
    }

    #[test]
    fn nbf_and_iat_in_the_future() {
        let r = rules();
        assert_eq!(
            check(&r, json!({"exp": NOW + 600, "nbf": NOW + 60})),
            Ok(())
        );
        assert_eq!(
            check(&r, json!({"exp": NOW + 600, "nbf": NOW + 61})),
            Err(AuthErrorKind::NotYetValid)
        );
        assert_eq!(
            check(&r, json!({"exp": NOW + 600, "iat": NOW + 61})),
            Err(AuthErrorKind::IssuedInFuture)
        );
    }

    #[test]
    fn wrong_typed_or_out_of_range_registered_claims_are_invalid() {
        let r = rules();
        for bad in [
            json!({"exp": "9999999999"}),
            json!({"exp": -1}),
            json!({"exp": u64::MAX}),
            json!({"exp": 1e300}),
            json!({"exp": NOW + 600, "nbf": true}),
            json!({"exp": NOW + 600, "iss": ["a"]}),
            json!({"exp": NOW + 600, "aud": 5}),
            json!({"exp": NOW + 600, "aud": ["a", 5]}),
            json!({"exp": NOW + 600, "sub": 1}),
        ] {
            assert_eq!(
                check(&r, bad.clone()),
                Err(AuthErrorKind::InvalidClaim),
                "{bad}"
            );
        }
        assert_eq!(check(&r, json!({"exp": NOW as f64 + 0.5})), Ok(()));
    }

    #[test]
    fn iss_and_aud_are_required_once_configured() {
        let r = ClaimRules {
            issuers: Some(["https://i".to_owned()].into()),
            audiences: Some(["api".to_owned()].into()),
            ..rules()
        };
        let ok = json!({"exp": NOW + 60, "iss": "https://i", "aud": ["x", "api"]});
        assert_eq!(check(&r, ok), Ok(()));
        assert_eq!(
            check(&r, json!({"exp": NOW + 60, "aud": "api"})),
            Err(AuthErrorKind::MissingClaim)
        );
        assert_eq!(
            check(
                &r,
                json!({"exp": NOW + 60, "iss": "https://j", "aud": "api"})
            ),
            Err(AuthErrorKind::InvalidIssuer)
        );
        assert_eq!(
            check(&r, json!({"exp": NOW + 60, "iss": "https://i", "aud": []})),
            Err(AuthErrorKind::InvalidAudience)
        );
    }

    #[test]
    fn typ_compares_media_types() {
        let r = ClaimRules {
            typ: Some("at+jwt".into()),
            ..rules()
        };
        assert!(r.check_typ(Some("application/AT+JWT")).is_ok());
        assert!(r.check_typ(Some("JWT")).is_err());
        assert!(r.check_typ(None).is_err());
        assert!(rules().check_typ(Some("anything")).is_ok());
    }

    #[test]
    fn a_null_required_claim_is_missing() {
        let r = ClaimRules {
            required: vec!["exp", "tenant"],
            ..rules()
        };
        assert_eq!(
            check(&r, json!({"exp": NOW + 60, "tenant": null})),
            Err(AuthErrorKind::MissingClaim)
        );
        assert_eq!(check(&r, json!({"exp": NOW + 60, "tenant": 3})), Ok(()));
    }
}
