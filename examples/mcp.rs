//! An MCP server (the official Rust SDK, `rmcp`, over Streamable HTTP) as an
//! OAuth 2.1 resource server: two tools with different scopes behind the
//! layer, the RFC 9728 metadata listing them, `resource_metadata` in every
//! challenge, and tokens accepted only when issued for this server (`aud` =
//! the resource, RFC 8707).
//!
//! Every message needs `mcp:read` (the route's layer); `tools/call` of
//! `delete_repo` needs `mcp:admin` too ([`McpScopes`], inside the layer): a
//! token without it gets 403 `insufficient_scope` with
//! `scope="mcp:admin"`, which MCP clients use to ask the user for that
//! scope (step-up by scope).
//!
//! Run with: `OIDC_ISSUER=https://idp.example cargo run --example mcp`
//! (no OIDC_ISSUER: a random HMAC secret, and ready tokens printed)
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
use tower_jwt_auth::mcp::McpScopes;
use tower_jwt_auth::{resource::ProtectedResource, Authenticator};

/// The scope every message needs: list the tools, call `search`.
pub(crate) const READ: &str = "mcp:read";
/// The scope `delete_repo` needs besides [`READ`].
pub(crate) const ADMIN: &str = "mcp:admin";

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct SearchRequest {
    /// What to look for.
    query: String,
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct DeleteRequest {
    /// The repository to delete.
    repo: String,
}

/// The MCP server: `search` (read) and `delete_repo` (admin).
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

    #[tool(description = "Search the repositories (scope mcp:read)")]
    fn search(&self, Parameters(SearchRequest { query }): Parameters<SearchRequest>) -> String {
        format!("1 repository matches {query:?}")
    }

    #[tool(description = "Delete a repository (scope mcp:admin)")]
    fn delete_repo(&self, Parameters(DeleteRequest { repo }): Parameters<DeleteRequest>) -> String {
        format!("deleted {repo}")
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

/// The scopes of each tool (a tool not listed here is refused).
pub(crate) fn tool_scopes() -> McpScopes {
    McpScopes::new()
        .tool("search", [READ])
        .tool("delete_repo", [ADMIN])
}

/// `/mcp` (the MCP server: `mcp:read` for every message, `mcp:admin` for
/// `delete_repo`) and the protected resource metadata.
pub(crate) fn app(auth: &Authenticator) -> Router {
    let mcp = StreamableHttpService::new(
        || Ok(Tools::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let read = auth.layer().require_scope(READ);
    let tools = tool_scopes();
    // `scopes_supported`: the layer's scope and the tools'.
    let metadata = auth
        .resource_metadata()
        .map(|m| m.with_scopes_of(&read).with_scopes(tools.scopes()));
    let router = Router::new()
        .route_service("/mcp", mcp)
        // Inside: reads the JSON-RPC body once the token is verified.
        .layer(tools)
        .layer(read);
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
        println!("No OIDC_ISSUER: a random HMAC secret. Tokens (1 h):");
        for scope in [READ.to_owned(), format!("{READ} {ADMIN}")] {
            let claims = serde_json::json!({
                "sub": "demo-user", "aud": metadata.resource(), "scope": scope,
                "iat": now, "exp": now + 3600,
            });
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            )
            .map_err(|e| format!("signing the demo token: {e}"))?;
            println!("  scope {scope:?}: {token}");
        }
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
