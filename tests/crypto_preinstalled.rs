//! An application that installed its own jsonwebtoken provider first keeps
//! it: `build()` does not fail or panic, and verification works.
#![cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use tower_jwt_auth::Authenticator;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

#[test]
fn an_already_installed_provider_is_kept() {
    let installed = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    assert!(installed.is_ok(), "nothing was installed before this test");
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let exp = jsonwebtoken::get_current_timestamp() + 60;
    let token = encode(
        &Header::default(),
        &json!({"exp": exp}),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert!(auth.verifier().verify(&token).is_ok());
}
