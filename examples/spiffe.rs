//! SPIFFE workload identity: a service accepts JWT-SVIDs of its trust
//! domain, verified against the domain's trust bundle.
//!
//! A SPIRE agent (or any SPIFFE implementation) hands workloads JWT-SVIDs:
//! JWTs whose `sub` is the caller's SPIFFE ID (`spiffe://example.org/ns/prod/sa/web`)
//! and whose `aud` names this service. They verify against the trust
//! bundle's `jwt-svid` keys. The bundle here is made from the repository's
//! test key (a real one comes from the SPIRE agent, a file it writes, or a
//! bundle endpoint: `spiffe_bundle_file`, `spiffe_bundle_url`).
//!
//! Run with: `cargo run --example spiffe` (listens on `BIND`, default
//! 127.0.0.1:3000), then try the printed curl lines.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower_jwt_auth::{rules::SpiffeIds, Authenticator, Claims, ConfigError};

/// The trust domain's JWK Set, whose P-256 key becomes the bundle's
/// `jwt-svid` key.
const JWKS: &str = include_str!("../tests/fixtures/jwks.json");
/// The key that signs SVIDs; in SPIFFE, only the SPIRE server holds it.
const SIGNING_KEY: &str = include_str!("../tests/fixtures/ec256_private.pem");

/// This service's own SPIFFE ID: the audience its callers' SVIDs name.
pub const AUDIENCE: &str = "spiffe://example.org/ns/prod/sa/api";

/// The trust bundle of `example.org`, as SPIRE publishes it: a `jwt-svid`
/// key (and an `x509-svid` key would sit beside it).
pub fn bundle() -> Result<String, Box<dyn std::error::Error>> {
    let set: Value = serde_json::from_str(JWKS)?;
    let mut key = set["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == "ec256-1"))
        .cloned()
        .ok_or("no P-256 key in the fixture set")?;
    key["use"] = json!("jwt-svid");
    Ok(json!({"keys": [key], "spiffe_sequence": 1}).to_string())
}

/// Accepts JWT-SVIDs of `example.org` under `/ns/prod`, addressed to us.
pub fn authenticator(bundle: &str) -> Result<Authenticator, ConfigError> {
    Authenticator::builder()
        .spiffe_bundle(bundle)?
        .spiffe(SpiffeIds::trust_domain("example.org").path_prefix("/ns/prod"))
        .audience([AUDIENCE])
        .build()
}

/// A JWT-SVID for `spiffe_id`, as the SPIRE agent would hand it out.
pub fn svid(spiffe_id: &str) -> Result<String, Box<dyn std::error::Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec256-1".into());
    let claims = json!({"sub": spiffe_id, "aud": [AUDIENCE], "iat": now, "exp": now + 300});
    Ok(encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(SIGNING_KEY.as_bytes())?,
    )?)
}

/// `/whoami` answers with the caller's SPIFFE ID.
pub fn app(auth: &Authenticator) -> Router {
    Router::new().route(
        "/whoami",
        get(|claims: Claims| async move { Json(json!({"spiffe_id": claims.as_ref()["sub"]})) })
            .layer(auth.layer()),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = authenticator(&bundle()?)?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(bind.parse::<SocketAddr>()?).await?;
    let addr = listener.local_addr()?;
    let web = svid("spiffe://example.org/ns/prod/sa/web")?;
    let dev = svid("spiffe://example.org/ns/dev/sa/web")?;
    println!("try (a prod workload, accepted; a dev workload, refused):");
    println!("  curl -i http://{addr}/whoami -H 'Authorization: Bearer {web}'");
    println!("  curl -i http://{addr}/whoami -H 'Authorization: Bearer {dev}'");
    println!("listening on http://{addr}");
    axum::serve(listener, app(&auth)).await?;
    Ok(())
}
