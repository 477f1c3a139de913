//! examples/mcp.rs driven by real MCP clients that this project did not
//! write: rmcp's own client over its Streamable HTTP client transport,
//! rmcp's RFC 9728 discovery (`AuthorizationManager`) for the metadata, and
//! the Python MCP SDK's client (PyPI `mcp`, run by tests/mcp_client.py; see
//! tests/requirements.txt). Per-tool scopes: a read token lists the tools
//! and calls `search`, and is refused `delete_repo` with 403
//! `scope="mcp:admin"`; a token with both scopes calls both.
//! An identity provider (OIDC discovery, JWKS, the authorization server
//! metadata MCP clients read) and the MCP server run on 127.0.0.1.

#[allow(dead_code)]
#[path = "../mcp.rs"]
mod mcp;

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::service::ClientInitializeError;
use rmcp::transport::auth::{AuthorizationManager, AuthorizationMetadataSource};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::json;
use tower_jwt_auth::testing::TestIssuer;

async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    (listener, format!("http://{addr}"))
}

/// An identity provider for `issuer`: OIDC discovery (what the resource
/// server reads: `jwks_uri`; and what MCP clients read: the endpoints).
async fn identity_provider(issuer: &TestIssuer, listener: tokio::net::TcpListener, url: String) {
    let doc = json!({
        "issuer": url,
        "jwks_uri": format!("{url}/jwks"),
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    });
    let jwks: serde_json::Value = serde_json::from_str(&issuer.jwks()).expect("jwks");
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(doc) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// The `Mcp-Method` and `Mcp-Name` headers of each POST, in order.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, Option<String>)>>>;

struct Setup {
    seen: Seen,
    mcp_url: String,
    resource: String,
    metadata_url: String,
    issuer: TestIssuer,
    idp: String,
}

async fn setup() -> Setup {
    let (idp_listener, idp) = listener().await;
    let (mcp_listener, origin) = listener().await;
    let resource = format!("{origin}/mcp");
    let issuer = TestIssuer::rs256()
        .with_issuer(idp.clone())
        .with_audience(resource.clone());
    identity_provider(&issuer, idp_listener, idp.clone()).await;
    let auth = mcp::authenticator(&origin, Some(&idp), None)
        .await
        .expect("authenticator");
    let metadata_url = auth.resource_metadata().expect("metadata").url().to_owned();
    // Records the SEP-2243 headers of each POST as the server received them.
    let seen = Seen::default();
    let record = seen.clone();
    let app = mcp::app(&auth).layer(tower::util::MapRequestLayer::new(
        move |req: axum::extract::Request| {
            if req.method() == axum::http::Method::POST {
                let header = |name: &str| {
                    let value = req.headers().get(name);
                    value.and_then(|v| v.to_str().ok()).map(str::to_owned)
                };
                let mirrored = (header("mcp-method"), header("mcp-name"));
                record.lock().expect("not poisoned").push(mirrored);
            }
            req
        },
    ));
    tokio::spawn(async move { axum::serve(mcp_listener, app).await });
    Setup {
        seen,
        mcp_url: resource.clone(),
        resource,
        metadata_url,
        issuer,
        idp,
    }
}

/// rmcp's client, initialized over Streamable HTTP, with a bearer token.
async fn connect(
    url: &str,
    token: Option<String>,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ClientConfig>, ClientInitializeError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
}

/// A raw initialize POST: the status and challenge an MCP client meets.
async fn raw_post(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let res = req.send().await.expect("request");
    let www = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (res.status().as_u16(), www)
}

#[tokio::test]
async fn without_a_token_the_client_is_sent_to_metadata_that_rmcp_parses() {
    let s = setup().await;
    let (status, www) = raw_post(&s.mcp_url, None).await;
    assert_eq!(status, 401);
    assert_eq!(
        www,
        format!("Bearer resource_metadata=\"{}\"", s.metadata_url)
    );
    assert!(s
        .metadata_url
        .ends_with("/.well-known/oauth-protected-resource/mcp"));

    // rmcp's client fails to initialize, with the challenge in hand.
    let err = connect(&s.mcp_url, None).await.expect_err("refused");
    assert!(err.is_authorization_required(), "{err}");
    let challenge = err.auth_challenge().expect("a challenge").to_owned();
    assert!(challenge.contains(&s.metadata_url), "{challenge}");

    // rmcp's RFC 9728 discovery follows `resource_metadata`, checks the
    // document's `resource` against the server URL, and reaches the
    // authorization server it names.
    let manager = AuthorizationManager::new(s.mcp_url.as_str())
        .await
        .expect("manager");
    let resolution = manager
        .resolve_metadata_from_challenge(Some(&challenge))
        .await
        .expect("metadata resolved");
    assert_eq!(
        resolution.source,
        AuthorizationMetadataSource::ProtectedResourceMetadata
    );
    assert_eq!(
        resolution.metadata.authorization_endpoint,
        format!("{}/authorize", s.idp)
    );
    let body = reqwest::get(&s.metadata_url)
        .await
        .expect("metadata")
        .text()
        .await
        .expect("body");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(doc["resource"], s.resource);
    assert_eq!(doc["authorization_servers"], json!([s.idp]));
    assert_eq!(doc["scopes_supported"], json!([mcp::ADMIN, mcp::READ]));
}

fn search() -> CallToolRequestParams {
    let args = json!({"query": "tower"});
    CallToolRequestParams::new("search").with_arguments(args.as_object().expect("object").clone())
}

fn delete_repo() -> CallToolRequestParams {
    let args = json!({"repo": "acme/site"});
    CallToolRequestParams::new("delete_repo")
        .with_arguments(args.as_object().expect("object").clone())
}

fn text(result: &rmcp::model::CallToolResult) -> Option<&str> {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.as_str())
}

