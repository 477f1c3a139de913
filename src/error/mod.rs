//! Errors: why a request was rejected ([`AuthError`]) and why a configuration could not be built.

use std::fmt;

use http::StatusCode;

mod config;
#[cfg(feature = "remote")]
mod fetch;

pub use config::{ConfigError, KeyError};
#[cfg(feature = "remote")]
pub use fetch::{FetchError, FetchErrorKind};

/// Why a request was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthErrorKind {
    /// No credentials: no `Authorization` header, or one with another scheme
    /// (RFC 6750 §3.1: the response carries no `error` attribute).
    Missing,
    /// The `Authorization` header is not a well-formed `Bearer` credential:
    /// `Bearer` with no token, two tokens, characters outside token68, several
    /// `Authorization` headers, or a value that is not visible ASCII. Also:
    /// two token sources holding different tokens, or one source (a cookie,
    /// a header, a query parameter) given twice.
    MalformedRequest,
    /// The token is larger than the configured limit; nothing was decoded.
    TokenTooLarge,
    /// The token is not a compact JWS: not three base64url segments, a header
    /// or payload that is not a JSON object, duplicate member names.
    MalformedToken,
    /// The token is a JWE (five segments or an `enc` header): encrypted
    /// tokens are rejected, not decrypted.
    Encrypted,
    /// The header uses a feature this crate does not implement and must not
    /// ignore: `crit`, `b64: false`, `zip`.
    UnsupportedHeader,
    /// The header's `typ` is not the configured one.
    InvalidType,
    /// The header's `alg` is `none`, unknown, not in the allow-list, or not
    /// allowed for the selected key.
    DisallowedAlgorithm,
    /// No configured key matches the token's `kid` (or, without a `kid`, no
    /// single key fits its `alg`).
    UnknownKey,
    /// The signature does not verify with the selected key.
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` is not one of the accepted issuers.
    InvalidIssuer,
    /// `aud` names none of the accepted audiences.
    InvalidAudience,
    /// A required claim is absent.
    MissingClaim,
    /// A registered claim has the wrong JSON type or an out-of-range value
    /// (`exp` as a string, `iss` as an array, a negative `nbf`, ...).
    InvalidClaim,
    /// The claims do not deserialize into the application's claims type.
    InvalidClaims,
    /// The token is valid but lacks a scope the route requires.
    InsufficientScope,
    /// The token is valid but a route rule refused it: a required role is
    /// missing, the route's own check returned
    /// [`Denied`](crate::rules::Denied), or a claim the route forwards as a
    /// header is not header-safe ([`ClaimHeaders`](crate::forward::ClaimHeaders)).
    ///
    /// Answered like
    /// [`InsufficientScope`](Self::InsufficientScope): 403
    /// `insufficient_scope`, gRPC `PERMISSION_DENIED`.
    Forbidden,
    /// The key source could not provide keys (for example a remote JWK Set
    /// that was never fetched); answered with 503, never with an accept.
    KeySourceUnavailable,
    /// The token was revoked (logout, refresh token reuse, a subject's
    /// "logout everywhere"): 401 `invalid_token`.
    Revoked,
    /// The revocation list could not be consulted (Redis unreachable):
    /// answered with 503, never with an accept (fail closed).
    RevocationUnavailable,
    /// The DPoP proof is missing, malformed, badly signed, for another
    /// method, URL or token, too old or too new, or replayed (RFC 9449
    /// §7.1: `invalid_dpop_proof`).
    InvalidDpopProof,
    /// The DPoP proof lacks a valid, current server nonce (RFC 9449 §9:
    /// `use_dpop_nonce`); the response carries one in `DPoP-Nonce`.
    UseDpopNonce,
    /// The token's key binding (`cnf.jkt`) does not fit the request: a
    /// DPoP-bound token sent as `Bearer`, or a DPoP request whose token is
    /// unbound or bound to another key.
    InvalidBinding,
    /// The route requires DPoP and the request used `Bearer`.
    DpopRequired,
    /// The DPoP replay store could not record the proof; answered with
    /// 503, never with an accept.
    DpopStoreUnavailable,
    /// The token is valid but the authentication event behind it does not
    /// meet the route's step-up rules (RFC 9470): its `acr` is not one the
    /// route accepts, or its `auth_time` is absent or too old. 401
    /// `insufficient_user_authentication`, never 403; the challenge names
    /// what the route wants ([`AuthError::acr_values`],
    /// [`AuthError::max_age`]); gRPC `UNAUTHENTICATED`.
    InsufficientUserAuthentication,
    /// The introspection endpoint (RFC 7662) answered that the token is not
    /// active: its `active` member is present but not the JSON literal
    /// `true`. 401 `invalid_token`.
    InactiveToken,
    /// The introspection endpoint could not answer: unreachable, too slow,
    /// not 200, not JSON, too large, or without `active`.
    ///
    /// Answered with 503,
    /// never with an accept (fail closed).
    IntrospectionUnavailable,
}

impl AuthErrorKind {
    /// The RFC 6750 §3.1 error code, or `None` when no credentials were sent.
    #[must_use]
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::Missing
            | Self::KeySourceUnavailable
            | Self::RevocationUnavailable
            | Self::IntrospectionUnavailable
            | Self::DpopStoreUnavailable => None,
            Self::MalformedRequest => Some("invalid_request"),
            Self::InvalidDpopProof => Some("invalid_dpop_proof"),
            Self::UseDpopNonce => Some("use_dpop_nonce"),
            Self::InsufficientScope | Self::Forbidden => Some("insufficient_scope"),
            Self::InsufficientUserAuthentication => Some("insufficient_user_authentication"),
            _ => Some("invalid_token"),
        }
    }

    /// The HTTP status of the rejection.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::KeySourceUnavailable
            | Self::RevocationUnavailable
            | Self::IntrospectionUnavailable
            | Self::DpopStoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The gRPC status code of the rejection.
    ///
    /// The one table every gRPC answer uses: 7 `PERMISSION_DENIED` for a 403 (a missing scope or role, a failed
    /// check), 14 `UNAVAILABLE` for a 503 (keys, revocation list,
    /// introspection endpoint or replay store unavailable), 16
    /// `UNAUTHENTICATED` for every other kind (the 401s and the 400
    /// `invalid_request`).
    #[must_use]
    pub fn grpc_status(self) -> u16 {
        match self {
            Self::InsufficientScope | Self::Forbidden => 7,
            Self::KeySourceUnavailable
            | Self::RevocationUnavailable
            | Self::IntrospectionUnavailable
            | Self::DpopStoreUnavailable => 14,
            _ => 16,
        }
    }

    /// A short, fixed, client-safe description (used as `error_description`).
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::Missing => "no bearer token",
            Self::MalformedRequest => "malformed authorization header",
            Self::TokenTooLarge => "the token is too large",
            Self::MalformedToken => "the token is malformed",
            Self::Encrypted => "encrypted tokens are not accepted",
            Self::UnsupportedHeader => "the token header uses an unsupported feature",
            Self::InvalidType => "the token type is not accepted",
            Self::DisallowedAlgorithm => "the token algorithm is not allowed",
            Self::UnknownKey => "no key matches the token",
            Self::InvalidSignature => "the token signature is invalid",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::IssuedInFuture => "the token was issued in the future",
            Self::InvalidIssuer => "the token issuer is not accepted",
            Self::InvalidAudience => "the token audience is not accepted",
            Self::MissingClaim => "the token lacks a required claim",
            Self::InvalidClaim => "the token has an invalid claim",
            Self::InvalidClaims => "the token claims are not accepted",
            Self::InsufficientScope => "the token lacks the required scope",
            Self::Forbidden => "the token does not grant access to this resource",
            Self::KeySourceUnavailable => "the signing keys are unavailable",
            Self::Revoked => "the token has been revoked",
            Self::RevocationUnavailable => "the revocation list is unavailable",
            Self::InvalidDpopProof => "the dpop proof is invalid",
            Self::UseDpopNonce => "the dpop proof must carry the current server nonce",
            Self::InvalidBinding => "the token is not bound to the key of this request",
            Self::DpopRequired => "a dpop-bound token and proof are required",
            Self::DpopStoreUnavailable => "the dpop replay store is unavailable",
            Self::InsufficientUserAuthentication => {
                "a stronger or more recent authentication is required"
            }
            Self::InactiveToken => "the token is not active",
            Self::IntrospectionUnavailable => "the token introspection endpoint is unavailable",
        }
    }
}

/// Why a request was rejected.
///
/// It maps to an RFC 6750 §3 response: its
/// [`status`](AuthError::status), error code and fixed description, which a
/// [`Challenge`](crate::response::Challenge) renders. The client sees the error code
/// and a short fixed description; the detailed reason goes to `tracing`
/// (feature `tracing`). Nothing here ever holds a token, a secret or key
/// material, so `Debug` and `Display` are safe to log.
///
/// A rejected request: the [`AuthErrorKind`] and, for claim errors, the name
/// of the claim (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    claim: Option<&'static str>,
    scope: Option<String>,
    acr_values: Option<String>,
    max_age: Option<u64>,
}

impl AuthError {
    /// An error of this kind.
    #[must_use]
    pub fn new(kind: AuthErrorKind) -> Self {
        Self {
            kind,
            claim: None,
            scope: None,
            acr_values: None,
            max_age: None,
        }
    }

    pub(crate) fn claim(kind: AuthErrorKind, claim: &'static str) -> Self {
        Self {
            claim: Some(claim),
            ..Self::new(kind)
        }
    }

    /// Insufficient user authentication (RFC 9470 §3): the challenge names
    /// the `acr` values the route accepts (when each is a valid
    /// space-free token) and the largest authentication age, in seconds.
    pub(crate) fn insufficient_user_authentication(acr: &[String], max_age: Option<u64>) -> Self {
        let listable = !acr.is_empty() && acr.iter().all(|a| is_scope_token(a));
        Self {
            acr_values: listable.then(|| acr.join(" ")),
            max_age,
            ..Self::new(AuthErrorKind::InsufficientUserAuthentication)
        }
    }

    /// Insufficient scope; the challenge lists every scope the route needs.
    pub(crate) fn insufficient_scope(required: &[String]) -> Self {
        // RFC 6750 §3: scope = scope-token *( SP scope-token ) with the
        // RFC 6749 §3.3 charset; otherwise the attribute is left out.
        let listable = !required.is_empty() && required.iter().all(|s| is_scope_token(s));
        Self {
            scope: listable.then(|| required.join(" ")),
            ..Self::new(AuthErrorKind::InsufficientScope)
        }
    }

    /// Why the request was rejected.
    #[must_use]
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The registered claim the error is about (`"exp"`, `"aud"`, ...), if any.
    #[must_use]
    pub fn claim_name(&self) -> Option<&'static str> {
        self.claim
    }

    /// The scopes a 403 `insufficient_scope` challenge may list (RFC 6750
    /// §3: only when the route requires each of them), space-separated.
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The `acr` values a 401 `insufficient_user_authentication` challenge
    /// names (RFC 9470 §3), space-separated: the route accepts any one.
    #[must_use]
    pub fn acr_values(&self) -> Option<&str> {
        self.acr_values.as_deref()
    }

    /// The largest authentication age, in seconds, a 401
    /// `insufficient_user_authentication` challenge names (RFC 9470 §3,
    /// `max_age`).
    #[must_use]
    pub fn max_age(&self) -> Option<u64> {
        self.max_age
    }

    /// The HTTP status of the rejection (RFC 6750 §3.1).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The gRPC status code ([`AuthErrorKind::grpc_status`]).
    #[must_use]
    pub fn grpc_status(&self) -> u16 {
        self.kind.grpc_status()
    }
}

impl From<AuthErrorKind> for AuthError {
    fn from(kind: AuthErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.description())?;
        if let Some(claim) = self.claim {
            write!(f, " (claim `{claim}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthError {}

pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Every kind, for the tests (the exhaustive `match` in this module's
/// tests fails to compile when a kind is added, until it is listed here).
#[cfg(test)]
pub(crate) const ALL: [AuthErrorKind; 31] = [
    AuthErrorKind::Missing,
    AuthErrorKind::MalformedRequest,
    AuthErrorKind::TokenTooLarge,
    AuthErrorKind::MalformedToken,
    AuthErrorKind::Encrypted,
    AuthErrorKind::UnsupportedHeader,
    AuthErrorKind::InvalidType,
    AuthErrorKind::DisallowedAlgorithm,
    AuthErrorKind::UnknownKey,
    AuthErrorKind::InvalidSignature,
    AuthErrorKind::Expired,
    AuthErrorKind::NotYetValid,
    AuthErrorKind::IssuedInFuture,
    AuthErrorKind::InvalidIssuer,
    AuthErrorKind::InvalidAudience,
    AuthErrorKind::MissingClaim,
    AuthErrorKind::InvalidClaim,
    AuthErrorKind::InvalidClaims,
    AuthErrorKind::InsufficientScope,
    AuthErrorKind::Forbidden,
    AuthErrorKind::KeySourceUnavailable,
    AuthErrorKind::Revoked,
    AuthErrorKind::RevocationUnavailable,
    AuthErrorKind::InvalidDpopProof,
    AuthErrorKind::UseDpopNonce,
    AuthErrorKind::InvalidBinding,
    AuthErrorKind::DpopRequired,
    AuthErrorKind::DpopStoreUnavailable,
    AuthErrorKind::InsufficientUserAuthentication,
    AuthErrorKind::InactiveToken,
    AuthErrorKind::IntrospectionUnavailable,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_header_is_400_invalid_request() {
        assert_eq!(AuthErrorKind::MalformedRequest.status(), 400);
        assert_eq!(
            AuthErrorKind::MalformedRequest.error_code(),
            Some("invalid_request")
        );
    }

    /// The position of `kind` in [`ALL`].
    fn position(kind: AuthErrorKind) -> usize {
        use AuthErrorKind::*;
        match kind {
            Missing => 0,
            MalformedRequest => 1,
            TokenTooLarge => 2,
            MalformedToken => 3,
            Encrypted => 4,
            UnsupportedHeader => 5,
            InvalidType => 6,
            DisallowedAlgorithm => 7,
            UnknownKey => 8,
            InvalidSignature => 9,
            Expired => 10,
            NotYetValid => 11,
            IssuedInFuture => 12,
            InvalidIssuer => 13,
            InvalidAudience => 14,
            MissingClaim => 15,
            InvalidClaim => 16,
            InvalidClaims => 17,
            InsufficientScope => 18,
            Forbidden => 19,
            KeySourceUnavailable => 20,
            Revoked => 21,
            RevocationUnavailable => 22,
            InvalidDpopProof => 23,
            UseDpopNonce => 24,
            InvalidBinding => 25,
            DpopRequired => 26,
            DpopStoreUnavailable => 27,
            InsufficientUserAuthentication => 28,
            InactiveToken => 29,
            IntrospectionUnavailable => 30,
        }
    }

    #[test]
    fn the_kind_list_is_complete() {
        for (i, kind) in ALL.into_iter().enumerate() {
            assert_eq!(position(kind), i, "{kind:?}");
        }
    }

    /// The documented mapping (README, `AuthErrorKind::grpc_status`): 403
    /// is `PERMISSION_DENIED`, 503 `UNAVAILABLE`, 401 and 400
    /// `UNAUTHENTICATED`; the error and its kind agree.
    #[test]
    fn each_kinds_http_status_and_grpc_code_agree() {
        for kind in ALL {
            let expected = match kind.status().as_u16() {
                403 => 7,
                503 => 14,
                400 | 401 => 16,
                other => panic!("{kind:?}: undocumented HTTP status {other}"),
            };
            assert_eq!(kind.grpc_status(), expected, "{kind:?}");
            assert_eq!(AuthError::new(kind).grpc_status(), expected, "{kind:?}");
        }
    }

    #[test]
    fn only_listable_scopes_are_kept() {
        assert_eq!(
            AuthError::insufficient_scope(&["a".into(), "b".into()]).scope(),
            Some("a b")
        );
        assert_eq!(
            AuthError::insufficient_scope(&["ok".into(), "ad\"min".into()]).scope(),
            None
        );
        assert_eq!(AuthError::insufficient_scope(&[]).scope(), None);
    }
}
