//! `--all-features` turns on both jsonwebtoken backends, where jsonwebtoken
//! alone cannot pick a process default and its first `decode` panics. This
//! test runs in its own process (its own test binary) with nothing installed
//! before `build()`, and proves nothing panics.
#![cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use tower_jwt_auth::Authenticator;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

#[test]
fn both_backends_on_build_installs_one_and_nothing_panics() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    // jsonwebtoken's own encode now finds the provider build() installed.
    let exp = jsonwebtoken::get_current_timestamp() + 60;
    let token = encode(
        &Header::default(),
        &json!({"exp": exp}),
        &EncodingKey::from_secret(SECRET),
    )
    .expect("encode after build() must not panic");
    assert!(auth.verifier().verify(&token).is_ok());
    // A second build with a provider already installed is fine.
    let again = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    assert!(again.verifier().verify(&token).is_ok());
}
