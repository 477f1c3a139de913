//! Request rules through the real layer and a real axum server: a scope by
//! method (GET `read`, POST and DELETE `write`) on one route, HEAD checked
//! as GET, unknown methods on the route's own rules, a rule by header, and
//! every one of them applied to a token from the verified-token cache.

use crate::common;

use std::net::SocketAddr;

use axum::routing::{any, get};
use axum::Router;
use common::*;
use http::Method;
use serde_json::json;
use tower_jwt_auth::{rules::RequestRule, Authenticator};

/// A token with `scope` (none when empty), valid for ten minutes.
fn tok(scope: &str) -> String {
    let exp = jsonwebtoken::get_current_timestamp() + 600;
    if scope.is_empty() {
        return hs256(&json!({ "exp": exp }));
    }
    hs256(&json!({ "exp": exp, "scope": scope }))
}

/// `method` on `path` with `token` and extra `headers`: status and
/// `WWW-Authenticate`.
async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .request(method, format!("http://{addr}{path}"))
        .bearer_auth(token);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.expect("request");
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), www)
}

fn auth() -> Authenticator {
    Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap()
}

/// `/items`: GET (and so HEAD) needs `read`, POST and DELETE need `write`;
/// any other method only a valid token. `/base` also needs `api` of every
/// request.
fn items_app(auth: &Authenticator) -> Router {
    let handler = || async { "ok" };
    let items = any(handler).layer(
        auth.layer()
            .require_scope_for([Method::GET], "read")
            .require_scope_for([Method::POST, Method::DELETE], "write"),
    );
    let base = any(handler).layer(
        auth.layer()
            .require_scope("api")
            .require_scope_for([Method::POST], "write"),
    );
    Router::new().route("/items", items).route("/base", base)
}

