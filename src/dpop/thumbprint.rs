//! JWK SHA-256 thumbprints (RFC 7638), the value of a DPoP-bound token's
//! `cnf.jkt` (RFC 9449 §6.1).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without
/// padding: SHA-256 over the required members only (`e`, `kty`, `n` for RSA;
/// `crv`, `kty`, `x`, `y` for EC; `crv`, `kty`, `x` for OKP), in
/// lexicographic order, as JSON without whitespace.
///
/// `None` for a key type without thumbprint rules here, or a required
/// member that is missing or not a string.
///
/// ```
/// // RFC 7638 §3.1.
/// let jwk = serde_json::json!({
///     "kty": "RSA",
///     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
///     "e": "AQAB",
///     "alg": "RS256",
///     "kid": "2011-04-29"
/// });
/// let jkt = tower_jwt_auth::dpop::jwk_thumbprint(jwk.as_object().unwrap());
/// assert_eq!(jkt.as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
/// ```
#[must_use]
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = String::with_capacity(512);
    canonical.push('{');
    for (i, name) in members.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push('"');
        canonical.push_str(name);
        canonical.push_str("\":");
        // A JSON string with the escaping RFC 7638 §3.3 asks for; base64url
        // and curve names need none, but a hostile key must not break out.
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// base64url(SHA-256(`token`)): a proof's `ath` (RFC 9449 §4.2).
pub(crate) fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jkt(v: Value) -> Option<String> {
        jwk_thumbprint(v.as_object().unwrap())
    }

    #[test]
    fn rfc9449_section_4_2_key_has_the_thumbprint_of_section_6_1() {
        let key = json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256"
        });
        assert_eq!(
            jkt(key).as_deref(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
    }

    #[test]
    fn rfc7638_section_3_1_example_thumbprint() {
        // RFC 7638 §3.1: the RSA key (with its optional alg and kid, which
        // do not count) and its SHA-256 thumbprint.
        let key = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            jkt(key).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn rfc9449_section_7_1_access_token_hash() {
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn optional_members_do_not_change_the_thumbprint() {
        let a = jkt(
            json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
        );
        let b = jkt(
            json!({"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k","use":"sig","crv":"Ed25519","kty":"OKP","alg":"EdDSA"}),
        );
        assert!(a.is_some());
        assert_eq!(a, b);
    }

    #[test]
    fn unknown_types_and_missing_or_mistyped_members_have_no_thumbprint() {
        assert_eq!(jkt(json!({"kty":"oct","k":"AAAA"})), None);
        assert_eq!(jkt(json!({"kty":"EC","crv":"P-256","x":"AA"})), None);
        assert_eq!(jkt(json!({"kty":"RSA","n":"AA","e":65537})), None);
        assert_eq!(jkt(json!({"n":"AA","e":"AQAB"})), None);
    }
}
