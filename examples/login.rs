//! The token lifecycle end to end: login, access + refresh tokens, refresh
//! rotation with reuse detection, logout through a revocation list that
//! several instances share through Redis: a logout on one instance is
//! refused by every other within 2 seconds.
//!
//! Run with: `cargo run --example login`
//! (prints the demo password; `REDIS_URL=redis://127.0.0.1:6379` to share
//! the revocation list between instances)
//!
//! Environment: BIND (127.0.0.1:3001), JWT_SECRET (generated when unset),
//! LOGIN_USER (demo), LOGIN_PASSWORD (generated when unset), REDIS_URL,
//! ACCESS_TTL (300), REFRESH_TTL (86400).
//!
//! The one demo account is compared in constant time. A real application
//! keeps password hashes (argon2 or similar), never passwords.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tower_jwt_auth::revocation::MemoryRevocation;
use tower_jwt_auth::{issue::RefreshError, issue::TokenIssuer, issue::TokenPair};
use tower_jwt_auth::{Authenticator, Claims};

/// The process environment; tests pass their own lookup instead.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub(crate) struct Config {
    pub(crate) issuer: TokenIssuer,
    pub(crate) auth: Authenticator,
    pub(crate) user: String,
    pub(crate) password: String,
    /// Set when JWT_SECRET was not given.
    pub(crate) generated_secret: bool,
    /// Set when LOGIN_PASSWORD was not given.
    pub(crate) generated_password: bool,
    /// Whether the revocation list is in Redis.
    pub(crate) shared: bool,
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn seconds(env: &dyn Fn(&str) -> Option<String>, name: &str, default: u64) -> Result<u64, String> {
    match env(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "{name}: not a positive whole number of seconds: {v:?}"
            )),
        },
    }
}

/// Builds the issuer and the authenticator from `env`. With `REDIS_URL`,
/// must run within a Tokio runtime (the Redis connection lives there);
/// Redis need not be up yet: protected routes answer 503 until it is.
pub(crate) fn configure(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let (secret, generated_secret) = match env("JWT_SECRET") {
        Some(s) => (s, false),
        None => (random_hex(32), true),
    };
    let (password, generated_password) = match env("LOGIN_PASSWORD") {
        Some(p) => (p, false),
        None => (random_hex(12), true),
    };
    let user = env("LOGIN_USER").unwrap_or_else(|| "demo".into());
    let access_ttl = seconds(env, "ACCESS_TTL", 300)?;
    let refresh_ttl = seconds(env, "REFRESH_TTL", 86_400)?;

    let mut builder = TokenIssuer::builder()
        .hmac_secret(secret.as_bytes())
        .access_ttl(Duration::from_secs(access_ttl))
        .refresh_ttl(Duration::from_secs(refresh_ttl));
    let shared = match env("REDIS_URL") {
        Some(url) => {
            builder = builder.revocation(redis_revocation(&url)?);
            true
        }
        None => {
            builder = builder.revocation(MemoryRevocation::new());
            false
        }
    };
    let issuer = builder.build().map_err(|e| format!("JWT_SECRET: {e}"))?;
    let auth = issuer
        .authenticator_builder()
        .build()
        .map_err(|e| format!("configuration: {e}"))?;
    Ok(Config {
        issuer,
        auth,
        user,
        password,
        generated_secret,
        generated_password,
        shared,
    })
}

fn redis_revocation(url: &str) -> Result<tower_jwt_auth::revocation::RedisRevocation, String> {
    use tower_jwt_auth::revocation::{RedisRevocation, RedisStore};
    let store = RedisStore::open(url).map_err(|e| format!("REDIS_URL: {e}"))?;
    // Answers from Redis are trusted for 1 s: a logout on another instance
    // is seen here within that (the promise is 2 s).
    Ok(RedisRevocation::builder(store)
        .local_cache(Duration::from_secs(1))
        .build())
}

struct AppState {
    issuer: TokenIssuer,
    user: String,
    password: String,
}

