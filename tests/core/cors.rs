//! Browsers: tower-http's `CorsLayer` with the auth layer on a real axum
//! server. The CORS layer outside (the README's order) answers preflights
//! and exposes `WWW-Authenticate` on a 401; the auth layer outside needs
//! `allow_cors_preflight`, which lets strict preflights only through.

use crate::common;

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use common::*;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Method};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;
use tower_jwt_auth::{Authenticator, JwtAuthLayer};

const ORIGIN: &str = "https://app.example";

fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(HeaderValue::from_static(ORIGIN))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([AUTHORIZATION, HeaderName::from_static("dpop")])
        .expose_headers([WWW_AUTHENTICATE, HeaderName::from_static("dpop-nonce")])
}

fn auth() -> Authenticator {
    Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap()
}

/// `/api` with the auth layer `auth` outside the CORS layer.
async fn auth_outside(auth: JwtAuthLayer) -> SocketAddr {
    let app = Router::new()
        .route("/api", get(|| async { "ok" }))
        .layer(ServiceBuilder::new().layer(auth).layer(cors()));
    serve(app).await
}

/// `/api` with the CORS layer outside the auth layer (the README's order).
async fn cors_outside(auth: JwtAuthLayer) -> SocketAddr {
    let app = Router::new()
        .route("/api", get(|| async { "ok" }))
        .layer(ServiceBuilder::new().layer(cors()).layer(auth));
    serve(app).await
}

/// An `OPTIONS /api` with these headers: the response.
async fn options(addr: SocketAddr, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().request(Method::OPTIONS, format!("http://{addr}/api"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("request")
}

const PREFLIGHT: [(&str, &str); 3] = [
    ("origin", ORIGIN),
    ("access-control-request-method", "GET"),
    ("access-control-request-headers", "authorization"),
];

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("<non-ascii>").to_ascii_lowercase())
        .unwrap_or_default()
}

#[tokio::test]
async fn with_the_opt_in_a_preflight_reaches_the_cors_layer() {
    let addr = auth_outside(auth().layer().allow_cors_preflight()).await;
    let res = options(addr, &PREFLIGHT).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "access-control-allow-origin"), ORIGIN);
    assert!(header(&res, "access-control-allow-methods").contains("get"));
    assert!(header(&res, "access-control-allow-headers").contains("authorization"));
    assert_eq!(header(&res, "www-authenticate"), "");
}

#[tokio::test]
async fn with_the_opt_in_other_options_requests_still_need_a_token() {
    let addr = auth_outside(auth().layer().allow_cors_preflight()).await;
    let no_method = [("origin", ORIGIN)];
    let no_origin = [("access-control-request-method", "GET")];
    for (what, headers) in [
        ("no ACRM", &no_method[..]),
        ("no Origin", &no_origin[..]),
        ("bare", &[][..]),
    ] {
        let res = options(addr, headers).await;
        assert_eq!(res.status(), 401, "{what}");
        assert_eq!(header(&res, "www-authenticate"), "bearer", "{what}");
    }
    // A preflight's headers on another method: checked as usual.
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // And a real request with a token goes through as before.
    let token = hs256(&json!({"exp": jsonwebtoken::get_current_timestamp() + 600}));
    assert_eq!(fetch_bearer(addr, "/api", &token).await.status, 200);
}

#[tokio::test]
async fn without_the_opt_in_a_preflight_gets_401() {
    let addr = auth_outside(auth().layer()).await;
    let res = options(addr, &PREFLIGHT).await;
    assert_eq!(res.status(), 401, "fail closed by default");
    assert_eq!(header(&res, "access-control-allow-origin"), "");
}

#[tokio::test]
async fn cors_outside_answers_preflights_and_exposes_www_authenticate() {
    let addr = cors_outside(auth().layer()).await;
    let res = options(addr, &PREFLIGHT).await;
    assert_eq!(
        res.status(),
        200,
        "the CORS layer answers before the auth layer"
    );
    assert_eq!(header(&res, "access-control-allow-origin"), ORIGIN);
    // A cross-origin GET with a bad token: a 401 a script can read.
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api"))
        .header("origin", ORIGIN)
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(header(&res, "www-authenticate").contains("invalid_token"));
    assert_eq!(header(&res, "access-control-allow-origin"), ORIGIN);
    let exposed = header(&res, "access-control-expose-headers");
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    assert!(exposed.contains("dpop-nonce"), "{exposed}");
}
