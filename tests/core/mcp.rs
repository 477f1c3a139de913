//! `mcp::McpScopes` behind a real `JwtAuthLayer` on a real axum server:
//! per-tool scopes and their 403 challenge, `Mcp-Method` / `Mcp-Name`
//! against the body (base64-wrapped names too), the body bound, what is not
//! one JSON-RPC message, the body handed on byte for byte, and cache hits
//! checked like misses.

use crate::common;

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::routing::post;
use axum::Router;
use common::serve;
use serde_json::json;
use tower::ServiceExt;
use tower_jwt_auth::mcp::McpScopes;
use tower_jwt_auth::testing::TestIssuer;

const RESOURCE: &str = "https://api.example/mcp";
const METADATA_URL: &str = "https://api.example/.well-known/oauth-protected-resource/mcp";

fn scopes() -> McpScopes {
    McpScopes::new()
        .method("tools/list", ["mcp:read"])
        .tool("search", ["mcp:read"])
        .tool("delete_repo", ["mcp:admin"])
        .prompt("summary", ["mcp:prompts"])
        .resource("file:///notes.txt", ["mcp:read"])
        .max_body(4096)
}

fn issuer() -> TestIssuer {
    TestIssuer::hs256().with_audience(RESOURCE)
}

/// `/mcp`: the layer (any valid token), the MCP scopes inside it, and a
/// handler that answers with the body it received, byte for byte.
/// `/bare`: the MCP scopes without the auth layer (a misconfiguration).
fn app(issuer: &TestIssuer, mcp: McpScopes) -> (Router, serde_json::Value) {
    let auth = issuer
        .authenticator()
        .resource(RESOURCE)
        .build()
        .expect("auth");
    let echo = post(|body: Bytes| async move { body });
    let layer = auth.layer();
    let metadata = auth
        .resource_metadata()
        .expect("metadata")
        .with_scopes(mcp.scopes());
    let router = Router::new()
        .route("/mcp", echo.clone())
        .layer(mcp.clone())
        .layer(layer)
        .merge(Router::new().route("/bare", echo).layer(mcp));
    (router, metadata.document())
}

struct Reply {
    status: u16,
    www: String,
    body: Vec<u8>,
}

async fn post_mcp(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    let body = res.bytes().await.expect("body").to_vec();
    Reply { status, www, body }
}

fn call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": tool, "arguments": {}}})
    .to_string()
}

async fn started(mcp: McpScopes) -> (SocketAddr, TestIssuer) {
    let issuer = issuer();
    let (router, _) = app(&issuer, mcp);
    (serve(router).await, issuer)
}

#[tokio::test]
async fn a_read_token_lists_and_calls_search_and_is_refused_delete_repo_naming_the_scope() {
    let (addr, issuer) = started(scopes()).await;
    let read = issuer.token().scope("mcp:read").sign();
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let r = post_mcp(addr, "/mcp", Some(&read), &[], list).await;
    assert_eq!((r.status, r.body.as_slice()), (200, list.as_bytes()));
    let r = post_mcp(addr, "/mcp", Some(&read), &[], call("search")).await;
    assert_eq!(r.status, 200);
    let r = post_mcp(addr, "/mcp", Some(&read), &[], call("delete_repo")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.www,
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"the token lacks the \
             required scope\", scope=\"mcp:admin\", resource_metadata=\"{METADATA_URL}\""
        )
    );
    assert!(r.body.is_empty());
    // A token with both scopes calls both.
    let both = issuer.token().scope("mcp:read mcp:admin").sign();
    for tool in ["search", "delete_repo"] {
        let r = post_mcp(addr, "/mcp", Some(&both), &[], call(tool)).await;
        assert_eq!(r.status, 200, "{tool}");
    }
    // Without `mcp:read`, even the list is refused, naming it.
    let admin = issuer.token().scope("mcp:admin").sign();
    let r = post_mcp(addr, "/mcp", Some(&admin), &[], list).await;
    assert_eq!(r.status, 403);
    assert!(r.www.contains("scope=\"mcp:read\""), "{}", r.www);
}