#[tokio::test]
async fn a_read_token_lists_and_searches_and_is_refused_delete_repo_naming_the_scope() {
    let s = setup().await;
    let token = s.issuer.token().scope(mcp::READ).sign();
    let client = connect(&s.mcp_url, Some(token)).await.expect("initialized");
    let tools = client.list_tools(None).await.expect("tools");
    let mut names: Vec<&str> = tools.tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(names, ["delete_repo", "search"]);
    let result = client.call_tool(search()).await.expect("called");
    assert_ne!(result.is_error, Some(true));
    assert_eq!(text(&result), Some("1 repository matches \"tower\""));
    // rmcp's client surfaces the 403 with its challenge: the scope to ask
    // the user for, and where the metadata is.
    let err = client.call_tool(delete_repo()).await.expect_err("refused");
    let challenge = err.auth_challenge().expect("a challenge").to_owned();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"mcp:admin\""), "{challenge}");
    assert!(
        challenge.contains(&format!("resource_metadata=\"{}\"", s.metadata_url)),
        "{challenge}"
    );
    let _ = client.cancel().await;
}

#[tokio::test]
async fn a_token_with_both_scopes_calls_both_tools() {
    let s = setup().await;
    let both = format!("{} {}", mcp::READ, mcp::ADMIN);
    let token = s.issuer.token().scope(both).sign();
    let client = connect(&s.mcp_url, Some(token)).await.expect("initialized");
    let result = client.call_tool(search()).await.expect("search");
    assert_ne!(result.is_error, Some(true));
    let result = client.call_tool(delete_repo()).await.expect("delete_repo");
    assert_ne!(result.is_error, Some(true));
    assert_eq!(text(&result), Some("deleted acme/site"));
    let _ = client.cancel().await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_401() {
    let s = setup().await;
    let foreign = s
        .issuer
        .token()
        .scope(mcp::READ)
        .audience("https://other.example/mcp")
        .sign();
    let (status, www) = raw_post(&s.mcp_url, Some(&foreign)).await;
    assert_eq!(status, 401);
    assert!(www.starts_with("Bearer error=\"invalid_token\""), "{www}");
    assert!(www.contains(&s.metadata_url), "{www}");
    let err = connect(&s.mcp_url, Some(foreign))
        .await
        .expect_err("refused");
    assert!(err.is_authorization_required(), "{err}");
    assert!(err
        .auth_challenge()
        .is_some_and(|c| c.contains("invalid_token")));
}

#[tokio::test]
async fn a_token_without_the_scope_is_403_naming_it() {
    let s = setup().await;
    let token = s.issuer.token().scope("other").sign();
    let (status, www) = raw_post(&s.mcp_url, Some(&token)).await;
    assert_eq!(status, 403);
    assert!(www.contains("scope=\"mcp:read\""), "{www}");
    assert!(www.contains(&s.metadata_url), "{www}");
}

/// Runs examples/tests/mcp_client.py (the Python MCP SDK's client, PyPI
/// `mcp`) against `url` with `token` (`mode`: `legacy`, the initialize
/// handshake; `auto`, the newest revision the server speaks), and returns
/// what it printed.
async fn python_client(url: &str, token: &str, mode: &str) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let (url, token, mode) = (url.to_owned(), token.to_owned(), mode.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(url)
            .arg(token)
            .arg(mode)
            .output()
    })
    .await
    .expect("joined")
    .expect("python3 runs (the Python MCP client needs Python 3.10+)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(2),
        "the Python `mcp` package is missing: pip install -r examples/tests/requirements.txt \
         (scripts/test does)\n{stderr}"
    );
    assert!(output.status.success(), "mcp_client.py failed:\n{stderr}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "mcp_client.py printed no JSON ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[tokio::test]
async fn the_python_sdk_client_is_refused_delete_repo_with_a_read_token_and_calls_both_with_both() {
    let s = setup().await;
    let read = s.issuer.token().scope(mcp::READ).sign();
    // `auto`: the 2026-07-28 revision (`server/discover`), whose client
    // mirrors each call in `Mcp-Method` / `Mcp-Name`: checked against the
    // bodies and found equal.
    let out = python_client(&s.mcp_url, &read, "auto").await;
    assert_eq!(
        out["headers"],
        json!([
            ["server/discover", null],
            ["tools/list", null],
            ["tools/call", "search"],
            ["tools/call", "delete_repo"]
        ]),
        "{out}"
    );
    assert_eq!(out["tools"], json!(["delete_repo", "search"]), "{out}");
    assert_eq!(
        out["search"]["text"], "1 repository matches \"tower\"",
        "{out}"
    );
    let refused = &out["delete_repo"];
    assert_eq!(refused["status"], 403, "{out}");
    let www = refused["www_authenticate"].as_str().unwrap_or_default();
    assert!(
        www.starts_with("Bearer error=\"insufficient_scope\""),
        "{www}"
    );
    assert!(www.contains("scope=\"mcp:admin\""), "{www}");
    assert!(
        www.contains(&format!("resource_metadata=\"{}\"", s.metadata_url)),
        "{www}"
    );

    let both = s
        .issuer
        .token()
        .scope(format!("{} {}", mcp::READ, mcp::ADMIN))
        .sign();
    // `legacy`: the `initialize` handshake (2025-11-25), no such headers.
    let out = python_client(&s.mcp_url, &both, "legacy").await;
    assert_eq!(
        out["search"]["text"], "1 repository matches \"tower\"",
        "{out}"
    );
    assert_eq!(out["delete_repo"]["text"], "deleted acme/site", "{out}");
}

#[tokio::test]
async fn rmcps_client_of_revision_2026_07_28_sends_the_headers_the_layer_checks() {
    use rmcp::model::ProtocolVersion;
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt};

    let s = setup().await;
    let token = s.issuer.token().scope(mcp::READ).sign();
    let config =
        StreamableHttpClientTransportConfig::with_uri(s.mcp_url.clone()).auth_header(token);
    // `server/discover`: every later POST carries Mcp-Method (and Mcp-Name
    // for tools/call), which the layer compares with the body.
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = ClientConfig::default()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_config(config),
            lifecycle,
        )
        .await
        .expect("discovered");
    let tools = client.list_tools(None).await.expect("tools");
    assert_eq!(tools.tools.len(), 2);
    let result = client.call_tool(search()).await.expect("called");
    assert_eq!(text(&result), Some("1 repository matches \"tower\""));
    let err = client.call_tool(delete_repo()).await.expect_err("refused");
    let challenge = err.auth_challenge().expect("a challenge").to_owned();
    assert!(challenge.contains("scope=\"mcp:admin\""), "{challenge}");
    let _ = client.cancel().await;
    let seen = s.seen.lock().expect("not poisoned").clone();
    let call = |name: &str| (Some("tools/call".to_owned()), Some(name.to_owned()));
    assert!(seen.contains(&call("search")), "{seen:?}");
    assert!(seen.contains(&call("delete_repo")), "{seen:?}");
}
