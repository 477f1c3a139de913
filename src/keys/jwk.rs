//! JWK Sets (RFC 7517): parsing, `use`/`key_ops`, and the set-level rules
//! (no private material, no mixed symmetric and asymmetric keys).

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::{Key, KeyKind, KeySet};
use crate::error::{ConfigError, KeyError};

impl KeySet {
    /// Parses a JWK Set (RFC 7517 §5) of public keys, or `oct` secrets.
    ///
    /// # Errors
    /// A [`KeyError`] for a malformed set or key, a key that breaks the
    /// import policy (module docs), or a set with no usable key.
    pub fn from_jwks_json(json: &str) -> Result<Self, KeyError> {
        let doc: Value = serde_json::from_str(json).map_err(|_| KeyError::InvalidJwkSet)?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(KeyError::InvalidJwkSet)?;
        let mut set = KeySet::new();
        let (mut symmetric, mut asymmetric) = (false, false);
        for (index, jwk) in keys.iter().enumerate() {
            let jwk = jwk.as_object().ok_or(KeyError::InvalidJwk {
                index,
                reason: "not a json object",
            })?;
            if let Some(key) = parse_jwk(index, jwk)? {
                if matches!(key.kind, KeyKind::Hmac { .. }) {
                    symmetric = true;
                } else {
                    asymmetric = true;
                }
                set.push(key)?;
            }
        }
        if symmetric && asymmetric {
            return Err(KeyError::MixedKeySet);
        }
        if set.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(set)
    }

    /// Reads and parses a JWK Set file.
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be read, else as
    /// [`from_jwks_json`](Self::from_jwks_json).
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::from_jwks_json(&text)?)
    }
}

const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// One JWK: `Ok(None)` for a key that is not a signature-verification key of
/// a type this crate verifies with (skipped), `Err` for a broken one.
fn parse_jwk(index: usize, jwk: &Map<String, Value>) -> Result<Option<Key>, KeyError> {
    let bad = |reason| KeyError::InvalidJwk { index, reason };
    let opt_str = |name: &str| match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(bad("a member has the wrong type")),
    };
    let b64 = |name: &str| -> Result<Vec<u8>, KeyError> {
        let s = opt_str(name)?.ok_or(bad("a required member is missing"))?;
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad("a member is not base64url"))
    };

    let kty = opt_str("kty")?.ok_or(bad("missing `kty`"))?;
    // Before any skip: a private key in a verification set is a leak to
    // report, whatever the key is for.
    if kty != "oct" && PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(KeyError::PrivateKeyMaterial { index });
    }
    let kid = opt_str("kid")?;
    // RFC 7517 §4.2: `use` other than "sig" is not a signature key.
    if opt_str("use")?.is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    // RFC 7517 §4.3: with `key_ops`, the key may verify only if listed.
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array().ok_or(bad("`key_ops` is not an array"))?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Ok(None);
        }
    }
    let alg = match opt_str("alg")? {
        None => None,
        Some(name) => match name.parse::<Algorithm>() {
            Ok(a) => Some(a),
            Err(_) if name.eq_ignore_ascii_case("none") => return Err(KeyError::AlgorithmMismatch),
            // An algorithm this crate does not verify with (RSA-OAEP, ES512, ...).
            Err(_) => return Ok(None),
        },
    };

    let key = match kty {
        "RSA" => Key::rsa(&b64("n")?, &b64("e")?)?,
        "EC" => {
            let (kind_len, prefix_ok) = match opt_str("crv")? {
                Some("P-256") => (32, true),
                Some("P-384") => (48, true),
                Some(_) => return Ok(None),
                None => return Err(bad("missing `crv`")),
            };
            let (x, y) = (b64("x")?, b64("y")?);
            if !prefix_ok || x.len() != kind_len || y.len() != kind_len {
                return Err(KeyError::InvalidEcKey);
            }
            let mut point = Vec::with_capacity(1 + 2 * kind_len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Key::ec_from_point(&point)?
        }
        "OKP" => match opt_str("crv")? {
            Some("Ed25519") => Key::ed25519(&b64("x")?)?,
            Some(_) => return Ok(None),
            None => return Err(bad("missing `crv`")),
        },
        "oct" => {
            let k = b64("k")?;
            let key = Key::hmac(&k)?;
            // An `alg` longer than the key allows is a policy error, not a skip.
            if let Some(alg) = alg {
                if alg.family() == jsonwebtoken::AlgorithmFamily::Hmac
                    && !key.algorithms.contains(alg)
                {
                    return Err(KeyError::HmacTooShort { len: k.len() });
                }
            }
            key
        }
        _ => return Ok(None),
    };
    let key = match alg {
        Some(alg) if !key.algorithms.contains(alg) => return Err(KeyError::AlgorithmMismatch),
        Some(alg) => key.with_algorithms([alg]),
        None => key,
    };
    Ok(Some(match kid {
        Some(kid) => key.with_kid(kid),
        None => key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwk_set_imports_and_skips_non_signature_keys() {
        let set = KeySet::from_jwks_json(include_str!("../../tests/fixtures/jwks.json")).unwrap();
        assert_eq!(set.len(), 4);
        let json = r#"{"keys":[
            {"kty":"OKP","crv":"X25519","x":"AAAA","kid":"x"},
            {"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB","kid":"e"},
            {"kty":"EC","crv":"P-256","key_ops":["encrypt"],"x":"AA","y":"AA"},
            {"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kid":"h"}]}"#;
        let set = KeySet::from_jwks_json(json).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.iter().next().unwrap().kid(), Some("h"));
    }

    #[test]
    fn jwk_set_policy_errors() {
        let dup = r#"{"keys":[
            {"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kid":"a"},
            {"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kid":"a"}]}"#;
        assert_eq!(
            KeySet::from_jwks_json(dup).unwrap_err(),
            KeyError::DuplicateKid { kid: "a".into() }
        );
        assert_eq!(
            KeySet::from_jwks_json(include_str!("../../tests/fixtures/jwks_rsa1024.json"))
                .unwrap_err(),
            KeyError::RsaTooSmall { bits: 1024 }
        );
        assert_eq!(
            KeySet::from_jwks_json("[]").unwrap_err(),
            KeyError::InvalidJwkSet
        );
        assert_eq!(
            KeySet::from_jwks_json(r#"{"keys":[]}"#).unwrap_err(),
            KeyError::Empty
        );
        let short = r#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#;
        assert_eq!(
            KeySet::from_jwks_json(short).unwrap_err(),
            KeyError::HmacTooShort { len: 5 }
        );
        let mismatch = r#"{"keys":[{"kty":"oct","alg":"RS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#;
        assert_eq!(
            KeySet::from_jwks_json(mismatch).unwrap_err(),
            KeyError::AlgorithmMismatch
        );
    }

    #[test]
    fn private_jwks_are_refused_even_when_they_would_be_skipped() {
        for extra in [
            r#""use":"enc""#,
            r#""alg":"RSA-OAEP""#,
            r#""key_ops":["decrypt"]"#,
        ] {
            let jwks =
                format!(r#"{{"keys":[{{"kty":"RSA",{extra},"n":"AQAB","e":"AQAB","d":"AQAB"}}]}}"#);
            assert_eq!(
                KeySet::from_jwks_json(&jwks).unwrap_err(),
                KeyError::PrivateKeyMaterial { index: 0 },
                "{extra}"
            );
        }
    }
}