#[tokio::test]
async fn the_scopes_are_in_the_metadata() {
    let (_, doc) = app(&issuer(), scopes());
    assert_eq!(
        doc["scopes_supported"],
        json!(["mcp:admin", "mcp:prompts", "mcp:read"])
    );
}

#[tokio::test]
async fn a_call_needs_its_methods_and_its_names_scopes_together() {
    let mcp = scopes().method("tools/call", ["mcp:call"]);
    let (addr, issuer) = started(mcp).await;
    let read = issuer.token().scope("mcp:read").sign();
    let r = post_mcp(addr, "/mcp", Some(&read), &[], call("search")).await;
    assert_eq!(r.status, 403);
    assert!(r.www.contains("scope=\"mcp:call mcp:read\""), "{}", r.www);
    let both = issuer.token().scope("mcp:call mcp:read").sign();
    let r = post_mcp(addr, "/mcp", Some(&both), &[], call("search")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn names_not_listed_are_refused_unless_unlisted_says_otherwise() {
    let (addr, issuer) = started(scopes()).await;
    let all = issuer
        .token()
        .scope("mcp:read mcp:admin mcp:prompts")
        .sign();
    let r = post_mcp(addr, "/mcp", Some(&all), &[], call("new_tool")).await;
    assert_eq!(r.status, 403);
    assert!(r.www.contains("error=\"insufficient_scope\""), "{}", r.www);
    assert!(!r.www.contains("scope=\""), "no scope grants it: {}", r.www);
    let prompt = json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/get",
                        "params": {"name": "summary"}})
    .to_string();
    let r = post_mcp(addr, "/mcp", Some(&all), &[], prompt).await;
    assert_eq!(r.status, 200);
    let read = json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read",
                      "params": {"uri": "file:///secret.txt"}})
    .to_string();
    let r = post_mcp(addr, "/mcp", Some(&all), &[], read).await;
    assert_eq!(r.status, 403);

    let (addr, issuer) = started(scopes().unlisted(["mcp:other"])).await;
    let other = issuer.token().scope("mcp:other").sign();
    let r = post_mcp(addr, "/mcp", Some(&other), &[], call("new_tool")).await;
    assert_eq!(r.status, 200);
    let r = post_mcp(addr, "/mcp", Some(&other), &[], call("delete_repo")).await;
    assert_eq!(r.status, 403, "a listed name keeps its own scopes");
}

