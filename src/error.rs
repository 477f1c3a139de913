//! Errors: why a request was rejected ([`AuthError`]) and why a configuration
//! could not be built ([`ConfigError`]).
//!
//! An [`AuthError`] maps to an RFC 6750 §3 response: its
//! [`status`](AuthError::status) and its
//! [`www_authenticate`](AuthError::www_authenticate) value. The client sees the
//! error code and a short fixed description; the detailed reason goes to
//! `tracing` (feature `tracing`). Nothing here ever holds a token, a secret or
//! key material, so `Debug` and `Display` are safe to log.

use std::fmt;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

use crate::dpop::Challenge as DpopChallenge;

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
    /// missing, or the route's own check returned
    /// [`Denied`](crate::Denied). Answered like
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
}

impl AuthErrorKind {
    /// The RFC 6750 §3.1 error code, or `None` when no credentials were sent.
    #[must_use]
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::Missing
            | Self::KeySourceUnavailable
            | Self::RevocationUnavailable
            | Self::DpopStoreUnavailable => None,
            Self::MalformedRequest => Some("invalid_request"),
            Self::InvalidDpopProof => Some("invalid_dpop_proof"),
            Self::UseDpopNonce => Some("use_dpop_nonce"),
            Self::InsufficientScope | Self::Forbidden => Some("insufficient_scope"),
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
            | Self::DpopStoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
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
        }
    }
}

/// A rejected request: the [`AuthErrorKind`] and, for claim errors, the name
/// of the claim (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    claim: Option<&'static str>,
    scope: Option<String>,
    dpop: Option<Box<DpopChallenge>>,
}

impl AuthError {
    /// An error of this kind.
    #[must_use]
    pub fn new(kind: AuthErrorKind) -> Self {
        Self {
            kind,
            claim: None,
            scope: None,
            dpop: None,
        }
    }

    pub(crate) fn claim(kind: AuthErrorKind, claim: &'static str) -> Self {
        Self {
            kind,
            claim: Some(claim),
            scope: None,
            dpop: None,
        }
    }

