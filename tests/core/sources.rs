//! Token sources through a real axum server: the Authorization header, a
//! cookie, a custom header, a function, the query parameter (only when asked
//! for), their order, and conflicts.

use crate::common;

use axum::routing::get;
use axum::Router;
use common::*;
use http::HeaderName;
use serde_json::json;
use tower_jwt_auth::{Authenticator, Claims, TokenSource};

async fn sub(claims: Option<Claims>) -> String {
    claims
        .and_then(|c| c["sub"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "anonymous".into())
}

fn tok(sub: &str) -> String {
    let exp = jsonwebtoken::get_current_timestamp() + 600;
    hs256(&json!({"sub": sub, "exp": exp}))
}

fn auth() -> Authenticator {
    Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap()
}

async fn start(sources: Vec<TokenSource>) -> std::net::SocketAddr {
    let a = auth();
    serve(
        Router::new()
            .route(
                "/",
                get(sub).layer(a.layer().token_sources(sources.clone())),
            )
            .route("/opt", get(sub).layer(a.optional().token_sources(sources))),
    )
    .await
}

/// GET `path` with these headers; (status, www-authenticate, body).
async fn get_with(addr: std::net::SocketAddr, path: &str, headers: &[(&str, String)]) -> Reply {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        www,
        body: res.text().await.unwrap(),
    }
}

fn bearer(t: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {t}"))
}

#[tokio::test]
async fn the_default_source_is_the_authorization_header_only() {
    let a = auth();
    let addr = serve(Router::new().route("/", get(sub).layer(a.layer()))).await;
    let r = get_with(addr, "/", &[bearer(&tok("ada"))]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ada"));
    // A cookie or a query parameter is not looked at unless configured.
    let r = get_with(
        addr,
        "/",
        &[("cookie", format!("access_token={}", tok("ada")))],
    )
    .await;
    assert_eq!((r.status, r.www.as_str()), (401, "Bearer"));
    let r = get_with(addr, &format!("/?access_token={}", tok("ada")), &[]).await;
    assert_eq!((r.status, r.www.as_str()), (401, "Bearer"));
}

#[tokio::test]
async fn a_named_cookie() {
    let addr = start(vec![TokenSource::cookie("access_token")]).await;
    let cookie = format!("theme=dark; access_token={}; lang=en", tok("ada"));
    let r = get_with(addr, "/", &[("cookie", cookie)]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ada"));
    // Quoted cookie values (RFC 6265 cookie-value) are unquoted.
    let r = get_with(
        addr,
        "/",
        &[("cookie", format!("access_token=\"{}\"", tok("bo")))],
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "bo"));
    // Another cookie's name that merely ends the same way is not it.
    let r = get_with(
        addr,
        "/",
        &[("cookie", format!("x_access_token={}", tok("ada")))],
    )
    .await;
    assert_eq!(r.status, 401);
    // A cleared cookie is no token; on an optional route, anonymous.
    let r = get_with(addr, "/opt", &[("cookie", "access_token=".to_owned())]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "anonymous"));
    // An invalid token in the cookie is a 401 invalid_token, never anonymous.
    let r = get_with(addr, "/opt", &[("cookie", "access_token=a.b.c".to_owned())]).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("invalid_token"), "{}", r.www);
    // The cookie twice with different values: which one? Neither: 400.
    let twice = format!("access_token={}; access_token={}", tok("ada"), tok("eve"));
    let r = get_with(addr, "/", &[("cookie", twice)]).await;
    assert_eq!(r.status, 400);
    assert!(r.www.contains("invalid_request"), "{}", r.www);
}

