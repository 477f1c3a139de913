//! The demo server: the quickstart, and the surface that outside test
//! suites and load generators drive. Its routes, variables and status codes
//! are listed in the README's "The demo server" section; tests/serve.rs
//! checks them row by row.
//!
//! Run with: `cargo run --example serve`
//! (no key variable: a random secret, and ready tokens and curl lines)
//!
//! Environment: BIND, JWT_SECRET, JWKS_FILE, JWKS_URL, OIDC_ISSUER, REMOTE_CA_FILE
//! (extra trusted roots, PEM, for the remote fetches), INTROSPECTION_URL,
//! INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET and
//! INTROSPECTION_CACHE_TTL (opaque tokens, RFC 7662), JWT_PUBLIC_KEY_PEM,
//! JWT_ALGORITHMS, JWT_ISSUER, JWT_AUDIENCE, JWT_LEEWAY, DPOP
//! (`off`/`allowed`/`required`), PUBLIC_URL (the origin DPoP proofs
//! name in `htu`, and the protected resource of the RFC 9728 metadata;
//! default `http://` + BIND), STEPUP_ACR and STEPUP_MAX_AGE (what
//! `/stepup` requires, RFC 9470); and for benchmarking,
//! JWT_CACHE_CAPACITY (verified-token cache size, default 10000; 0 turns the
//! cache off, e.g. to compare in bench/load.sh).
//!
//! JWKS_FILE and JWT_PUBLIC_KEY_PEM are read again when they change (within
//! 10 s): a valid new version replaces their keys, any other keeps the last
//! good keys with one warning on stderr naming the file.
//!
//! Outgoing fetches (JWKS_URL, OIDC_ISSUER, INTROSPECTION_URL) take the
//! proxy of HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, except for a loopback
//! URL, which is always fetched directly; credentials written in one of
//! those URLs (`https://user:secret@host/`) are never printed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use tower_jwt_auth::{
    dpop::DpopConfig, dpop::DpopMode, remote::HttpClientOptions, remote::Introspection,
    resource::ProtectedResource,
};
use tower_jwt_auth::{keys::AlgorithmSet, Authenticator, Claims, ConfigError, RawClaims};

async fn public() -> &'static str {
    "ok"
}

fn json_body(body: String) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], body)
}

/// The claims exactly as the token carries them: `RawClaims` keeps every
/// digit of a number that `serde_json::Value` would round to a float.
async fn me(claims: Claims<RawClaims>) -> impl IntoResponse {
    json_body(claims.as_str().to_owned())
}

async fn optional(claims: Option<Claims<RawClaims>>) -> impl IntoResponse {
    let claims = claims.as_ref().map_or("null", |c| c.as_str());
    json_body(format!("{{\"claims\":{claims}}}"))
}

/// The process environment; tests pass their own lookup instead.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn list(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<Vec<String>> {
    env(name).map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

pub(crate) struct Config {
    pub(crate) auth: Authenticator<RawClaims>,
    /// Set when no key variable was given: the generated secret.
    pub(crate) generated_secret: Option<String>,
    /// `/stepup`: the accepted `acr` values (STEPUP_ACR).
    pub(crate) stepup_acr: Vec<String>,
    /// `/stepup`: the largest `auth_time` age (STEPUP_MAX_AGE).
    pub(crate) stepup_max_age: Duration,
}

