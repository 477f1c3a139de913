//! `KeySet::from_jwks_json` and `Key::from_pem` on arbitrary input, and
//! verification with whatever keys they accept.
//!
//! Every input is tried as it is: as a JWK Set (UTF-8, lossily) and as a
//! PEM. Then its first byte picks a structured mode for the rest:
//! - `mode & 3 == 0`: nothing more;
//! - `1`: the rest is DER, wrapped in a PEM with label
//!   `PEM_LABELS[(mode >> 2) & 3]` (reaches the DER/SPKI parsers);
//! - `2`: the rest is a JWK Set, verified through the builder's `jwk_set`;
//! - `3`: a structured JWK `kty SEP crv SEP alg SEP a SEP b [SEP kid]`, with
//!   `a`/`b` raw bytes encoded as the base64url members (reaches the RSA,
//!   EC-point and Ed25519 checks).

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::{keys::Algorithm, Authenticator, clock::FixedClock, keys::Key, keys::KeySet};
use tower_jwt_auth_fuzz::{pem, structured_jwk, valid_tokens, NOW, PEM_LABELS};

/// Valid tokens (every algorithm, with and without `kid`): an imported key
/// set verifies each of them without panicking.
static TOKENS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut t = valid_tokens();
    let claims = serde_json::json!({ "exp": NOW + 60 });
    for alg in [
        Algorithm::RS256,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        t.push(tower_jwt_auth_fuzz::token(alg, None, None, &claims));
    }
    t
});

fn verify_all(keys: KeySet) {
    // Keys must keep their own policy: never an HS* algorithm on a public key.
    for key in keys.iter() {
        let algs = key.algorithms();
        assert!(!algs.is_empty(), "{key:?}");
        let hmac = algs
            .iter()
            .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
        let public = algs
            .iter()
            .any(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
        assert!(!(hmac && public), "{key:?}");
    }
    let Ok(auth) = Authenticator::builder()
        .key_set(keys)
        .clock(FixedClock::new(NOW))
        .build()
    else {
        return;
    };
    for token in TOKENS.iter() {
        let _ = auth.verifier().verify(token);
    }
}

fn try_pem(bytes: &[u8]) {
    if let Ok(key) = Key::from_pem(bytes) {
        let mut set = KeySet::new();
        set.push(key).expect("first key");
        verify_all(set);
    }
}

fn try_jwks(json: &str) {
    if let Ok(set) = KeySet::from_jwks_json(json) {
        assert!(!set.is_empty());
        verify_all(set);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    try_jwks(&text);
    try_pem(data);

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode & 3 {
        0 => {}
        1 => try_pem(pem(PEM_LABELS[usize::from(mode >> 2) & 3], rest).as_bytes()),
        2 => {
            let json = String::from_utf8_lossy(rest);
            if let Ok(b) = Authenticator::builder().jwk_set(&json) {
                if let Ok(auth) = b.clock(FixedClock::new(NOW)).build() {
                    for token in TOKENS.iter() {
                        let _ = auth.verifier().verify(token);
                    }
                }
            }
        }
        _ => try_jwks(&structured_jwk(rest)),
    }
});
