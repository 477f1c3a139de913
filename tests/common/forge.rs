//! The one place tests sign tokens without `TestIssuer`
//! (`tower_jwt_auth::testing`): jsonwebtoken directly. Use `TestIssuer`
//! for a new test unless it needs what only this module does:
//!
//! - the fixed keys of tests/fixtures and [`SECRET`]: tests configure the
//!   authenticator (or an example, through its environment) with those
//!   files, JWK Sets and kids, and `TestIssuer` only signs with the key it
//!   generates ([`token`], [`hs256`], [`signing_key`]);
//! - byte-exact header and payload JSON (duplicate members, odd `alg`,
//!   `typ`, `crit`, `kid` values), which `TestIssuer` never produces
//!   ([`raw_token`], [`sign`]);
//! - keys an attacker or a misconfiguration would use, which the crate
//!   refuses to generate or import: other HMAC secrets (empty, short, a
//!   public key's bytes), the attacker's RSA key, RSA 1024
//!   ([`secret_key`], [`pem_key`], [`encode`]).
//!
//! Outside tests/common, only three suites call jsonwebtoken's signer
//! themselves, on purpose: tests/vectors (self-contained, built with the
//! pure-Rust backend alone) and crypto_backends / crypto_preinstalled
//! (which test that jsonwebtoken's own `encode` finds a provider).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;

use super::{b64, fixture, SECRET};

/// The private key that signs for `alg` (fixtures).
pub fn signing_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(SECRET.as_bytes())
        }
        Algorithm::ES256 => EncodingKey::from_ec_pem(&fixture("ec256_private.pem")).unwrap(),
        Algorithm::ES384 => EncodingKey::from_ec_pem(&fixture("ec384_private.pem")).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&fixture("ed25519_private.pem")).unwrap(),
        _ => EncodingKey::from_rsa_pem(&fixture("rsa2048_private.pem")).unwrap(),
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

/// A token for `claims`, signed for `alg` (optionally with a `kid`).
pub fn token(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    ensure_provider();
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &signing_key(alg)).expect("sign")
}

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
