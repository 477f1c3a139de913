//! RFC 9864 fully-specified algorithm names through a real axum server:
//! `Ed25519` is accepted wherever `EdDSA` is (token `alg`, JWK `alg`,
//! allow-lists), with OKP Ed25519 keys only; `Ed448` and the COSE names
//! `ESP256` / `ESP384` are refused.

use crate::common;

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use tower_jwt_auth::{
    keys::AlgorithmSet, keys::KeyError, Authenticator, AuthenticatorBuilder, ConfigError,
};

fn claims() -> Value {
    json!({"sub": "alice", "iat": now(), "exp": now() + 600})
}

/// A token whose header says `alg` (any name), signed with the fixture key
/// of `signer`.
fn named(alg: &str, kid: Option<&str>, signer: Algorithm) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    raw_token(
        &header.to_string(),
        &claims().to_string(),
        signer,
        &signing_key(signer),
    )
}

async fn serve_with(builder: AuthenticatorBuilder) -> SocketAddr {
    let auth = builder.build().expect("build");
    serve(Router::new().route("/me", get(|| async { "ok" }).layer(auth.layer()))).await
}

/// Every fixture key (RSA, P-256, P-384, Ed25519), each with its `kid`.
fn all_keys() -> AuthenticatorBuilder {
    Authenticator::builder()
        .jwk_set(&fixture_str("jwks.json"))
        .expect("fixture set")
}

#[tokio::test]
async fn a_token_signed_by_an_ed25519_key_whose_header_says_ed25519_is_accepted() {
    let addr = serve_with(all_keys()).await;
    for (what, token) in [
        (
            "Ed25519 with kid",
            named("Ed25519", Some("ed-1"), Algorithm::EdDSA),
        ),
        (
            "EdDSA with kid",
            named("EdDSA", Some("ed-1"), Algorithm::EdDSA),
        ),
    ] {
        assert_eq!(
            fetch_bearer(addr, "/me", &token).await.status,
            200,
            "{what}"
        );
    }
    // One Ed25519 PEM key without a kid: the single key fitting EdDSA.
    let pem = Authenticator::builder()
        .public_key_pem(public_pem(Algorithm::EdDSA))
        .unwrap();
    let addr = serve_with(pem).await;
    let token = named("Ed25519", None, Algorithm::EdDSA);
    assert_eq!(fetch_bearer(addr, "/me", &token).await.status, 200);
}

#[tokio::test]
async fn ed25519_named_with_an_rsa_or_ec_key_is_refused() {
    let addr = serve_with(all_keys()).await;
    for (kid, signer) in [
        ("rsa-1", Algorithm::RS256),
        ("ec256-1", Algorithm::ES256),
        ("ec384-1", Algorithm::ES384),
    ] {
        let token = named("Ed25519", Some(kid), signer);
        let r = fetch_bearer(addr, "/me", &token).await;
        assert_eq!(r.status, 401, "{kid}");
        assert!(r.www.contains("invalid_token"), "{kid}: {}", r.www);
    }
    // A JWK Set whose RSA or EC key claims `alg: Ed25519` is refused.
    let set: Value = serde_json::from_str(&fixture_str("jwks.json")).unwrap();
    for i in 0..3 {
        let mut key = set["keys"][i].clone();
        key["alg"] = json!("Ed25519");
        let doc = json!({"keys": [key]}).to_string();
        assert!(
            matches!(
                Authenticator::builder().jwk_set(&doc),
                Err(ConfigError::Key(KeyError::AlgorithmMismatch))
            ),
            "{}",
            set["keys"][i]["kid"]
        );
    }
}

#[tokio::test]
async fn a_jwk_whose_alg_is_ed25519_verifies_ed25519_tokens() {
    let set: Value = serde_json::from_str(&fixture_str("jwks.json")).unwrap();
    let mut ed = set["keys"][3].clone();
    ed["alg"] = json!("Ed25519");
    let doc = json!({"keys": [ed]}).to_string();
    let addr = serve_with(Authenticator::builder().jwk_set(&doc).unwrap()).await;
    let token = named("Ed25519", Some("ed-1"), Algorithm::EdDSA);
    assert_eq!(fetch_bearer(addr, "/me", &token).await.status, 200);
}

#[tokio::test]
async fn the_allow_list_entry_eddsa_admits_ed25519_and_its_absence_refuses_it() {
    let eddsa = AlgorithmSet::algorithm_named("Ed25519").expect("Ed25519 is known");
    assert_eq!(eddsa, Algorithm::EdDSA);
    let addr = serve_with(all_keys().algorithms([eddsa])).await;
    let token = named("Ed25519", Some("ed-1"), Algorithm::EdDSA);
    assert_eq!(fetch_bearer(addr, "/me", &token).await.status, 200);
    let es = named("ES256", Some("ec256-1"), Algorithm::ES256);
    assert_eq!(fetch_bearer(addr, "/me", &es).await.status, 401);

    let addr = serve_with(all_keys().algorithms([Algorithm::ES256, Algorithm::RS256])).await;
    let r = fetch_bearer(addr, "/me", &token).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("invalid_token"), "{}", r.www);
}

#[tokio::test]
async fn ed448_and_the_cose_ecdsa_names_are_refused() {
    for name in ["Ed448", "ESP256", "ESP384", "ed25519", "ED25519"] {
        assert_eq!(AlgorithmSet::algorithm_named(name), None, "{name}");
    }
    let addr = serve_with(all_keys()).await;
    for (name, kid, signer) in [
        ("Ed448", "ed-1", Algorithm::EdDSA),
        ("ESP256", "ec256-1", Algorithm::ES256),
        ("ESP384", "ec384-1", Algorithm::ES384),
        ("ed25519", "ed-1", Algorithm::EdDSA),
    ] {
        let token = named(name, Some(kid), signer);
        let r = fetch_bearer(addr, "/me", &token).await;
        assert_eq!(r.status, 401, "{name}");
        assert!(r.www.contains("invalid_token"), "{name}: {}", r.www);
    }
}