#[tokio::test]
async fn headers_that_disagree_with_the_body_are_400() {
    let (addr, issuer) = started(scopes()).await;
    let both = issuer.token().scope("mcp:read mcp:admin").sign();
    let ok = [("mcp-method", "tools/call"), ("mcp-name", "search")];
    let r = post_mcp(addr, "/mcp", Some(&both), &ok, call("search")).await;
    assert_eq!(r.status, 200);
    let cases: [&[(&str, &str)]; 5] = [
        // A gateway routing on the headers would see a harmless call.
        &[("mcp-method", "tools/call"), ("mcp-name", "search")],
        &[("mcp-method", "tools/list")],
        &[("mcp-name", "search")],
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?c2VhcmNo?="),
        ],
        // Revision 2026-07-28 clients must send them.
        &[("mcp-protocol-version", "2026-07-28")],
    ];
    for headers in cases {
        let r = post_mcp(addr, "/mcp", Some(&both), headers, call("delete_repo")).await;
        assert_eq!(r.status, 400, "{headers:?}");
        assert!(r.www.is_empty());
    }
    // Sent twice: refused even when both copies agree.
    let twice = [("mcp-name", "search"), ("mcp-name", "search")];
    let r = post_mcp(addr, "/mcp", Some(&both), &twice, call("search")).await;
    assert_eq!(r.status, 400);
    // A response from the client names no method.
    let answer = r#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
    let method = [("mcp-method", "tools/call")];
    let r = post_mcp(addr, "/mcp", Some(&both), &method, answer).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn base64_wrapped_names_are_compared_decoded() {
    let tool = " résumé\ttool ";
    let mcp = scopes().tool(tool, ["mcp:read"]);
    let (addr, issuer) = started(mcp).await;
    let read = issuer.token().scope("mcp:read").sign();
    // Standard base64 of `tool`, as rmcp's client wraps it.
    let wrapped = "=?base64?IHLDqXN1bcOpCXRvb2wg?=";
    let headers = [("mcp-method", "tools/call"), ("mcp-name", wrapped)];
    let r = post_mcp(addr, "/mcp", Some(&read), &headers, call(tool)).await;
    assert_eq!(r.status, 200);
    // "search", wrapped: the body says otherwise.
    let headers = [
        ("mcp-method", "tools/call"),
        ("mcp-name", "=?base64?c2VhcmNo?="),
    ];
    let r = post_mcp(addr, "/mcp", Some(&read), &headers, call(tool)).await;
    assert_eq!(r.status, 400);
    let headers = [("mcp-name", "=?base64?not base64!?=")];
    let r = post_mcp(addr, "/mcp", Some(&read), &headers, call(tool)).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn what_is_not_one_json_rpc_message_is_400() {
    let (addr, issuer) = started(scopes()).await;
    let both = issuer.token().scope("mcp:read mcp:admin").sign();
    let bodies = [
        "not json".to_owned(),
        String::new(),
        // A batch: no MCP revision since 2025-06-18 has them.
        format!("[{}]", call("search")),
        r#"{"id":1,"method":"tools/list"}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":7}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#.to_owned(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#.to_owned(),
        // Two names: one parser would call `search`, another `delete_repo`.
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"delete_repo"}}"#
            .to_owned(),
        r#"{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"ping"}"#.to_owned(),
        "\u{7b}".repeat(200),
    ];
    for body in bodies {
        let r = post_mcp(addr, "/mcp", Some(&both), &[], body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
    }
}

#[tokio::test]
async fn a_body_over_the_bound_is_413_with_or_without_a_length() {
    let issuer = issuer();
    let (router, _) = app(&issuer, scopes());
    let addr = serve(router.clone()).await;
    let both = issuer.token().scope("mcp:read mcp:admin").sign();
    let pad = " ".repeat(5000);
    let big = format!("{}{pad}", call("search"));
    let r = post_mcp(addr, "/mcp", Some(&both), &[], big.clone()).await;
    assert_eq!(r.status, 413);
    // Exactly at the bound: read and passed on.
    let exact = format!(
        "{}{}",
        call("search"),
        " ".repeat(4096 - call("search").len())
    );
    let r = post_mcp(addr, "/mcp", Some(&both), &[], exact.clone()).await;
    assert_eq!((r.status, r.body), (200, exact.into_bytes()));
    // A streamed body without Content-Length: cut at the bound.
    let chunks = big
        .into_bytes()
        .chunks(1000)
        .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
        .collect::<Vec<_>>();
    let req = http::Request::post("/mcp")
        .header("authorization", format!("Bearer {both}"))
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .expect("request");
    assert!(req.headers().get("content-length").is_none());
    let res = router.oneshot(req).await.expect("response");
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn the_body_is_handed_on_byte_for_byte_and_notifications_pass() {
    let (addr, issuer) = started(scopes()).await;
    let read = issuer.token().scope("mcp:read").sign();
    // Spacing, member order, escapes and big numbers as the client wrote them.
    let body = "{ \"params\" : {\"name\":\"se\\u0061rch\", \"arguments\":{\"n\":123456789012345678901234567890}},\n\"method\":\"tools/call\",\"id\":1, \"jsonrpc\":\"2.0\" }";
    let r = post_mcp(addr, "/mcp", Some(&read), &[], body).await;
    assert_eq!((r.status, r.body.as_slice()), (200, body.as_bytes()));
    let notification = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let r = post_mcp(addr, "/mcp", Some(&read), &[], notification).await;
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, notification.as_bytes())
    );
    let answer = r#"{"jsonrpc":"2.0","id":3,"result":{}}"#;
    let r = post_mcp(addr, "/mcp", Some(&read), &[], answer).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn cache_hits_are_checked_like_the_first_request() {
    let (addr, issuer) = started(scopes()).await;
    let read = issuer.token().scope("mcp:read").sign();
    for _ in 0..3 {
        let r = post_mcp(addr, "/mcp", Some(&read), &[], call("search")).await;
        assert_eq!(r.status, 200);
        let r = post_mcp(addr, "/mcp", Some(&read), &[], call("delete_repo")).await;
        assert_eq!(r.status, 403);
        assert!(r.www.contains("scope=\"mcp:admin\""), "{}", r.www);
    }
}