pub(crate) fn app(config: &Config) -> Router {
    let state = Arc::new(AppState {
        issuer: config.issuer.clone(),
        user: config.user.clone(),
        password: config.password.clone(),
    });
    Router::new()
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout).layer(config.auth.layer()))
        .route("/me", get(me).layer(config.auth.layer()))
        .with_state(state)
}

/// A JSON body; token responses are never cached (RFC 6749 §5.1).
fn json_response(status: StatusCode, body: Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn error(status: StatusCode, code: &str) -> Response {
    json_response(status, json!({ "error": code }))
}

fn pair_response(pair: &TokenPair) -> Response {
    match serde_json::to_value(pair) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    }
}

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// Both comparisons always run (no short circuit), each in constant time
/// for inputs of the expected length.
fn credentials_match(state: &AppState, username: &str, password: &str) -> bool {
    let user_ok = username.as_bytes().ct_eq(state.user.as_bytes());
    let pass_ok = password.as_bytes().ct_eq(state.password.as_bytes());
    bool::from(user_ok & pass_ok)
}

async fn login(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<LoginRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if !credentials_match(&state, &req.username, &req.password) {
        return error(StatusCode::UNAUTHORIZED, "invalid_grant");
    }
    match state.issuer.issue(&req.username, &json!({})) {
        Ok(pair) => pair_response(&pair),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    }
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<RefreshRequest>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    match state.issuer.refresh(&req.refresh_token).await {
        Ok(pair) => pair_response(&pair),
        Err(RefreshError::Unavailable(_)) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        Err(RefreshError::Issue(_)) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        // Invalid, revoked, reused (the family is now revoked), superseded
        // by a retry of the same token: all the same to the client
        // (RFC 6749 §5.2).
        Err(_) => error(StatusCode::UNAUTHORIZED, "invalid_grant"),
    }
}

#[derive(Deserialize)]
struct LogoutRequest {
    refresh_token: Option<String>,
}

async fn logout(State(state): State<Arc<AppState>>, claims: Claims, body: Bytes) -> Response {
    let unavailable = || error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    // The access token's session: every token descended from that login.
    if let Some(sid) = claims["sid"].as_str() {
        if state.issuer.revoke_session(sid).await.is_err() {
            return unavailable();
        }
    }
    // A refresh token of the same user from another session goes too.
    if !body.is_empty() {
        let Ok(req) = serde_json::from_slice::<LogoutRequest>(&body) else {
            return error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        if let Some(token) = req.refresh_token {
            if let Ok(refresh) = state.issuer.verify_refresh_token(&token) {
                if refresh["sub"] == claims["sub"] {
                    if let Some(sid) = refresh["sid"].as_str() {
                        if state.issuer.revoke_session(sid).await.is_err() {
                            return unavailable();
                        }
                    }
                }
            }
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("login: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let env = &process_env;
    let config = configure(env)?;
    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:3001".into());
    let addr: SocketAddr = bind
        .parse()
        .map_err(|_| format!("BIND: not an address: {bind:?}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;

    if config.generated_secret {
        eprintln!(
            "warning: JWT_SECRET is not set: using a random secret; every token dies with this \
             process, and other instances cannot verify them"
        );
    }
    if config.generated_password {
        println!(
            "demo account: username {:?}, password {:?} (set LOGIN_USER / LOGIN_PASSWORD)",
            config.user, config.password
        );
    }
    println!(
        "revocation list: {}",
        if config.shared {
            "redis (REDIS_URL), shared by every instance"
        } else {
            "in memory (set REDIS_URL to share it)"
        }
    );
    println!("try:");
    println!(
        "  curl -s http://{addr}/login -H 'content-type: application/json' -d '{{\"username\":\"{}\",\"password\":\"...\"}}'",
        config.user
    );
    println!("  curl -s http://{addr}/me -H 'Authorization: Bearer <access_token>'");
    println!("  curl -s http://{addr}/refresh -H 'content-type: application/json' -d '{{\"refresh_token\":\"...\"}}'");
    println!("  curl -si -X POST http://{addr}/logout -H 'Authorization: Bearer <access_token>'");
    println!("listening on http://{addr}");
    axum::serve(listener, app(&config))
        .await
        .map_err(|e| format!("server error: {e}"))
}
