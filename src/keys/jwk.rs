//! JWK Sets (RFC 7517): parsing, `use`/`key_ops`, and the set-level rules
//! (no private material, no mixed symmetric and asymmetric keys).

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::{Key, KeyKind, KeySet};
use crate::error::{ConfigError, KeyError};

/// Which keys of a set verify: `use: sig` (or no `use`) in a JWK Set;
/// `use: jwt-svid` in a SPIFFE trust bundle, and only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    Sig,
    JwtSvid,
}

impl Usage {
    /// Whether a key with this `use` member verifies.
    fn admits(self, member: Option<&str>) -> bool {
        match self {
            // RFC 7517 §4.2: `use` other than "sig" is not a signature key.
            Self::Sig => member.is_none_or(|u| u == "sig"),
            // SPIFFE Trust Domain and Bundle §4.2.2: `use` is required;
            // `x509-svid` keys are for TLS, not tokens.
            Self::JwtSvid => member == Some("jwt-svid"),
        }
    }
}

impl KeySet {
    /// Parses a JWK Set (RFC 7517 §5) of public keys, or `oct` secrets.
    ///
    /// # Errors
    /// A [`KeyError`] for a malformed set or key, a key that breaks the
    /// import policy (module docs), or a set with no usable key.
    pub fn from_jwks_json(json: &str) -> Result<Self, KeyError> {
        Self::parse_set(json, Usage::Sig)
    }

    /// Parses a SPIFFE trust bundle (its JWK Set form, SPIFFE Trust Domain
    /// and Bundle §4): the keys whose `use` is `jwt-svid`, under the same
    /// import policy as any key; `x509-svid` keys and keys without that
    /// `use` are skipped; `oct` keys are refused.
    ///
    /// Only a source declared a
    /// bundle imports `jwt-svid` keys: [`from_jwks_json`](Self::from_jwks_json)
    /// skips them.
    ///
    /// # Errors
    /// As [`from_jwks_json`](Self::from_jwks_json); a bundle holding no
    /// `jwt-svid` key is [`KeyError::Empty`].
    pub fn from_spiffe_bundle_json(json: &str) -> Result<Self, KeyError> {
        Self::parse_set(json, Usage::JwtSvid)
    }

