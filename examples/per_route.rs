//! Per-route rules with axum: one authenticator, one layer per route, each
//! with its own rules; keys are loaded once and shared.
//!
//! Run with: `JWT_SECRET=a-secret-of-at-least-thirty-two-bytes cargo run --example per_route`
//! (`BIND` sets the address, default `127.0.0.1:3000`)
//! (without `JWT_SECRET` it makes up a secret; either way it prints tokens
//! and curl lines to try).
//!
//! | route | who gets in |
//! |---|---|
//! | `GET /public` | everyone |
//! | `GET /me` | any valid token for audience `api` |
//! | `GET /reports` | scope `reports:read` or `admin` (any of) |
//! | `GET /admin` | role `admin` (the `roles` claim) and scope `admin` |
//! | `GET /optional` | everyone; says who is signed in when a valid token is sent |
//! | `GET /billing/invoices` | audience `billing` (not `api`), role `accountant` |

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_jwt_auth::{Authenticator, Claims, ConfigError};

const ISSUER: &str = "https://issuer.example";

async fn public() -> &'static str {
    "ok"
}

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

async fn optional(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => format!("signed in as {}", c["sub"].as_str().unwrap_or("?")),
        None => "anonymous".to_owned(),
    }
}

async fn invoices(claims: Claims) -> String {
    format!("invoices for {}", claims["sub"].as_str().unwrap_or("?"))
}

/// The authenticator: one HMAC secret, one issuer, audience `api` by default.
pub fn authenticator(secret: &str) -> Result<Authenticator, ConfigError> {
    Authenticator::builder()
        .hmac_secret(secret)
        .issuer([ISSUER])
        .audience(["api"])
        .build()
}

/// The routes, each with its own rules.
pub fn app(auth: &Authenticator) -> Router {
    // A nested router for another audience: its layer replaces `api` with
    // `billing`, so an `api` token does not open it. `route_layer` leaves
    // unknown paths a 404 rather than a 401.
    let billing = Router::new().route("/invoices", get(invoices)).route_layer(
        auth.layer()
            .audience(["billing"])
            .require_role("accountant"),
    );
    Router::new()
        .route("/public", get(public))
        .route("/me", get(me).layer(auth.layer()))
        .route(
            "/reports",
            get(me).layer(auth.layer().require_any_scope(["reports:read", "admin"])),
        )
        .route(
            "/admin",
            get(me).layer(auth.layer().require_role("admin").require_scope("admin")),
        )
        .route("/optional", get(optional).layer(auth.optional()))
        .nest("/billing", billing)
}

/// A token signed with `secret` (for the printed curl lines and the tests).
pub fn token(secret: &str, claims: Value) -> Result<String, jsonwebtoken::errors::Error> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = claims;
    claims["iss"] = json!(ISSUER);
    claims["exp"] = json!(now + 3600);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| {
        let bytes: [u8; 32] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    let auth = authenticator(&secret)?;
    let listener = tokio::net::TcpListener::bind(
        std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into()),
    )
    .await?;
    let addr = listener.local_addr()?;
    let user = token(
        &secret,
        json!({"sub": "ada", "aud": "api", "scope": "reports:read"}),
    )?;
    let admin = token(
        &secret,
        json!({"sub": "root", "aud": "api", "scope": "admin", "roles": ["admin"]}),
    )?;
    let accountant = token(
        &secret,
        json!({"sub": "bo", "aud": "billing", "roles": ["accountant"]}),
    )?;
    for (path, t) in [
        ("/me", &user),
        ("/reports", &user),
        ("/admin", &user),
        ("/admin", &admin),
        ("/billing/invoices", &user),
        ("/billing/invoices", &accountant),
    ] {
        println!("curl -i http://{addr}{path} -H 'Authorization: Bearer {t}'");
    }
    println!("listening on http://{addr}");
    axum::serve(listener, app(&auth)).await?;
    Ok(())
}