    /// Insufficient scope; the challenge lists every scope the route needs.
    pub(crate) fn insufficient_scope(required: &[String]) -> Self {
        // RFC 6750 §3: scope = scope-token *( SP scope-token ) with the
        // RFC 6749 §3.3 charset; otherwise the attribute is left out.
        let listable = !required.is_empty() && required.iter().all(|s| is_scope_token(s));
        Self {
            kind: AuthErrorKind::InsufficientScope,
            claim: None,
            scope: listable.then(|| required.join(" ")),
            dpop: None,
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

    /// The HTTP status of the rejection (RFC 6750 §3.1).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// Adds the DPoP (RFC 9449) side of the challenge: a route with DPoP
    /// on answers with a `DPoP` challenge (and a `Bearer` one when both are
    /// allowed).
    pub(crate) fn with_dpop(mut self, challenge: DpopChallenge) -> Self {
        self.dpop = Some(Box::new(challenge));
        self
    }

    /// The server nonce to send in `DPoP-Nonce` with this rejection (RFC
    /// 9449 §9), when the route uses DPoP nonces.
    #[must_use]
    pub fn dpop_nonce(&self) -> Option<&HeaderValue> {
        self.dpop.as_ref().and_then(|d| d.nonce.as_ref())
    }

    /// The `WWW-Authenticate` challenge for this error (RFC 6750 §3), with an
    /// optional `realm`: the one that carries the error when a route offers
    /// both `Bearer` and `DPoP` ([`challenges`](Self::challenges) has both).
    /// `None` for errors that are not a challenge (503).
    #[must_use]
    pub fn www_authenticate(&self, realm: Option<&str>) -> Option<HeaderValue> {
        self.challenges(realm).into_iter().next()
    }

    /// Every `WWW-Authenticate` challenge for this error, the one carrying
    /// the error first: `Bearer` (RFC 6750 §3) and, on a route with DPoP,
    /// `DPoP` with its `algs` (RFC 9449 §7.1). Empty for 503.
    #[must_use]
    pub fn challenges(&self, realm: Option<&str>) -> Vec<HeaderValue> {
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            return Vec::new();
        }
        let Some(dpop) = &self.dpop else {
            return self
                .challenge("Bearer", realm, true, None)
                .into_iter()
                .collect();
        };
        let algs = crate::dpop::algs_attribute(dpop.algorithms);
        // DPoP-only errors, a DPoP request, or a DPoP-only route: the
        // error goes on the DPoP challenge.
        let on_dpop = dpop.required
            || dpop.used_dpop
            || matches!(
                self.kind,
                AuthErrorKind::InvalidDpopProof | AuthErrorKind::UseDpopNonce
            );
        let dpop_challenge = self.challenge("DPoP", realm, on_dpop, Some(&algs));
        if dpop.required {
            return dpop_challenge.into_iter().collect();
        }
        let bearer = self.challenge("Bearer", realm, !on_dpop, None);
        let (first, second) = if on_dpop {
            (dpop_challenge, bearer)
        } else {
            (bearer, dpop_challenge)
        };
        first.into_iter().chain(second).collect()
    }

    fn challenge(
        &self,
        scheme: &str,
        realm: Option<&str>,
        with_error: bool,
        algs: Option<&str>,
    ) -> Option<HeaderValue> {
        let mut value = String::from(scheme);
        let mut sep = " ";
        if let Some(realm) = realm {
            value.push_str(sep);
            value.push_str("realm=\"");
            value.push_str(realm);
            value.push('"');
            sep = ", ";
        }
        let code = self.kind.error_code().filter(|_| with_error);
        if let Some(code) = code {
            value.push_str(sep);
            value.push_str("error=\"");
            value.push_str(code);
            value.push_str("\", error_description=\"");
            value.push_str(self.kind.description());
            value.push('"');
            if let Some(scope) = &self.scope {
                value.push_str(", scope=\"");
                value.push_str(scope);
                value.push('"');
            }
            sep = ", ";
        }
        if let Some(algs) = algs {
            value.push_str(sep);
            value.push_str(algs);
        }
        // Every part is a fixed string or was checked to be a valid
        // quoted-string body (realm at build, scope above).
        HeaderValue::from_str(&value).ok()
    }

    /// The RFC 6750 response: status, `WWW-Authenticate` (with `realm` when
    /// given), `Cache-Control: no-store`, and an empty body. The body never
    /// holds the token.
    #[must_use]
    pub fn to_response<B: Default>(&self, realm: Option<&str>) -> Response<B> {
        let mut res = Response::new(B::default());
        *res.status_mut() = self.status();
        let headers = res.headers_mut();
        for challenge in self.challenges(realm) {
            headers.append(WWW_AUTHENTICATE, challenge);
        }
        if let Some(nonce) = self.dpop_nonce() {
            headers.insert("dpop-nonce", nonce.clone());
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    /// The gRPC status code: 16 `UNAUTHENTICATED`, 7 `PERMISSION_DENIED`
    /// for a missing scope or role, 14 `UNAVAILABLE` when keys are unavailable.
    #[must_use]
    pub fn grpc_status(&self) -> u16 {
        match self.kind {
            AuthErrorKind::InsufficientScope | AuthErrorKind::Forbidden => 7,
            AuthErrorKind::KeySourceUnavailable
            | AuthErrorKind::RevocationUnavailable
            | AuthErrorKind::DpopStoreUnavailable => 14,
            _ => 16,
        }
    }

    /// A trailers-only gRPC response: HTTP 200, `content-type:
    /// application/grpc`, `grpc-status` and `grpc-message` (the fixed
    /// description), `Cache-Control: no-store`, plus the RFC 6750 challenge.
    #[must_use]
    pub fn to_grpc_response<B: Default>(&self, realm: Option<&str>) -> Response<B> {
        let mut res = Response::new(B::default());
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("grpc-status", HeaderValue::from(self.grpc_status()));
        // Descriptions are fixed printable ASCII without '%': valid
        // grpc-message values as they are.
        headers.insert(
            "grpc-message",
            HeaderValue::from_static(self.kind.description()),
        );
        if let Some(challenge) = self.www_authenticate(realm) {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        res
    }

    /// Records the rejection: one `tracing` event (feature `tracing`; WARN
    /// when the server side failed, else DEBUG) and the rejection counter
    /// (feature `metrics`); see `observe.rs`.
    pub(crate) fn trace(&self) {
        crate::observe::rejected(self);
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

/// Why a key, a key set or an authenticator could not be configured.
///
/// Messages name the problem and, for JWK Sets, the key's position and `kid`;
/// never key material.
#[non_exhaustive]
#[derive(Debug)]
pub enum ConfigError {
    /// A key could not be imported.
    Key(KeyError),
    /// No key was configured.
    NoKeys,
    /// The algorithm allow-list is empty once intersected with what the keys
    /// can verify.
    NoAlgorithms,
    /// The `realm` contains characters that cannot appear in a quoted string.
    InvalidRealm,
    /// The required token `typ` is empty or not visible ASCII.
    InvalidType,
    /// An accepted-values list (`issuer`, `audience`) is empty, so no token
    /// could ever pass: almost certainly a configuration mistake.
    EmptyList {
        /// Which list: `"issuer"`, `"audience"` or `"token source"`.
        what: &'static str,
    },
    /// [`Authenticator::by_issuer`](crate::Authenticator::by_issuer): an
    /// authenticator that accepts no issuer cannot be picked by `iss`.
    IssuerRequired,
    /// [`Authenticator::by_issuer`](crate::Authenticator::by_issuer): two
    /// authenticators accept the same issuer.
    DuplicateIssuer {
        /// The issuer accepted twice.
        issuer: String,
    },
    /// A token lifetime of zero seconds.
    InvalidLifetime,
    /// The DPoP settings are unusable (the message says why).
    Dpop(&'static str),
    /// A remote key source (JWK Set URL, OIDC discovery) could not be used
    /// at build: the error names the URL and the reason.
    #[cfg(feature = "remote")]
    RemoteKeys(crate::keys::remote::FetchError),
    /// A remote key source is configured: build with
    /// [`build_async`](crate::AuthenticatorBuilder::build_async), which
    /// fetches the keys first.
    NeedsBuildAsync,
    /// Two remote key sources on one builder: use one authenticator per
    /// issuer ([`Authenticator::by_issuer`](crate::Authenticator::by_issuer)).
    SeveralRemoteSources,
    /// A JWK Set file could not be read.
    Io {
        /// The path that could not be read.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(e) => write!(f, "invalid key: {e}"),
            Self::NoKeys => f.write_str("no verification key configured"),
            Self::NoAlgorithms => {
                f.write_str("no allowed algorithm can be verified by the configured keys")
            }
            Self::InvalidRealm => {
                f.write_str("the realm must be printable ASCII without `\"` or `\\`")
            }
            Self::InvalidType => f.write_str("the required `typ` must be non-empty visible ASCII"),
            Self::EmptyList { what } => {
                write!(f, "the accepted {what} list is empty: no token could pass")
            }
            Self::IssuerRequired => f.write_str(
                "each authenticator of by_issuer must accept an issuer (builder `.issuer([..])`)",
            ),
            Self::DuplicateIssuer { issuer } => {
                write!(f, "issuer {issuer:?} is accepted by two authenticators")
            }
            Self::InvalidLifetime => f.write_str("a token lifetime must be at least one second"),
            Self::Dpop(why) => write!(f, "dpop: {why}"),
            Self::Io { path, .. } => write!(f, "cannot read {}", path.display()),
            #[cfg(feature = "remote")]
            Self::RemoteKeys(e) => write!(f, "remote keys: {e}"),
            Self::SeveralRemoteSources => f.write_str(
                "one remote key source per authenticator; use one authenticator per issuer",
            ),
            Self::NeedsBuildAsync => {
                f.write_str("remote keys are configured: build with `build_async().await`")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Key(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            #[cfg(feature = "remote")]
            Self::RemoteKeys(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "remote")]
impl From<crate::keys::remote::FetchError> for ConfigError {
    fn from(e: crate::keys::remote::FetchError) -> Self {
        Self::RemoteKeys(e)
    }
}

impl From<KeyError> for ConfigError {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

/// Why a key was refused at import.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// An HMAC secret shorter than 32 bytes (RFC 7518 §3.2).
    HmacTooShort {
        /// The secret's length in bytes.
        len: usize,
    },
    /// An RSA modulus shorter than 2048 bits (RFC 7518 §3.3).
    RsaTooSmall {
        /// The modulus size in bits.
        bits: usize,
    },
    /// An RSA modulus larger than the crypto backend verifies (8192 bits
    /// with aws-lc-rs, 4096 with RustCrypto alone): such a key would verify
    /// nothing.
    RsaTooLarge {
        /// The modulus size in bits.
        bits: usize,
    },
    /// An RSA public exponent that is even, 1, or above 2^32.
    RsaBadExponent,
    /// An RSA modulus with the ROCA fingerprint (CVE-2017-15361): generated
    /// by a flawed Infineon library, it can be factored from the public key.
    RsaRocaVulnerable,
    /// An EC key that is not a valid point on a supported curve.
    InvalidEcKey,
    /// An Ed25519 key of the wrong length.
    InvalidEdKey,
    /// The PEM could not be parsed as an RSA, EC or Ed25519 public key.
    InvalidPem,
    /// A JWK Set document that is not a JSON object with a `keys` array.
    InvalidJwkSet,
    /// A JWK that is malformed (missing or mistyped members).
    InvalidJwk {
        /// The key's index in the set.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two keys share a `kid`.
    DuplicateKid {
        /// The duplicated key id.
        kid: String,
    },
    /// A verification key set holds private key material (`d`, `p`, ...).
    PrivateKeyMaterial {
        /// The key's index in the set.
        index: usize,
    },
    /// A JWK Set mixes symmetric (`oct`) and asymmetric keys.
    MixedKeySet,
    /// The key's `alg` does not fit its type or curve.
    AlgorithmMismatch,
    /// The key set holds no usable signature key.
    Empty,
    /// A signing key's private half does not match the public key given
    /// with it.
    KeyPairMismatch,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HmacTooShort { len } => write!(
                f,
                "hmac secret of {len} bytes is too short (at least 32 bytes, RFC 7518 section 3.2)"
            ),
            Self::RsaTooSmall { bits } => {
                write!(
                    f,
                    "rsa key of {bits} bits is too small (at least 2048 bits)"
                )
            }
            Self::RsaTooLarge { bits } => write!(
                f,
                "rsa key of {bits} bits is larger than the crypto backend verifies"
            ),
            Self::RsaBadExponent => f.write_str("rsa public exponent is invalid"),
            Self::RsaRocaVulnerable => f.write_str(
                "rsa key has the ROCA fingerprint (CVE-2017-15361) and can be factored; replace it",
            ),
            Self::InvalidEcKey => f.write_str("ec key is not a valid P-256 or P-384 public key"),
            Self::InvalidEdKey => f.write_str("ed25519 key is invalid"),
            Self::InvalidPem => {
                f.write_str("pem is not an rsa, ec (P-256/P-384) or ed25519 public key")
            }
            Self::InvalidJwkSet => f.write_str("jwk set is not a json object with a `keys` array"),
            Self::InvalidJwk { index, reason } => write!(f, "jwk at index {index}: {reason}"),
            Self::DuplicateKid { kid } => write!(f, "duplicate kid {kid:?}"),
            Self::PrivateKeyMaterial { index } => write!(
                f,
                "jwk at index {index} contains private key material; publish only public keys"
            ),
            Self::MixedKeySet => f.write_str("jwk set mixes symmetric and asymmetric keys"),
            Self::AlgorithmMismatch => f.write_str("key `alg` does not fit the key type"),
            Self::Empty => f.write_str("no usable signature key"),
            Self::KeyPairMismatch => {
                f.write_str("the private key does not match the public key given with it")
            }
        }
    }
}

impl std::error::Error for KeyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_challenge_has_no_error_attribute() {
        let v = AuthError::new(AuthErrorKind::Missing)
            .www_authenticate(None)
            .unwrap();
        assert_eq!(v, "Bearer");
        let v = AuthError::new(AuthErrorKind::Missing)
            .www_authenticate(Some("api"))
            .unwrap();
        assert_eq!(v, "Bearer realm=\"api\"");
    }

    #[test]
    fn invalid_token_challenge_names_the_error() {
        let v = AuthError::new(AuthErrorKind::Expired)
            .www_authenticate(None)
            .unwrap();
        assert_eq!(
            v,
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        );
    }

    #[test]
    fn insufficient_scope_challenge_names_the_scope_only_when_safe() {
        let v = AuthError::insufficient_scope(&["admin".into()])
            .www_authenticate(None)
            .unwrap();
        assert!(v.to_str().unwrap().ends_with(", scope=\"admin\""));
        let v = AuthError::insufficient_scope(&["a".into(), "b".into()])
            .www_authenticate(None)
            .unwrap();
        assert!(v.to_str().unwrap().ends_with(", scope=\"a b\""));
        let v = AuthError::insufficient_scope(&["ok".into(), "ad\"min".into()])
            .www_authenticate(None)
            .unwrap();
        assert!(!v.to_str().unwrap().contains("scope=\""));
        assert_eq!(AuthErrorKind::InsufficientScope.status(), 403);
    }

    #[test]
    fn malformed_header_is_400_invalid_request() {
        assert_eq!(AuthErrorKind::MalformedRequest.status(), 400);
        assert_eq!(
            AuthErrorKind::MalformedRequest.error_code(),
            Some("invalid_request")
        );
    }
}
