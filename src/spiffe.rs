//! SPIFFE JWT-SVIDs: which SPIFFE IDs a token's `sub` may name.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::{AuthError, AuthErrorKind};

/// Longest SPIFFE ID accepted, in bytes (SPIFFE ID §2.3).
const MAX_ID_LEN: usize = 2048;

/// The SPIFFE IDs a JWT-SVID's `sub` may name, for
/// [`AuthenticatorBuilder::spiffe`](crate::AuthenticatorBuilder::spiffe):
/// one trust domain, and optionally a path prefix within it.
///
/// `sub` must be a well-formed SPIFFE ID (SPIFFE ID standard §2:
/// `spiffe://` + a trust domain of lowercase letters, digits, `.`, `-`,
/// `_` + a non-empty path of segments of letters, digits, `.`, `-`, `_`;
/// no empty, `.` or `..` segment, no trailing `/`, no query, fragment,
/// port or user info; at most 2048 bytes), its trust domain exactly the
/// configured one, and its path, when a prefix is set, that prefix or below
/// it segment-wise (`/ns/prod` admits `/ns/prod/sa/web`, not
/// `/ns/production`).
///
/// ```
/// use tower_jwt_auth::rules::SpiffeIds;
///
/// let ids = SpiffeIds::trust_domain("example.org").path_prefix("/ns/prod");
/// assert!(ids.admits("spiffe://example.org/ns/prod/sa/web"));
/// assert!(!ids.admits("spiffe://example.org/ns/production/sa/web"));
/// assert!(!ids.admits("spiffe://evil.example/ns/prod/sa/web"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SpiffeIds {
    trust_domain: String,
    path_prefix: Option<String>,
}

impl fmt::Debug for SpiffeIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpiffeIds")
            .field("trust_domain", &self.trust_domain)
            .field("path_prefix", &self.path_prefix)
            .finish()
    }
}

impl SpiffeIds {
    /// The IDs of `trust_domain` (e.g. `example.org`, without `spiffe://`).
    /// A trust domain that is not one admits nothing, and makes the build
    /// fail.
    #[must_use]
    pub fn trust_domain(trust_domain: impl Into<String>) -> Self {
        Self {
            trust_domain: trust_domain.into(),
            path_prefix: None,
        }
    }

    /// Only IDs whose path is `prefix` or below it (e.g. `/ns/prod`); a
    /// trailing `/` is ignored.
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix: String = prefix.into();
        self.path_prefix = Some(prefix.trim_end_matches('/').to_owned());
        self
    }

    /// Whether the configuration itself is usable: a valid trust domain,
    /// and a prefix that is a valid path.
    pub(crate) fn is_valid(&self) -> bool {
        valid_trust_domain(&self.trust_domain)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| p.is_empty() || valid_path(p))
    }

    /// Whether `id` is a SPIFFE ID these rules admit.
    #[must_use]
    pub fn admits(&self, id: &str) -> bool {
        if !self.is_valid() || id.len() > MAX_ID_LEN {
            return false;
        }
        let Some(rest) = id.strip_prefix("spiffe://") else {
            return false;
        };
        let (domain, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if domain != self.trust_domain || !valid_path(path) {
            return false;
        }
        match self.path_prefix.as_deref() {
            None | Some("") => true,
            Some(prefix) => path
                .strip_prefix(prefix)
                .is_some_and(|below| below.is_empty() || below.starts_with('/')),
        }
    }

    /// A JWT-SVID's `sub`: present, a string, and admitted.
    pub(crate) fn check(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        match claims.get("sub") {
            None | Some(Value::Null) => Err(AuthError::claim(AuthErrorKind::MissingClaim, "sub")),
            Some(Value::String(sub)) if self.admits(sub) => Ok(()),
            Some(_) => Err(AuthError::claim(AuthErrorKind::InvalidClaim, "sub")),
        }
    }
}

fn valid_trust_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 255
        && domain.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

/// A non-empty SPIFFE ID path: `/seg(/seg)*`, each segment non-empty, not
/// `.` or `..`, of letters, digits, `.`, `-`, `_`.
fn valid_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    rest.split('/').all(|seg| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids_are_checked_by_the_standard_s_rules() {
        let any = SpiffeIds::trust_domain("example.org");
        for ok in [
            "spiffe://example.org/web",
            "spiffe://example.org/ns/prod/sa/web-1",
            "spiffe://example.org/a.b_c-d",
        ] {
            assert!(any.admits(ok), "{ok}");
        }
        for bad in [
            "spiffe://example.org",
            "spiffe://example.org/",
            "spiffe://example.org/web/",
            "spiffe://example.org//web",
            "spiffe://example.org/./web",
            "spiffe://example.org/../web",
            "spiffe://example.org/web?x=1",
            "spiffe://example.org/web#x",
            "spiffe://example.org:443/web",
            "spiffe://user@example.org/web",
            "spiffe://Example.org/web",
            "SPIFFE://example.org/web",
            "https://example.org/web",
            "spiffe://example.org.evil/web",
            "spiffe://evil.example/example.org/web",
        ] {
            assert!(!any.admits(bad), "{bad}");
        }
        assert!(!any.admits(&format!("spiffe://example.org/{}", "a".repeat(2048))));
        let prod = SpiffeIds::trust_domain("example.org").path_prefix("/ns/prod/");
        assert!(prod.admits("spiffe://example.org/ns/prod"));
        assert!(prod.admits("spiffe://example.org/ns/prod/sa/web"));
        assert!(!prod.admits("spiffe://example.org/ns/production/sa/web"));
        assert!(!prod.admits("spiffe://example.org/ns"));
        assert!(!SpiffeIds::trust_domain("Example.org").is_valid());
        assert!(!SpiffeIds::trust_domain("example.org")
            .path_prefix("ns")
            .is_valid());
    }
}