pub(crate) async fn configure(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let mut builder = Authenticator::builder().raw_claims();
    let mut generated_secret = None;
    let secret = env("JWT_SECRET");
    let jwks_file = env("JWKS_FILE");
    let pem_file = env("JWT_PUBLIC_KEY_PEM");
    // Remote keys: fetched once before listening (a failure exits naming the
    // URL), then refreshed in the background; an unknown kid refetches at
    // most once per 30 s; a failing refresh keeps the last good keys.
    let jwks_url = env("JWKS_URL");
    let oidc_issuer = env("OIDC_ISSUER");
    if let Some(url) = &jwks_url {
        builder = builder.jwks_url(url);
    }
    if let Some(issuer) = &oidc_issuer {
        // iss then required and equal to it, unless JWT_ISSUER says otherwise.
        builder = builder.oidc_issuer(issuer);
    }
    // A private CA's roots, trusted besides the public ones, set once for
    // every outgoing fetch (keys, discovery, introspection); host names are
    // always checked.
    if let Some(path) = env("REMOTE_CA_FILE") {
        let pem = std::fs::read(&path).map_err(|e| format!("REMOTE_CA_FILE {path}: {e}"))?;
        let http = HttpClientOptions::new()
            .add_root_certificates_pem(&pem)
            .map_err(|e| format!("REMOTE_CA_FILE {path}: {e}"))?;
        builder = builder.http_client(http);
    }
    // Opaque tokens: with other keys, only a token that is not a JWS goes
    // to the endpoint; alone, every token does.
    let introspection_url = env("INTROSPECTION_URL");
    if let Some(url) = &introspection_url {
        builder = builder.introspection(introspection(env, url)?);
    }
    if let Some(secret) = &secret {
        builder = builder.hmac_secret(secret.as_bytes());
    }
    // Key files are read again every 10 s (the library's default): a new
    // valid version replaces the file's keys whole; a missing or invalid one
    // changes nothing and prints one warning naming the file.
    if let Some(path) = &jwks_file {
        builder = builder
            .jwk_set_file(path)
            .map_err(|e| format!("JWKS_FILE {path}: {e}"))?;
    }
    if let Some(path) = &pem_file {
        builder = builder
            .public_key_pem_file(path)
            .map_err(|e| format!("JWT_PUBLIC_KEY_PEM {path}: {e}"))?;
    }
    let remote = jwks_url.is_some() || oidc_issuer.is_some() || introspection_url.is_some();
    if secret.is_none() && jwks_file.is_none() && pem_file.is_none() && !remote {
        let bytes: [u8; 32] = rand::random();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        builder = builder.hmac_secret(hex.as_bytes());
        generated_secret = Some(hex);
    }
    if let Some(algs) = list(env, "JWT_ALGORITHMS") {
        let algs = algs
            .iter()
            .map(|a| {
                // RFC 9864 `Ed25519` is EdDSA with an Ed25519 key.
                AlgorithmSet::algorithm_named(a)
                    .ok_or_else(|| format!("JWT_ALGORITHMS: unknown algorithm {a:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.algorithms(algs);
    }
    if let Some(iss) = list(env, "JWT_ISSUER") {
        builder = builder.issuer(iss);
    }
    if let Some(aud) = list(env, "JWT_AUDIENCE") {
        builder = builder.audience(aud);
    }
    if let Some(leeway) = env("JWT_LEEWAY") {
        let secs: u64 = leeway
            .trim()
            .parse()
            .map_err(|_| format!("JWT_LEEWAY: not a whole number of seconds: {leeway:?}"))?;
        builder = builder.leeway(Duration::from_secs(secs));
    }
    let public_url = env("PUBLIC_URL").unwrap_or_else(|| {
        format!(
            "http://{}",
            env("BIND").unwrap_or_else(|| "127.0.0.1:3000".into())
        )
    });
    // RFC 9728: the metadata and every challenge's `resource_metadata`. The
    // demo keeps `aud` to JWT_AUDIENCE (an MCP server would require the
    // resource in `aud`, RFC 8707: see examples/mcp.rs).
    builder = builder.resource(
        ProtectedResource::new(public_url.clone())
            .name("tower-jwt-auth demo server")
            .require_audience(false),
    );
    let stepup_acr = list(env, "STEPUP_ACR").unwrap_or_else(|| vec!["urn:example:mfa".into()]);
    if stepup_acr.is_empty() {
        return Err("STEPUP_ACR: no acr value".into());
    }
    let stepup_max_age = match env("STEPUP_MAX_AGE") {
        None => Duration::from_secs(300),
        Some(age) => Duration::from_secs(
            age.trim()
                .parse()
                .map_err(|_| format!("STEPUP_MAX_AGE: not a whole number of seconds: {age:?}"))?,
        ),
    };
    builder = match env("DPOP").as_deref().map(str::trim) {
        None | Some("off") => builder,
        Some(mode @ ("allowed" | "required")) => {
            let mode = if mode == "allowed" {
                DpopMode::Allowed
            } else {
                DpopMode::Required
            };
            builder.dpop(DpopConfig::new(mode).public_url(public_url))
        }
        Some(other) => {
            return Err(format!(
                "DPOP: expected off, allowed or required, not {other:?}"
            ))
        }
    };
    if let Some(capacity) = env("JWT_CACHE_CAPACITY") {
        let tokens: usize = capacity.trim().parse().map_err(|_| {
            format!("JWT_CACHE_CAPACITY: not a whole number of tokens: {capacity:?}")
        })?;
        builder = builder.cache_capacity(tokens);
    }
    let auth = builder
        .build_async()
        .await
        .map_err(|e| match (&e, &jwks_url, &oidc_issuer) {
            (ConfigError::RemoteKeys(_), Some(_), _) => format!("JWKS_URL: {e}"),
            (ConfigError::RemoteKeys(_), None, Some(_)) => format!("OIDC_ISSUER: {e}"),
            (ConfigError::InvalidResource { .. }, _, _) => {
                format!("PUBLIC_URL: not a usable public URL: {e}")
            }
            (ConfigError::Introspection(_), _, _) => format!("INTROSPECTION_URL: {e}"),
            _ => format!("configuration: {e}"),
        })?;
    Ok(Config {
        auth,
        generated_secret,
        stepup_acr,
        stepup_max_age,
    })
}

/// INTROSPECTION_URL with its credentials (HTTP Basic) and cache TTL; the
/// transport is every fetch's (REMOTE_CA_FILE; the default 10 s timeout and
/// 1 MiB answer limit).
fn introspection(env: &dyn Fn(&str) -> Option<String>, url: &str) -> Result<Introspection, String> {
    let mut config = Introspection::endpoint(url);
    match (
        env("INTROSPECTION_CLIENT_ID"),
        env("INTROSPECTION_CLIENT_SECRET"),
    ) {
        (Some(id), secret) => {
            config = config.client_secret_basic(id, secret.unwrap_or_default());
        }
        (None, Some(_)) => {
            return Err("INTROSPECTION_CLIENT_SECRET is set without INTROSPECTION_CLIENT_ID".into())
        }
        (None, None) => {}
    }
    if let Some(ttl) = env("INTROSPECTION_CACHE_TTL") {
        let secs: u64 = ttl.trim().parse().map_err(|_| {
            format!("INTROSPECTION_CACHE_TTL: not a whole number of seconds: {ttl:?}")
        })?;
        config = config.cache_ttl(Duration::from_secs(secs));
    }
    Ok(config)
}

pub(crate) fn app(config: &Config) -> Router {
    let auth = &config.auth;
    let stepup = auth
        .layer()
        .require_acr(config.stepup_acr.iter().cloned())
        .max_auth_age(config.stepup_max_age);
    let admin = auth.layer().require_scope("admin");
    // `scopes_supported` lists what the mounted layers require (`admin`).
    let metadata = auth.resource_metadata().map(|m| m.with_scopes_of(&admin));
    let router = Router::new()
        .route("/public", get(public))
        .route("/me", get(me).layer(auth.layer()))
        .route("/admin", get(me).layer(admin))
        .route("/optional", get(optional).layer(auth.optional()))
        .route("/stepup", get(me).layer(stepup));
    match metadata {
        Some(metadata) => router.merge(metadata.router()),
        None => router,
    }
}

/// Tokens for the zero-setup quickstart, signed with the generated secret.
pub(crate) fn demo_token(
    env: &dyn Fn(&str) -> Option<String>,
    secret: &str,
    scope: &str,
) -> Result<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let mut claims = json!({"sub": "demo-user", "scope": scope, "iat": now, "exp": now + 3600});
    if let Some(iss) = list(env, "JWT_ISSUER").and_then(|v| v.into_iter().next()) {
        claims["iss"] = json!(iss);
    }
    if let Some(aud) = list(env, "JWT_AUDIENCE").and_then(|v| v.into_iter().next()) {
        claims["aud"] = json!(aud);
    }
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| format!("signing the demo token: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    // Warnings (a key file version not used, a remote key skipped) on
    // stderr, one line each.
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let bind = process_env("BIND").unwrap_or_else(|| "127.0.0.1:3000".into());
    let addr: SocketAddr = bind
        .parse()
        .map_err(|_| format!("BIND: not an address: {bind:?}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // PUBLIC_URL defaults to http:// + BIND; with port 0 in BIND, the port
    // actually bound is the one clients reach.
    let bound = format!("http://{addr}");
    let env = &|name: &str| match process_env(name) {
        None if name == "PUBLIC_URL" => Some(bound.clone()),
        other => other,
    };
    let config = configure(env).await?;

    if let Some(secret) = &config.generated_secret {
        let user = demo_token(env, secret, "read")?;
        let admin = demo_token(env, secret, "read admin")?;
        println!("No JWT_SECRET, JWKS_FILE or JWT_PUBLIC_KEY_PEM set: using a random HMAC secret.");
        println!();
        println!("token for /me (scope \"read\", valid 1 h):");
        println!("  {user}");
        println!("token for /admin (scope \"read admin\"):");
        println!("  {admin}");
        println!();
        println!("try:");
        println!("  curl -i http://{addr}/me -H 'Authorization: Bearer {user}'");
        println!("  curl -i http://{addr}/admin -H 'Authorization: Bearer {admin}'");
        println!("  curl -i http://{addr}/admin -H 'Authorization: Bearer {user}'   # 403");
        println!("  curl -i http://{addr}/me                                         # 401");
        println!();
    }
    let algs: Vec<String> = config
        .auth
        .verifier()
        .algorithms()
        .iter()
        .map(|a| format!("{a:?}"))
        .collect();
    if algs.is_empty() {
        println!("accepting alg: none (every token is introspected)");
    } else {
        println!("accepting alg: {}", algs.join(", "));
    }
    if let Some(mode @ ("allowed" | "required")) = env("DPOP").as_deref() {
        println!(
            "DPoP {mode}: proofs must name htu = {}/<path>",
            env("PUBLIC_URL").unwrap_or_default().trim_end_matches('/')
        );
    }
    println!("listening on http://{addr}");
    axum::serve(listener, app(&config))
        .await
        .map_err(|e| format!("server error: {e}"))
}
