//! The login example's promises end to end (login, refresh rotation with
//! reuse detection, logout refused everywhere within 2 s): the
//! example's own configuration code and router, served on 127.0.0.1 and
//! driven over real HTTP; with the in-memory list, and with two instances
//! sharing a real redis-server.

use crate::common;
use crate::common::redis_server;

#[allow(dead_code, clippy::module_inception)]
#[path = "../../examples/login.rs"]
mod login;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use redis_server::RedisServer;
use serde_json::{json, Value};

/// The login that base_env() accepts.
const GOOD_LOGIN: &str = r#"{"username":"demo","password":"correct horse"}"#;

fn base_env() -> Vec<(&'static str, String)> {
    vec![
        ("JWT_SECRET", SECRET.to_owned()),
        ("LOGIN_USER", "demo".to_owned()),
        ("LOGIN_PASSWORD", "correct horse".to_owned()),
    ]
}

async fn start(vars: &[(&str, String)]) -> SocketAddr {
    let config = login::configure(&env_of(vars)).expect("configure");
    serve(login::app(&config)).await
}

struct JsonReply {
    status: u16,
    cache_control: String,
    body: Value,
}

async fn post(addr: SocketAddr, path: &str, bearer: Option<&str>, body: &str) -> JsonReply {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let cache_control = res
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    JsonReply {
        status,
        cache_control,
        body,
    }
}

async fn login_ok(addr: SocketAddr) -> (String, String) {
    let r = post(addr, "/login", None, GOOD_LOGIN).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(addr: SocketAddr, token: &str) -> JsonReply {
    post(
        addr,
        "/refresh",
        None,
        &json!({ "refresh_token": token }).to_string(),
    )
    .await
}

fn invalid_grant(r: &JsonReply) {
    assert_eq!(
        (r.status, &r.body),
        (401, &json!({"error": "invalid_grant"}))
    );
}

#[tokio::test]
async fn login_answers_the_pair_and_refuses_bad_credentials() {
    let addr = start(&base_env()).await;
    let r = post(addr, "/login", None, GOOD_LOGIN).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.cache_control, "no-store");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 300);
    let access = r.body["access_token"].as_str().unwrap();
    let refresh_token = r.body["refresh_token"].as_str().unwrap();
    assert_ne!(access, refresh_token);

    let me = fetch_bearer(addr, "/me", access).await;
    assert_eq!(me.status, 200);
    let claims: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(claims["sub"], "demo");
    for c in ["iat", "exp", "jti"] {
        assert!(claims.get(c).is_some(), "{c}");
    }

    for body in [
        r#"{"username":"demo","password":"wrong"}"#,
        r#"{"username":"demo","password":"correct hors"}"#,
        r#"{"username":"other","password":"correct horse"}"#,
        r#"{"username":"","password":""}"#,
    ] {
        invalid_grant(&post(addr, "/login", None, body).await);
    }
    for malformed in ["", "not json", r#"{"username":"demo"}"#, "[1]"] {
        let r = post(addr, "/login", None, malformed).await;
        assert_eq!(r.status, 400, "{malformed:?}");
    }
}

#[tokio::test]
async fn me_follows_rfc_6750_and_refuses_refresh_tokens() {
    let addr = start(&base_env()).await;
    let (_, refresh_token) = login_ok(addr).await;
    let r = fetch(addr, "/me", None).await;
    assert_eq!((r.status, r.www.as_str()), (401, "Bearer"));
    let r = fetch_bearer(addr, "/me", &refresh_token).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("error=\"invalid_token\""), "{}", r.www);
    let r = fetch(addr, "/me", Some("Bearer")).await;
    assert!(r.status == 400 || r.status == 401);
}

