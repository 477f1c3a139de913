//! A forward-auth service for a gateway: nginx `auth_request`, Traefik
//! ForwardAuth or Envoy HTTP `ext_authz` asks it "may this request
//! through, and as whom?" before proxying to the upstream.
//!
//! Run with: `JWT_SECRET=a-secret-of-at-least-thirty-two-bytes cargo run --example forward_auth`
//! (`BIND` sets the address, default `127.0.0.1:9000`; `ORIGIN` is `nginx`
//! (default), `traefik` or `envoy:/prefix`).
//!
//! Every request to it is a check: 200 with `X-User` (the token's `sub`)
//! and `X-User-Email` (`email`) for the upstream, 401 or 403 with the
//! `WWW-Authenticate` challenge for the client. Tokens need scope `api`.
//! The original method and URI come from the headers the gateway sets
//! (`X-Original-*` for nginx, `X-Forwarded-*` for Traefik, the path after
//! the prefix for Envoy): keep this service where only the gateway reaches
//! it. The README's "Behind a gateway" has each gateway's configuration.

use axum::Router;
use tower_jwt_auth::forward::{ClaimHeaders, ForwardAuth, Origin};
use tower_jwt_auth::{Authenticator, ConfigError};

/// The claims the upstream receives, and as which headers.
pub fn claim_headers() -> Result<ClaimHeaders, ConfigError> {
    ClaimHeaders::new()
        .map("sub", "x-user")?
        .map("email", "x-user-email")
}

/// The check service: every path answers (nginx and Traefik call one URL,
/// Envoy the original path under its prefix).
pub fn app(auth: &Authenticator, origin: Origin) -> Result<Router, ConfigError> {
    let gate = auth
        .layer()
        .require_scope("api")
        .forward_claims(claim_headers()?)
        .into_gate();
    Ok(Router::new().fallback_service(ForwardAuth::new(gate, origin)))
}

fn origin_from(name: &str) -> Option<Origin> {
    match name {
        "nginx" => Some(Origin::nginx()),
        "traefik" => Some(Origin::traefik()),
        _ => name.strip_prefix("envoy:").map(Origin::path_prefix),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = match std::env::var("JWT_SECRET") {
        Ok(s) => s,
        Err(_) => {
            eprintln!("JWT_SECRET is not set: set a secret of at least 32 bytes");
            std::process::exit(2);
        }
    };
    let origin_name = std::env::var("ORIGIN").unwrap_or_else(|_| "nginx".to_owned());
    let Some(origin) = origin_from(&origin_name) else {
        eprintln!("ORIGIN must be nginx, traefik or envoy:/prefix");
        std::process::exit(2);
    };
    let auth = Authenticator::builder()
        .hmac_secret(secret.as_str())
        .build()?;
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:9000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("forward-auth ({origin_name}) on http://{bind}");
    axum::serve(listener, app(&auth, origin)?).await?;
    Ok(())
}
