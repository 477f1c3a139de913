//! An MCP server (the official Rust SDK, `rmcp`, over Streamable HTTP) as an
//! OAuth 2.1 resource server: one tool behind the layer, the RFC 9728
//! metadata, `resource_metadata` in every challenge, and tokens accepted
//! only when issued for this server (`aud` = the resource, RFC 8707).
//!
//! Run with: `OIDC_ISSUER=https://idp.example cargo run --example mcp`
//! (no OIDC_ISSUER: a random HMAC secret, and a ready token printed)
//!
//! Environment: BIND (default `127.0.0.1:3001`), PUBLIC_URL (the origin
//! clients use; default `http://` + BIND; the resource is PUBLIC_URL +
//! `/mcp`), OIDC_ISSUER (the authorization server whose keys sign tokens).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{schemars, tool, tool_handler, tool_router, ServerHandler};
use tower_jwt_auth::{resource::ProtectedResource, Authenticator};

/// The scope a token needs for the tools.
pub(crate) const SCOPE: &str = "tools";

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct AddRequest {
    /// The first addend.
    a: i64,
    /// The second addend.
    b: i64,
}

/// The MCP server: one tool, `add`.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Tools {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Add two integers")]
    fn add(&self, Parameters(AddRequest { a, b }): Parameters<AddRequest>) -> String {
        a.saturating_add(b).to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// The authenticator: keys from the OIDC issuer (or an HMAC secret), the
/// resource `<public_url>/mcp` as the required audience.
pub(crate) async fn authenticator(
    public_url: &str,
    oidc_issuer: Option<&str>,
    secret: Option<&str>,
) -> Result<Authenticator, String> {
    let resource = format!("{}/mcp", public_url.trim_end_matches('/'));
    let mut builder = Authenticator::builder()
        .resource(ProtectedResource::new(resource).name("tower-jwt-auth MCP example"));
    if let Some(issuer) = oidc_issuer {
        builder = builder.oidc_issuer(issuer);
    }
    if let Some(secret) = secret {
        builder = builder.hmac_secret(secret.as_bytes());
    }
    builder
        .build_async()
        .await
        .map_err(|e| format!("configuration: {e}"))
}

/// `/mcp` (the MCP server, a token with scope `tools` required) and the
/// protected resource metadata.
pub(crate) fn app(auth: &Authenticator) -> Router {
    let mcp = StreamableHttpService::new(
        || Ok(Tools::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let tools = auth.layer().require_scope(SCOPE);
    // `scopes_supported`: the scope the layer requires.
    let metadata = auth.resource_metadata().map(|m| m.with_scopes_of(&tools));
    let router = Router::new().route_service("/mcp", mcp).layer(tools);
    match metadata {
        // Merged after `.layer`: the metadata is public.
        Some(metadata) => router.merge(metadata.router()),
        None => router,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn run() -> Result<(), String> {
    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:3001".into());
    let addr: SocketAddr = bind
        .parse()
        .map_err(|_| format!("BIND: not an address: {bind:?}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = env("PUBLIC_URL").unwrap_or_else(|| format!("http://{addr}"));
    let oidc_issuer = env("OIDC_ISSUER");
    let secret = match oidc_issuer {
        Some(_) => None,
        None => Some(
            rand::random::<[u8; 32]>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        ),
    };
    let auth = authenticator(&public_url, oidc_issuer.as_deref(), secret.as_deref()).await?;
    let metadata = auth.resource_metadata().ok_or("no resource configured")?;
    if let Some(secret) = &secret {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let claims = serde_json::json!({
            "sub": "demo-user", "aud": metadata.resource(), "scope": SCOPE,
            "iat": now, "exp": now + 3600,
        });
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .map_err(|e| format!("signing the demo token: {e}"))?;
        println!("No OIDC_ISSUER: a random HMAC secret. A token for the tools (1 h):");
        println!("  {token}");
    }
    println!("metadata: {}", metadata.url());
    println!(
        "listening on http://{addr} (MCP at {})",
        metadata.resource()
    );
    axum::serve(listener, app(&auth))
        .await
        .map_err(|e| format!("server error: {e}"))
}