#[tokio::test]
async fn a_custom_header() {
    let addr = start(vec![TokenSource::header(HeaderName::from_static(
        "x-access-token",
    ))])
    .await;
    let r = get_with(addr, "/", &[("x-access-token", tok("ada"))]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ada"));
    // Only the token itself: no scheme, one token68.
    let r = get_with(
        addr,
        "/",
        &[("x-access-token", format!("Bearer {}", tok("ada")))],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = get_with(addr, "/", &[bearer(&tok("ada"))]).await;
    assert_eq!(
        r.status, 401,
        "the Authorization header is not a source here"
    );
}

#[tokio::test]
async fn a_function_of_your_own() {
    let source = TokenSource::from_fn(|headers, _| {
        let v = headers.get("x-api-token")?.to_str().ok()?;
        v.strip_prefix("jwt ").map(str::to_owned)
    });
    let addr = start(vec![source]).await;
    let r = get_with(addr, "/", &[("x-api-token", format!("jwt {}", tok("ada")))]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ada"));
    let r = get_with(addr, "/", &[("x-api-token", tok("ada"))]).await;
    assert_eq!(r.status, 401, "the function found nothing");
    let r = get_with(addr, "/", &[("x-api-token", "jwt not-a-jwt".to_owned())]).await;
    assert!(r.www.contains("invalid_token"), "{}", r.www);
}

#[tokio::test]
async fn the_query_parameter_only_when_enabled() {
    let addr = start(vec![
        TokenSource::authorization(),
        TokenSource::danger_query("access_token"),
    ])
    .await;
    let r = get_with(addr, &format!("/?x=1&access_token={}", tok("ada")), &[]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ada"));
    let path = format!("/?access_token={}&access_token={}", tok("ada"), tok("ada"));
    assert_eq!(get_with(addr, &path, &[]).await.status, 400, "given twice");
    let r = get_with(addr, "/?access_token=", &[]).await;
    assert_eq!(r.status, 401, "empty: no token");
    assert_eq!(r.www, "Bearer");
}

#[tokio::test]
async fn order_and_conflicts() {
    let cookie = |t: &str| ("cookie", format!("access_token={t}"));
    let addr = start(vec![
        TokenSource::authorization(),
        TokenSource::cookie("access_token"),
    ])
    .await;
    // Either source alone works.
    assert_eq!(
        get_with(addr, "/", &[bearer(&tok("ada"))]).await.body,
        "ada"
    );
    assert_eq!(get_with(addr, "/", &[cookie(&tok("bo"))]).await.body, "bo");
    // The same token in both: fine.
    let t = tok("ada");
    let r = get_with(addr, "/", &[bearer(&t), cookie(&t)]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ada"));
    // Different tokens: a 400, not a guess, whichever is valid.
    let r = get_with(addr, "/", &[bearer(&tok("ada")), cookie(&tok("eve"))]).await;
    assert_eq!(r.status, 400);
    assert!(r.www.contains("invalid_request"), "{}", r.www);
    let r = get_with(addr, "/", &[bearer(&tok("ada")), cookie("a.b.c")]).await;
    assert_eq!(r.status, 400, "a junk cookie beside a good header");
    // Another Authorization scheme is no credentials, so the cookie is used.
    let r = get_with(
        addr,
        "/",
        &[
            ("authorization", "Basic dXNlcjpwYXNz".into()),
            cookie(&tok("bo")),
        ],
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (200, "bo"));
    // A malformed Authorization header is a 400 even with a good cookie:
    // a broken credential is never skipped over.
    let r = get_with(
        addr,
        "/",
        &[("authorization", "Bearer".into()), cookie(&tok("bo"))],
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn the_first_source_in_order_decides_which_error_is_reported() {
    // An oversize cookie and a malformed header: the first source's error.
    let big = "a".repeat(9000);
    let headers = [
        ("cookie", format!("t={big}")),
        ("authorization", "Bearer a b".to_owned()),
    ];
    let cookie_first = start(vec![TokenSource::cookie("t"), TokenSource::authorization()]).await;
    let r = get_with(cookie_first, "/", &headers).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("too large"), "{}", r.www);
    let header_first = start(vec![TokenSource::authorization(), TokenSource::cookie("t")]).await;
    let r = get_with(header_first, "/", &headers).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn builder_sources_apply_to_every_layer_and_an_empty_list_is_an_error() {
    let a = Authenticator::builder()
        .hmac_secret(SECRET)
        .token_sources([TokenSource::cookie("session")])
        .build()
        .unwrap();
    let addr = serve(Router::new().route("/", get(sub).layer(a.layer()))).await;
    let r = get_with(addr, "/", &[("cookie", format!("session={}", tok("ada")))]).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ada"));
    let none: [TokenSource; 0] = [];
    let err = Authenticator::builder()
        .hmac_secret(SECRET)
        .token_sources(none)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("token source"), "{err}");
}
