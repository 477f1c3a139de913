//! Checking one DPoP proof (RFC 9449 §4.3), everything but the replay
//! store and the token's binding, which the caller does once the access
//! token is verified too.

use http::{HeaderMap, HeaderValue, Method, Uri};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::nonce::NonceCheck;
use super::thumbprint::{access_token_hash, jwk_thumbprint};
use super::Dpop;
use crate::error::{AuthError, AuthErrorKind};
use crate::jws::{constant_time_eq, decode_object, Compact};
use crate::keys::Key;

/// Longest accepted `jti`, in bytes.
const MAX_JTI_LEN: usize = 256;

/// A proof that passed every check of its own.
#[derive(Debug)]
pub(crate) struct CheckedProof {
    /// RFC 7638 thumbprint of the proof's key.
    pub(crate) jkt: String,
    /// SHA-256(jkt, jti): the replay-store key.
    pub(crate) replay_key: [u8; 32],
    /// Until when the proof could pass the `iat` check, so its `jti` must
    /// be remembered.
    pub(crate) remember_until: u64,
    /// A nonce to send with the response (the proof's is getting old).
    pub(crate) next_nonce: Option<HeaderValue>,
}

fn invalid() -> AuthError {
    AuthError::new(AuthErrorKind::InvalidDpopProof)
}

impl Dpop {
    /// RFC 9449 §4.3 steps 1–11 for the request's `DPoP` header, bound to
    /// `token` (`ath`); `uri`: `None` when the request's path is not known
    /// (a tonic interceptor), and then `htu` may name any path under the
    /// public URL.
    pub(crate) fn check_proof(
        &self,
        method: &Method,
        uri: Option<&Uri>,
        headers: &HeaderMap,
        token: &str,
    ) -> Result<CheckedProof, AuthError> {
        // §4.3 (1): exactly one DPoP header.
        let mut values = headers.get_all("dpop").iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(invalid());
        };
        let proof = value.to_str().map_err(|_| invalid())?;
        if proof.len() > self.max_proof_len {
            return Err(invalid());
        }
        // (2) a well-formed JWT.
        let jws = Compact::split(proof).map_err(|_| invalid())?;
        let header = decode_object(jws.header).map_err(|_| invalid())?;
        let alg = self.check_header(&header)?;
        // (5)(6) a public key of an accepted kind, under the same import
        // policy as configured keys (RSA >= 2048 bits, points on the curve).
        let jwk = match header.get("jwk") {
            Some(Value::Object(jwk)) => jwk,
            _ => return Err(invalid()),
        };
        let key_type = jwk.get("kty").and_then(Value::as_str);
        if !matches!(key_type, Some("RSA" | "EC" | "OKP")) {
            return Err(invalid());
        }
        let jkt = jwk_thumbprint(jwk).ok_or_else(invalid)?;
        // Private members refused, and the configured keys' import checks.
        let key = match Key::from_public_jwk(jwk) {
            Ok(Some(key)) if key.algorithms().contains(alg) => key,
            _ => return Err(invalid()),
        };
        // (7) the signature.
        if !jws.signature_verifies(key.decoding_key(), alg) {
            return Err(invalid());
        }
        let claims = decode_object(jws.payload).map_err(|_| invalid())?;
        let text = |name: &str| match claims.get(name) {
            Some(Value::String(s)) => Ok(s.as_str()),
            _ => Err(invalid()),
        };
        // (4) required claims.
        let jti = text("jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_LEN {
            return Err(invalid());
        }
        // (8) htm: methods are case-sensitive (RFC 9110 §9.1).
        if text("htm")? != method.as_str() {
            return Err(invalid());
        }
        // (9) htu, both sides normalized.
        if !self.public_url.matches(text("htu")?, uri, headers) {
            return Err(invalid());
        }
        // (11) iat within the window, each way, plus the leeway.
        let now = self.clock.now();
        let iat = match claims.get("iat") {
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if (0.0..1e15).contains(&v) => v as u64,
                _ => return Err(invalid()),
            },
            _ => return Err(invalid()),
        };
        if now.saturating_sub(iat) > self.iat_past.saturating_add(self.leeway)
            || iat.saturating_sub(now) > self.iat_future.saturating_add(self.leeway)
        {
            return Err(invalid());
        }
        // (12) ath: the proof is for this access token.
        let ath = text("ath")?;
        if !constant_time_eq(ath.as_bytes(), access_token_hash(token).as_bytes()) {
            return Err(invalid());
        }
        // (10) the server nonce, when nonces are on.
        let mut next_nonce = None;
        if let Some(nonces) = &self.nonces {
            let nonce = claims.get("nonce").and_then(Value::as_str);
            match nonces.check(nonce, now) {
                NonceCheck::Fresh => {}
                NonceCheck::Renew => next_nonce = Some(nonces.current(now)),
                NonceCheck::Invalid => {
                    return Err(AuthError::new(AuthErrorKind::UseDpopNonce));
                }
            }
        }
        let mut h = Sha256::new();
        h.update(jkt.as_bytes());
        h.update([0]);
        h.update(jti.as_bytes());
        let replay_key: [u8; 32] = h.finalize().into();
        let remember_until = iat.saturating_add(self.replay_window);
        Ok(CheckedProof {
            jkt,
            replay_key,
            remember_until,
            next_nonce,
        })
    }

    /// (3) `typ`, (5) `alg`; no header feature we do not implement.
    fn check_header(&self, header: &Map<String, Value>) -> Result<Algorithm, AuthError> {
        let typ = header
            .get("typ")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        let typ = typ
            .get(..12)
            .filter(|p| p.eq_ignore_ascii_case("application/"))
            .map_or(typ, |_| &typ[12..]);
        if !typ.eq_ignore_ascii_case("dpop+jwt") {
            return Err(invalid());
        }
        if ["enc", "crit", "zip", "b64"]
            .iter()
            .any(|m| header.contains_key(*m))
        {
            return Err(invalid());
        }
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            // RFC 9864 `Ed25519`: EdDSA, with the proof's OKP Ed25519 key.
            .and_then(crate::keys::algorithm_named)
            .ok_or_else(invalid)?;
        if !self.algorithms.contains(alg) {
            return Err(invalid());
        }
        Ok(alg)
    }
}