#[tokio::test]
async fn without_a_token_the_outer_layer_answers_and_without_it_500() {
    let (addr, _) = started(scopes()).await;
    let r = post_mcp(addr, "/mcp", None, &[], call("search")).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.www,
        format!("Bearer resource_metadata=\"{METADATA_URL}\"")
    );
    let r = post_mcp(addr, "/bare", None, &[], call("search")).await;
    assert_eq!(r.status, 500);
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let r = post_mcp(addr, "/bare", None, &[], ping).await;
    assert_eq!(r.status, 500, "never open without the auth layer");
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Typed {
    sub: String,
}

#[tokio::test]
async fn an_optional_route_asks_for_a_token_and_typed_claims_are_500() {
    let issuer = issuer();
    let auth = issuer
        .authenticator()
        .resource(RESOURCE)
        .build()
        .expect("auth");
    let typed = issuer
        .authenticator()
        .resource(RESOURCE)
        .claims::<Typed>()
        .build()
        .expect("typed");
    let echo = post(|body: Bytes| async move { body });
    let router = Router::new()
        .route("/optional", echo.clone())
        .layer(scopes())
        .layer(auth.optional())
        .merge(
            Router::new()
                .route("/typed", echo)
                .layer(scopes())
                .layer(typed.layer()),
        );
    let addr = serve(router).await;
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let r = post_mcp(addr, "/optional", None, &[], ping).await;
    assert_eq!(r.status, 200, "a method not listed needs no token here");
    let r = post_mcp(addr, "/optional", None, &[], call("search")).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.www,
        format!("Bearer resource_metadata=\"{METADATA_URL}\"")
    );
    let read = issuer.token().scope("mcp:read").sign();
    let r = post_mcp(addr, "/optional", Some(&read), &[], call("search")).await;
    assert_eq!(r.status, 200);
    for body in [ping.to_owned(), call("search"), call("unlisted")] {
        let r = post_mcp(addr, "/typed", Some(&read), &[], body.clone()).await;
        assert_eq!(r.status, 500, "{body}");
    }
}

#[tokio::test]
async fn scp_counts_only_when_enabled_and_a_scope_that_is_not_a_token_is_never_granted() {
    let scp = json!(["mcp:read", "mcp:admin", "a b"]);
    let (addr, issuer) = started(scopes().tool("odd", ["a b"])).await;
    let token = issuer.token().claim("scp", scp.clone()).sign();
    let r = post_mcp(addr, "/mcp", Some(&token), &[], call("search")).await;
    assert_eq!(r.status, 403, "scp is not read unless enabled");
    let (addr, issuer) = started(scopes().tool("odd", ["a b"]).scp_claim(true)).await;
    let token = issuer.token().claim("scp", scp).sign();
    for tool in ["search", "delete_repo"] {
        let r = post_mcp(addr, "/mcp", Some(&token), &[], call(tool)).await;
        assert_eq!(r.status, 200, "{tool}");
    }
    let r = post_mcp(addr, "/mcp", Some(&token), &[], call("odd")).await;
    assert_eq!(r.status, 403);
    assert!(!r.www.contains("scope=\""), "{}", r.www);
}