#[tokio::test]
async fn refresh_rotates_and_refuses_access_tokens() {
    let addr = start(&base_env()).await;
    let (access, refresh_token) = login_ok(addr).await;
    invalid_grant(&refresh(addr, &access).await);
    invalid_grant(&refresh(addr, "not.a.token").await);
    assert_eq!(
        post(addr, "/refresh", None, "{}").await.status,
        400,
        "malformed body"
    );

    let r = refresh(addr, &refresh_token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.cache_control, "no-store");
    let (a2, r2) = (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(a2, access);
    assert_ne!(r2, refresh_token);
    assert_eq!(fetch_bearer(addr, "/me", &a2).await.status, 200);
    // The old access token still lives until its exp: rotation spends the
    // refresh token, not the access token.
    assert_eq!(fetch_bearer(addr, "/me", &access).await.status, 200);
}

#[tokio::test]
async fn spent_refresh_token_is_reuse_and_kills_the_family() {
    let addr = start(&base_env()).await;
    let (a1, r1) = login_ok(addr).await;
    let r = refresh(addr, &r1).await;
    let (a2, r2) = (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    invalid_grant(&refresh(addr, &r1).await);
    for t in [&a1, &a2] {
        let r = fetch_bearer(addr, "/me", t).await;
        assert_eq!(r.status, 401);
        assert!(r.www.contains("revoked"), "{}", r.www);
    }
    invalid_grant(&refresh(addr, &r2).await);
    // Another login is a new family, untouched.
    let (a3, _) = login_ok(addr).await;
    assert_eq!(fetch_bearer(addr, "/me", &a3).await.status, 200);
}

#[tokio::test]
async fn logout_revokes_the_access_token_and_its_refresh_family() {
    let addr = start(&base_env()).await;
    let (access, refresh_token) = login_ok(addr).await;
    let r = post(addr, "/logout", None, "").await;
    assert_eq!(r.status, 401);
    let r = post(addr, "/logout", Some(&access), "").await;
    assert_eq!(r.status, 204);
    let me = fetch_bearer(addr, "/me", &access).await;
    assert_eq!(me.status, 401);
    assert!(me.www.contains("revoked"));
    invalid_grant(&refresh(addr, &refresh_token).await);
    // Logging out again with the revoked token: 401 as on /me.
    assert_eq!(post(addr, "/logout", Some(&access), "").await.status, 401);

    // With the body's refresh token, that token's session goes too.
    let (a1, _) = login_ok(addr).await;
    let (_, r_other) = login_ok(addr).await;
    let body = json!({ "refresh_token": r_other }).to_string();
    assert_eq!(post(addr, "/logout", Some(&a1), &body).await.status, 204);
    invalid_grant(&refresh(addr, &r_other).await);
}

#[tokio::test]
async fn lifetimes_come_from_the_environment() {
    let mut env = base_env();
    env.push(("ACCESS_TTL", "60".into()));
    env.push(("REFRESH_TTL", "120".into()));
    let addr = start(&env).await;
    let r = post(addr, "/login", None, GOOD_LOGIN).await;
    assert_eq!(r.body["expires_in"], 60);
    let me = fetch_bearer(addr, "/me", r.body["access_token"].as_str().unwrap()).await;
    let claims: Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        60
    );
}

#[test]
fn configuration_errors_and_generated_secrets() {
    for (name, value) in [
        ("JWT_SECRET", "too short"),
        ("ACCESS_TTL", "soon"),
        ("REFRESH_TTL", "0"),
    ] {
        let mut env = base_env();
        env.retain(|(k, _)| *k != name);
        env.push((name, value.into()));
        let err = login::configure(&env_of(&env)).err().expect(name);
        assert!(err.contains(name), "{err}");
        assert!(!err.contains(SECRET));
    }
    let config = login::configure(&env_of(&[])).unwrap();
    assert!(config.generated_secret && config.generated_password);
    assert_eq!(config.user, "demo");
    assert!(config.password.len() >= 16);
    assert!(!config.shared);
}

async fn until_status(addr: SocketAddr, token: &str, status: u16, within: Duration) {
    let start = Instant::now();
    loop {
        let r = fetch_bearer(addr, "/me", token).await;
        if r.status == status {
            return;
        }
        assert!(
            start.elapsed() < within,
            "/me answers {} (wanted {status}) after {within:?}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_instances_share_logout_and_reuse_detection_through_redis() {
    let redis = RedisServer::start();
    let mut env = base_env();
    env.push(("REDIS_URL", redis.url()));
    let a = start(&env).await;
    let b = start(&env).await;
    let (access, refresh_token) = login_ok(a).await;
    assert_eq!(fetch_bearer(b, "/me", &access).await.status, 200);

    // Rotation on B, reuse on A: the family dies on both.
    let r = refresh(b, &refresh_token).await;
    assert_eq!(r.status, 200);
    let a2 = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(fetch_bearer(a, "/me", &a2).await.status, 200);
    invalid_grant(&refresh(a, &refresh_token).await);
    until_status(b, &a2, 401, Duration::from_secs(2)).await;
    until_status(a, &a2, 401, Duration::from_secs(2)).await;

    // Logout on A: rejected on B within the promised 2 s.
    let (access, _) = login_ok(a).await;
    assert_eq!(fetch_bearer(b, "/me", &access).await.status, 200);
    assert_eq!(post(a, "/logout", Some(&access), "").await.status, 204);
    assert_eq!(fetch_bearer(a, "/me", &access).await.status, 401);
    until_status(b, &access, 401, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn redis_outage_is_503_on_protected_routes_then_recovers() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let mut env = base_env();
    env.push(("REDIS_URL", redis.url()));
    let addr = start(&env).await;
    let (access, refresh_token) = login_ok(addr).await;
    assert_eq!(fetch_bearer(addr, "/me", &access).await.status, 200);

    redis.kill();
    until_status(addr, &access, 503, Duration::from_secs(3)).await;
    let r = fetch_bearer(addr, "/me", &access).await;
    assert_eq!(r.status, 503, "never 200 while the list is unreachable");
    let r = refresh(addr, &refresh_token).await;
    assert_eq!(r.status, 503);
    assert_eq!(post(addr, "/logout", Some(&access), "").await.status, 503);

    let _redis = RedisServer::start_on(port);
    until_status(addr, &access, 200, Duration::from_secs(10)).await;
    assert_eq!(refresh(addr, &refresh_token).await.status, 200);
}