#[tokio::test]
async fn get_needs_read_and_post_needs_write_on_one_route() {
    let addr = serve(items_app(&auth())).await;
    let (read, write) = (tok("read"), tok("write"));
    assert_eq!(send(addr, Method::GET, "/items", &read, &[]).await.0, 200);
    let (status, www) = send(addr, Method::POST, "/items", &read, &[]).await;
    assert_eq!(status, 403, "{www}");
    assert!(www.contains(r#"error="insufficient_scope""#), "{www}");
    assert!(
        www.contains(r#"scope="write""#),
        "names what POST needs: {www}"
    );
    assert_eq!(send(addr, Method::POST, "/items", &write, &[]).await.0, 200);
    let (status, www) = send(addr, Method::DELETE, "/items", &read, &[]).await;
    assert_eq!(
        (status, www.contains(r#"scope="write""#)),
        (403, true),
        "{www}"
    );
    let (status, www) = send(addr, Method::GET, "/items", &write, &[]).await;
    assert_eq!(
        (status, www.contains(r#"scope="read""#)),
        (403, true),
        "{www}"
    );
}

#[tokio::test]
async fn a_cached_token_is_still_refused_for_post() {
    let auth = auth();
    let addr = serve(items_app(&auth)).await;
    let read = tok("read");
    let entries = || auth.verifier().cache_stats().unwrap().entries;
    // A refusal is never cached: the first POST verifies the token afresh.
    assert_eq!(send(addr, Method::POST, "/items", &read, &[]).await.0, 403);
    assert_eq!(entries(), 0);
    assert_eq!(send(addr, Method::GET, "/items", &read, &[]).await.0, 200);
    assert_eq!(entries(), 1, "the GET cached the token");
    // The same token again, now a cache hit: the method's rule still applies.
    for _ in 0..2 {
        let (status, www) = send(addr, Method::POST, "/items", &read, &[]).await;
        assert_eq!(status, 403, "a cache hit must not skip the POST rule");
        assert!(www.contains(r#"scope="write""#), "{www}");
    }
    assert_eq!(send(addr, Method::GET, "/items", &read, &[]).await.0, 200);
    assert_eq!(entries(), 1);
}

#[tokio::test]
async fn head_is_checked_as_get() {
    let addr = serve(items_app(&auth())).await;
    // axum answers HEAD with the GET handler: HEAD needs what GET needs.
    let (status, www) = send(addr, Method::HEAD, "/items", &tok("write"), &[]).await;
    assert_eq!(status, 403, "{www}");
    assert!(www.contains(r#"scope="read""#), "{www}");
    assert_eq!(
        send(addr, Method::HEAD, "/items", &tok("read"), &[])
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn unknown_methods_get_the_routes_own_rules() {
    let addr = serve(items_app(&auth())).await;
    let purge = Method::from_bytes(b"PURGE").unwrap();
    // No rule names PURGE or PUT: a valid token is enough on /items...
    assert_eq!(
        send(addr, purge.clone(), "/items", &tok(""), &[]).await.0,
        200
    );
    assert_eq!(
        send(addr, Method::PUT, "/items", &tok(""), &[]).await.0,
        200
    );
    // ...and the route's own `api` on /base, where POST also needs `write`.
    let (status, www) = send(addr, purge.clone(), "/base", &tok("read"), &[]).await;
    assert_eq!(
        (status, www.contains(r#"scope="api""#)),
        (403, true),
        "{www}"
    );
    assert_eq!(send(addr, purge, "/base", &tok("api"), &[]).await.0, 200);
    let (status, www) = send(addr, Method::POST, "/base", &tok("api"), &[]).await;
    assert_eq!(status, 403, "{www}");
    assert!(www.contains(r#"scope="api write""#), "both, named: {www}");
    assert_eq!(
        send(addr, Method::POST, "/base", &tok("api write"), &[])
            .await
            .0,
        200
    );
    assert_eq!(
        send(addr, Method::GET, "/base", &tok("api"), &[]).await.0,
        200
    );
}

#[tokio::test]
async fn methods_except_covers_unknown_methods() {
    let auth = auth();
    let layer = auth
        .layer()
        .require_scope_for([Method::GET], "read")
        .require_when(RequestRule::methods_except([Method::GET]).require_scope("write"));
    let app = Router::new().route("/items", any(|| async { "ok" }).layer(layer));
    let addr = serve(app).await;
    let purge = Method::from_bytes(b"PURGE").unwrap();
    let (status, www) = send(addr, purge.clone(), "/items", &tok("read"), &[]).await;
    assert_eq!(
        (status, www.contains(r#"scope="write""#)),
        (403, true),
        "{www}"
    );
    assert_eq!(send(addr, purge, "/items", &tok("write"), &[]).await.0, 200);
    assert_eq!(
        send(addr, Method::HEAD, "/items", &tok("read"), &[])
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_header_rule_applies_to_requests_with_the_header() {
    let auth = auth();
    let sudo = RequestRule::any()
        .header("x-mode".parse().unwrap(), |v| {
            v.as_bytes().eq_ignore_ascii_case(b"sudo")
        })
        .require_scope("admin");
    let layer = auth.layer().require_scope("read").require_when(sudo);
    let app = Router::new().route("/doc", get(|| async { "ok" }).layer(layer));
    let addr = serve(app).await;
    let read = tok("read");
    assert_eq!(send(addr, Method::GET, "/doc", &read, &[]).await.0, 200);
    let plain = [("x-mode", "plain")];
    assert_eq!(send(addr, Method::GET, "/doc", &read, &plain).await.0, 200);
    let (status, www) = send(addr, Method::GET, "/doc", &read, &[("x-mode", "SUDO")]).await;
    assert_eq!(status, 403, "{www}");
    assert!(www.contains(r#"scope="read admin""#), "{www}");
    // A second value cannot hide the one the rule looks for.
    let both = [("x-mode", "plain"), ("x-mode", "sudo")];
    assert_eq!(send(addr, Method::GET, "/doc", &read, &both).await.0, 403);
    let admin = tok("read admin");
    assert_eq!(
        send(addr, Method::GET, "/doc", &admin, &[("x-mode", "sudo")])
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn an_optional_route_needs_a_token_only_where_a_rule_matches() {
    let auth = auth();
    let layer = auth.optional().require_scope_for([Method::POST], "write");
    let app = Router::new().route("/feed", any(|| async { "ok" }).layer(layer));
    let addr = serve(app).await;
    assert_eq!(
        fetch(addr, "/feed", None).await.status,
        200,
        "anonymous GET"
    );
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/feed"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "anonymous POST: a rule applies");
}

#[tokio::test]
async fn resource_metadata_lists_the_request_rules_scopes() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .resource("https://api.example/items")
        .build()
        .unwrap();
    let layer = auth
        .layer()
        .require_scope_for([Method::GET], "read")
        .require_when(RequestRule::methods([Method::POST]).require_any_scope(["write", "admin"]));
    let metadata = auth.resource_metadata().unwrap().with_scopes_of(&layer);
    assert_eq!(
        metadata.document()["scopes_supported"],
        json!(["admin", "read", "write"])
    );
}
