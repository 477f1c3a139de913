//! Keys from an OpenID Connect issuer, found by discovery: the authenticator
//! reads `<issuer>/.well-known/openid-configuration`, checks that its
//! `issuer` is exactly the configured one, fetches the keys from its
//! `jwks_uri`, pins `iss` to the issuer, and keeps the keys fresh in the
//! background (an unknown `kid` triggers one shared, rate-limited refetch).
//!
//! To run without an identity provider, this example starts a tiny local
//! issuer on 127.0.0.1 (discovery + JWKS, the repository's test key), signs a
//! token with its private key, and protects `/me` with keys discovered from it.
//! Against a real provider, only the issuer URL changes, e.g.
//! `https://keycloak.example/realms/main` or `https://tenant.auth0.com/`.
//!
//! Run with: `cargo run --example oidc` (listens on `BIND`, default
//! 127.0.0.1:3000)

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower_jwt_auth::{remote::RemoteOptions, Authenticator, Claims};

/// The public key set the local issuer publishes (P-256, kid `ec256-1`).
const JWKS: &str = include_str!("../tests/fixtures/jwks.json");
/// The issuer's signing key; a real provider never lets it out.
const SIGNING_KEY: &str = include_str!("../tests/fixtures/ec256_private.pem");

/// A local issuer: discovery at `/.well-known/openid-configuration`, keys at
/// `/jwks`. Returns its issuer URL.
async fn start_local_issuer() -> Result<String, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let discovery = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(discovery) }),
        )
        .route("/jwks", get(|| async { JWKS }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(issuer)
}

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = start_local_issuer().await?;

    // Discovery and the first key fetch happen here; a failure is an error
    // naming the URL (plain http is accepted because the issuer is loopback).
    let auth = Authenticator::builder()
        .oidc_issuer(&issuer)
        .audience(["api"])
        .remote_options(RemoteOptions::new().refresh_interval(Duration::from_secs(300)))
        .build_async()
        .await?;

    // A token as the issuer would mint it.
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec256-1".into());
    let claims = json!({"iss": issuer, "aud": "api", "sub": "ada", "iat": now, "exp": now + 600});
    let token = encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(SIGNING_KEY.as_bytes())?,
    )?;

    // Outside tower: verify_async waits for a refetch only for unknown kids.
    let verified = auth.verifier().verify_async(&token).await?;
    println!("verified outside tower: sub = {}", verified.as_ref()["sub"]);
    let other_issuer = encode(
        &header,
        &json!({"iss": "https://other.example", "aud": "api", "exp": now + 600}),
        &EncodingKey::from_ec_pem(SIGNING_KEY.as_bytes())?,
    )?;
    let refused = auth.verifier().verify_async(&other_issuer).await;
    println!("a token from another iss: {:?}", refused.map(|_| ()));

    let app = Router::new()
        .route("/public", get(|| async { "ok" }))
        .route("/me", get(me).layer(auth.layer()));
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(bind.parse::<SocketAddr>()?).await?;
    let addr = listener.local_addr()?;
    println!("issuer: {issuer}");
    println!("try:");
    println!("  curl -i http://{addr}/me -H 'Authorization: Bearer {token}'");
    println!("listening on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}