    fn parse_set(json: &str, usage: Usage) -> Result<Self, KeyError> {
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
            if usage == Usage::JwtSvid && jwk.get("kty").and_then(Value::as_str) == Some("oct") {
                return Err(KeyError::InvalidJwk {
                    index,
                    reason: "a symmetric (oct) key in a SPIFFE bundle",
                });
            }
            if let Some(key) = parse_jwk(index, jwk, usage)? {
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

/// JWK members that only a private or secret key has (RFC 7518 §6.2.2,
/// §6.3.2, §6.4; RFC 8037 §2 `d`): refused on any asymmetric key, in a
/// configured set, a remote one, or a DPoP proof's header.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl Key {
    /// One public JWK (a DPoP proof's `jwk` header) through the import
    /// checks of configured keys: `Ok(None)` for a key this crate does not
    /// verify with, `Err` for a broken or private one.
    pub(crate) fn from_public_jwk(jwk: &Map<String, Value>) -> Result<Option<Self>, KeyError> {
        parse_jwk(0, jwk, Usage::Sig)
    }
}

/// One JWK: `Ok(None)` for a key that is not a signature-verification key of
/// a type this crate verifies with (skipped), `Err` for a broken one.
fn parse_jwk(
    index: usize,
    jwk: &Map<String, Value>,
    usage: Usage,
) -> Result<Option<Key>, KeyError> {
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
    if !usage.admits(opt_str("use")?) {
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
        // RFC 9864 `Ed25519` is EdDSA: only an OKP Ed25519 key allows it
        // (an RSA or EC key naming it is a contradiction, refused below).
        Some(name) => match super::algorithm_named(name) {
            Some(a) => Some(a),
            None if name.eq_ignore_ascii_case("none") => return Err(KeyError::AlgorithmMismatch),
            // An algorithm this crate does not verify with (RSA-OAEP,
            // ES512, Ed448, ESP256, ...).
            None => return Ok(None),
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

/// A remote JWK Set, parsed leniently: every key the policy accepts, with
/// its JWK (to recognise it on the next fetch), and the keys skipped.
#[cfg(feature = "remote")]
pub(super) struct RemoteJwks {
    pub(super) keys: Vec<(Map<String, Value>, Key)>,
    pub(super) skipped: Vec<SkippedKey>,
}

/// A key of a remote set that was not imported, and why (no key material).
#[cfg(feature = "remote")]
pub(super) struct SkippedKey {
    pub(super) index: usize,
    pub(super) kid: Option<String>,
    pub(super) reason: String,
    /// Not a signature key at all (`use: enc`, an unsupported `kty`...):
    /// normal in a provider's set, so not worth a warning.
    pub(super) expected: bool,
}

/// Parses a remote JWK Set: the same policy as a local set for each key,
/// except that an unusable key is skipped (reported in `skipped`) and the
/// others keep serving; `oct` keys are always skipped (a published secret
/// is no secret); keys sharing a `kid` are all skipped (which one the
/// issuer signs with is unknowable).
///
/// # Errors
/// [`KeyError::InvalidJwkSet`] when the document is not a JSON object with a
/// `keys` array.
#[cfg(feature = "remote")]
pub(super) fn parse_remote_jwks(body: &[u8], usage: Usage) -> Result<RemoteJwks, KeyError> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| KeyError::InvalidJwkSet)?;
    let list = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(KeyError::InvalidJwkSet)?;
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |index, kid: Option<&str>, reason: String, expected| {
        skipped.push(SkippedKey {
            index,
            kid: kid.map(str::to_owned),
            reason,
            expected,
        });
    };
    for (index, jwk) in list.iter().enumerate() {
        let Some(jwk) = jwk.as_object() else {
            skip(index, None, "not a json object".into(), false);
            continue;
        };
        let kid = jwk.get("kid").and_then(Value::as_str);
        if jwk.get("kty").and_then(Value::as_str) == Some("oct") {
            skip(
                index,
                kid,
                "a symmetric (oct) key in a published set: refused".into(),
                false,
            );
            continue;
        }
        match parse_jwk(index, jwk, usage) {
            Ok(Some(key)) => keys.push((jwk.clone(), key)),
            Ok(None) => skip(
                index,
                kid,
                "not a signature key this crate verifies with (use, key_ops, kty, crv or alg)"
                    .into(),
                true,
            ),
            Err(e) => skip(index, kid, e.to_string(), false),
        }
    }
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    for (_, key) in &keys {
        if let Some(kid) = key.kid() {
            *seen.entry(kid).or_default() += 1;
        }
    }
    let duplicated: Vec<String> = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(kid, _)| kid.to_owned())
        .collect();
    if !duplicated.is_empty() {
        keys.retain(|(jwk, key)| {
            let dup = key.kid().is_some_and(|k| duplicated.iter().any(|d| d == k));
            if dup {
                let index = list
                    .iter()
                    .position(|v| v.as_object() == Some(jwk))
                    .unwrap_or_default();
                skip(index, key.kid(), "duplicate kid".into(), false);
            }
            !dup
        });
    }
    Ok(RemoteJwks { keys, skipped })
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

    #[cfg(feature = "remote")]
    #[test]
    fn remote_sets_skip_unusable_keys_and_keep_the_others() {
        let good: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/jwks.json")).unwrap();
        let mut list = good["keys"].as_array().unwrap().clone();
        let usable = list.len();
        let weak: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/jwks_rsa1024.json")).unwrap();
        list.push(weak["keys"][0].clone());
        list.push(serde_json::json!({"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kid":"h"}));
        list.push(serde_json::json!({"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB","kid":"e"}));
        list.push(serde_json::json!("not an object"));
        let mut dup = list[0].clone();
        dup["kid"] = "twice".into();
        let mut dup2 = list[1].clone();
        dup2["kid"] = "twice".into();
        list.push(dup);
        list.push(dup2);
        let body = serde_json::to_vec(&serde_json::json!({ "keys": list })).unwrap();
        let parsed = parse_remote_jwks(&body, Usage::Sig).unwrap();
        assert_eq!(parsed.keys.len(), usable);
        assert!(parsed.keys.iter().all(|(_, k)| k.kid() != Some("twice")));
        assert_eq!(parsed.skipped.len(), 6);
        assert!(parsed
            .skipped
            .iter()
            .any(|s| s.reason.contains("oct") && s.kid.as_deref() == Some("h")));
        assert!(parsed
            .skipped
            .iter()
            .any(|s| s.expected && s.kid.as_deref() == Some("e")));
        assert!(parsed.skipped.iter().any(|s| s.reason.contains("1024")));
        assert_eq!(
            parsed
                .skipped
                .iter()
                .filter(|s| s.reason == "duplicate kid")
                .count(),
            2
        );
        assert!(matches!(
            parse_remote_jwks(b"<html>", Usage::Sig),
            Err(KeyError::InvalidJwkSet)
        ));
    }
}
