//! Tokens signed with the fixed keys of tests/fixtures, and the one place
//! tests sign with jsonwebtoken directly.
//!
//! [`token`] and [`hs256`] mint through `TestIssuer`
//! (`tower_jwt_auth::testing`), built once per algorithm with
//! `TestIssuer::from_pem` / `from_secret` from the fixture private keys and
//! [`SECRET`]: tests configure the authenticator (or an example, through its
//! environment) with those files, JWK Sets and kids. Use `TestIssuer` itself
//! for a new test unless it needs a fixture key, or what only the
//! jsonwebtoken half of this module does:
//!
//! - byte-exact header and payload JSON (duplicate members, odd `alg`,
//!   `typ`, `crit`, `kid` values, DPoP proofs carrying a `jwk`), which
//!   `TestIssuer` never produces ([`raw_token`], [`sign`], with the fixture
//!   [`signing_key`]);
//! - keys an attacker or a misconfiguration would use, which the crate
//!   refuses to generate or import, so `TestIssuer` refuses them too: other
//!   HMAC secrets (empty, short, a public key's bytes, [`SECRET`] for
//!   `HS384`/`HS512`, which [`token`] signs this way), the attacker's RSA
//!   key, RSA 1024 ([`secret_key`], [`pem_key`], [`encode`]).
//!
//! Outside tests/common, only three suites call jsonwebtoken's signer
//! themselves, on purpose: tests/vectors (self-contained, built with the
//! pure-Rust backend alone) and crypto_backends / crypto_preinstalled
//! (which test that jsonwebtoken's own `encode` finds a provider).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;
use tower_jwt_auth::testing::TestIssuer;

use super::{b64, fixture, SECRET};

/// The fixture private key PEM for an asymmetric `alg`.
fn private_pem(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ec256_private.pem",
        Algorithm::ES384 => "ec384_private.pem",
        Algorithm::EdDSA => "ed25519_private.pem",
        _ => "rsa2048_private.pem",
    }
}

/// The `TestIssuer` signing for `alg` with its fixture key (made once per
/// algorithm); `None` for `HS384`/`HS512`, for which [`SECRET`] (36 bytes)
/// is too short (RFC 7518 §3.2), so `TestIssuer::from_secret` refuses it.
pub fn fixture_issuer(alg: Algorithm) -> Option<TestIssuer> {
    static ISSUERS: OnceLock<Mutex<HashMap<Algorithm, Option<TestIssuer>>>> = OnceLock::new();
    let mut issuers = ISSUERS.get_or_init(Default::default).lock().unwrap();
    issuers
        .entry(alg)
        .or_insert_with(|| match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                TestIssuer::from_secret(alg, SECRET).ok()
            }
            _ => Some(
                TestIssuer::from_pem(alg, fixture(private_pem(alg)))
                    .unwrap_or_else(|e| panic!("fixture {}: {e}", private_pem(alg))),
            ),
        })
        .clone()
}

/// The private key that signs for `alg` (fixtures), for the byte-exact
/// tokens of [`raw_token`] and DPoP proofs: what [`token`] signs with.
pub fn signing_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(SECRET.as_bytes())
        }
        _ => pem_key(private_pem(alg)),
    }
}

/// With both crypto features on (`--all-features`), jsonwebtoken's own
/// `encode` needs a process default; building an authenticator installs it.
pub fn ensure_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tower_jwt_auth::Authenticator::builder()
            .hmac_secret([0u8; 32])
            .build();
    });
}

/// A token holding exactly `claims`, signed for `alg` with its fixture key
/// (header `alg`, `typ: JWT` and, if given, `kid`): by the fixture
/// `TestIssuer` ([`fixture_issuer`]), or for `HS384`/`HS512`, which
/// [`SECRET`] is too short for, by jsonwebtoken.
pub fn token(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    match fixture_issuer(alg) {
        Some(issuer) => issuer.sign_with_kid(claims, kid),
        None => {
            let mut header = Header::new(alg);
            header.kid = kid.map(str::to_owned);
            encode(&header, claims, &secret_key(SECRET)).expect("sign")
        }
    }
}

/// [`token`] for `HS256` without a `kid`.
pub fn hs256(claims: &Value) -> String {
    token(Algorithm::HS256, None, claims)
}

/// A token whose header and payload are exactly these JSON texts, validly
/// signed with `key` for `alg`.
pub fn raw_token(
    header_json: &str,
    payload_json: &str,
    alg: Algorithm,
    key: &EncodingKey,
) -> String {
    ensure_provider();
    let message = format!("{}.{}", b64(header_json), b64(payload_json));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{sig}")
}

/// An HMAC key holding exactly `secret` (any length, any bytes).
pub fn secret_key(secret: impl AsRef<[u8]>) -> EncodingKey {
    EncodingKey::from_secret(secret.as_ref())
}

/// The private key of the PEM fixture `name` (RSA or EC or Ed25519, by its
/// name), e.g. `attacker_rsa_private.pem` or `rsa1024_private.pem`.
pub fn pem_key(name: &str) -> EncodingKey {
    let pem = fixture(name);
    if name.starts_with("ec") {
        EncodingKey::from_ec_pem(&pem)
    } else if name.starts_with("ed") {
        EncodingKey::from_ed_pem(&pem)
    } else {
        EncodingKey::from_rsa_pem(&pem)
    }
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// jsonwebtoken's `encode`, after the crypto provider is installed.
pub fn encode(
    header: &Header,
    claims: &impl Serialize,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<String> {
    ensure_provider();
    jsonwebtoken::encode(header, claims, key)
}

/// jsonwebtoken's signature of `message` (base64url), after the crypto
/// provider is installed.
pub fn sign(
    message: &[u8],
    key: &EncodingKey,
    alg: Algorithm,
) -> jsonwebtoken::errors::Result<String> {
    ensure_provider();
    jsonwebtoken::crypto::sign(message, key, alg)
}
