//! The request decision ([`Gate`]) through a real axum server: what an
//! optional route with rules asks of a request without a token, and that a
//! request's credentials are read once, whichever way it is decided.

use crate::common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use common::dpop::{proof_key, send, Req};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{dpop::DpopConfig, dpop::DpopMode, Claims, JwtAuthLayer, TokenSource};

async fn handler(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => c["sub"].as_str().unwrap_or_default().to_owned(),
        None => "anonymous".to_owned(),
    }
}

async fn serve(routes: Vec<(&'static str, JwtAuthLayer)>) -> SocketAddr {
    let mut app = Router::new();
    for (path, layer) in routes {
        app = app.route(path, get(handler).layer(layer));
    }
    common::serve(app).await
}

async fn get_status(addr: SocketAddr, path: &str, token: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_optional_route_with_an_audience_needs_a_token() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    let addr = serve(vec![
        ("/optional", auth.optional()),
        ("/billing", auth.optional().audience(["billing"])),
    ])
    .await;
    // The plain optional route lets anonymous through.
    assert_eq!(get_status(addr, "/optional", None).await, 200);
    // With an audience of its own, anonymous would get further than a
    // caller whose token names another audience: a token is needed.
    assert_eq!(get_status(addr, "/billing", None).await, 401);
    let other = issuer.token().sign();
    assert_eq!(get_status(addr, "/billing", Some(&other)).await, 401);
    let billing = issuer.token().audience("billing").sign();
    assert_eq!(get_status(addr, "/billing", Some(&billing)).await, 200);
}

/// A token source that counts how often it is asked.
fn counting(calls: &Arc<AtomicUsize>) -> TokenSource {
    let calls = Arc::clone(calls);
    TokenSource::from_fn(move |headers, _| {
        calls.fetch_add(1, Ordering::SeqCst);
        let value = headers.get("x-token")?.to_str().ok()?;
        Some(value.to_owned())
    })
}

#[tokio::test]
async fn every_request_reads_its_credentials_once() {
    let issuer = TestIssuer::es256();
    let auth = issuer
        .authenticator()
        .dpop(DpopConfig::new(DpopMode::Allowed).public_url("http://api.test"))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let sources = || [TokenSource::authorization(), counting(&calls)];
    let addr = serve(vec![
        ("/me", auth.layer().token_sources(sources())),
        (
            "/admin",
            auth.layer().token_sources(sources()).require_scope("admin"),
        ),
        ("/maybe", auth.optional().token_sources(sources())),
    ])
    .await;
    let client = reqwest::Client::new();
    let valid = issuer.token().subject("ada").sign();
    let cases = [
        ("/me", Some(("x-token", valid.clone())), 200),
        (
            "/me",
            Some(("authorization", format!("Bearer {valid}"))),
            200,
        ),
        ("/me", Some(("x-token", format!("{valid}x"))), 401),
        ("/me", None, 401),
        ("/admin", Some(("x-token", valid.clone())), 403),
        ("/maybe", None, 200),
    ];
    for (path, header, status) in cases {
        let before = calls.load(Ordering::SeqCst);
        let mut req = client.get(format!("http://{addr}{path}"));
        if let Some((name, value)) = &header {
            req = req.header(*name, value);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path} {header:?}");
        assert_eq!(
            calls.load(Ordering::SeqCst) - before,
            1,
            "{path} {header:?}: the sources are read once"
        );
    }
    // A DPoP request takes its token from `Authorization` alone: the other
    // sources are not read at all.
    let key = proof_key(jsonwebtoken::Algorithm::ES256);
    let bound = issuer
        .token()
        .subject("ada")
        .claim("cnf", serde_json::json!({"jkt": key.jkt}))
        .sign();
    let before = calls.load(Ordering::SeqCst);
    let now = tower_jwt_auth::clock::SystemClock.now();
    let reply = send(
        addr,
        &key,
        &Req::with(&key, "http://api.test", "/me", bound, now),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), before);
}

use tower_jwt_auth::clock::Clock as _;

async fn get_with_cookie(addr: SocketAddr, path: &str, token: &str) -> u16 {
    let req = reqwest::Client::new().get(format!("http://{addr}{path}"));
    let req = req.header("cookie", format!("at={token}"));
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn each_route_keeps_its_own_rules_when_layers_share_an_authenticator() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    // Layers made from one another, as an application reuses a base layer:
    // each change lands on its own route only.
    let base = auth.layer();
    let scope_a = base.clone().require_scope("a");
    let scope_a_and_role = scope_a.clone().require_role("x");
    let scope_b_by_cookie = base
        .clone()
        .require_scope("b")
        .token_sources([TokenSource::cookie("at")]);
    let addr = serve(vec![
        ("/base", base),
        ("/a", scope_a),
        ("/a-and-role", scope_a_and_role),
        ("/b", scope_b_by_cookie),
        ("/optional", auth.optional()),
        ("/optional-a", auth.optional().require_scope("a")),
    ])
    .await;

    let a = issuer.token().claim("scope", "a").sign();
    assert_eq!(get_status(addr, "/base", Some(&a)).await, 200);
    assert_eq!(get_status(addr, "/a", Some(&a)).await, 200);
    // `/a-and-role` added a role to a copy of `/a`'s rules: `/a` has none.
    assert_eq!(get_status(addr, "/a-and-role", Some(&a)).await, 403);
    let a_and_x = issuer
        .token()
        .claim("scope", "a")
        .claim("roles", serde_json::json!(["x"]))
        .sign();
    assert_eq!(get_status(addr, "/a-and-role", Some(&a_and_x)).await, 200);
    // `/b`'s scope and cookie source are its own.
    assert_eq!(get_status(addr, "/b", Some(&a)).await, 401);
    let b = issuer.token().claim("scope", "b").sign();
    assert_eq!(get_status(addr, "/b", Some(&b)).await, 401);
    assert_eq!(get_with_cookie(addr, "/b", &b).await, 200);
    assert_eq!(get_with_cookie(addr, "/b", &a).await, 403);
    assert_eq!(get_status(addr, "/a", Some(&b)).await, 403);
    assert_eq!(get_with_cookie(addr, "/a", &a).await, 401);
    assert_eq!(get_with_cookie(addr, "/base", &a).await, 401);
    // Optional is a route's own too, and so are its rules.
    assert_eq!(get_status(addr, "/optional", None).await, 200);
    assert_eq!(get_status(addr, "/base", None).await, 401);
    assert_eq!(get_status(addr, "/optional-a", None).await, 401);
    assert_eq!(get_status(addr, "/optional-a", Some(&a)).await, 200);
}
