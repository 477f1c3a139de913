//! Checking one DPoP proof (RFC 9449 §4.3), everything but the replay
//! store and the token's binding, which the caller does once the access
//! token is verified too.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Uri};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::nonce::NonceCheck;
use super::thumbprint::{access_token_hash, jwk_thumbprint};
use super::Dpop;
use crate::crypto;
use crate::error::{AuthError, AuthErrorKind};
use crate::keys::KeySet;
use crate::verifier::decode_object;

/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2,
/// §6.4; RFC 8037 §2 `d`).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

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
    /// `token` (`ath`).
    pub(crate) fn check_proof(
        &self,
        method: &Method,
        uri: &Uri,
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
        let mut parts = proof.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let header = decode_object(header_b64).map_err(|_| invalid())?;
        let alg = self.check_header(&header)?;
        // (5)(6) a public key of an accepted kind, under the same import
        // policy as configured keys (RSA >= 2048 bits, points on the curve).
        let jwk = match header.get("jwk") {
            Some(Value::Object(jwk)) => jwk,
            _ => return Err(invalid()),
        };
        let key_type = jwk.get("kty").and_then(Value::as_str);
        if !matches!(key_type, Some("RSA" | "EC" | "OKP"))
            || PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m))
        {
            return Err(invalid());
        }
        let jkt = jwk_thumbprint(jwk).ok_or_else(invalid)?;
        let keys = import(jwk).ok_or_else(invalid)?;
        let key = keys.select(None, alg).map_err(|_| invalid())?;
        // (7) the signature.
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| invalid())?;
        let message = &proof[..header_b64.len() + 1 + payload_b64.len()];
        if !crypto::verify(message.as_bytes(), signature, key.decoding_key(), alg) {
            return Err(invalid());
        }
        let claims = decode_object(payload_b64).map_err(|_| invalid())?;
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
        let expected = self.public_url.expected(uri, headers).ok_or_else(invalid)?;
        if super::htu::normalize(text("htu")?).as_deref() != Some(expected.as_str()) {
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
        if now.saturating_sub(iat) > self.iat_past + self.leeway
            || iat.saturating_sub(now) > self.iat_future + self.leeway
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
            .and_then(|a| a.parse::<Algorithm>().ok())
            .ok_or_else(invalid)?;
        if !self.algorithms.contains(alg) {
            return Err(invalid());
        }
        Ok(alg)
    }
}

/// The proof's key, through the import policy of configured keys.
fn import(jwk: &Map<String, Value>) -> Option<KeySet> {
    let set = serde_json::json!({ "keys": [jwk] });
    KeySet::from_jwks_json(&set.to_string()).ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
