//! Claims forwarded as headers (`forward` module) through a real axum
//! server: the layer option of an in-process proxy (mapped headers set;
//! `Authorization`, `DPoP`, a header token source and the client's copies
//! removed; unsafe claim values refused), and the forward-auth service's
//! rule that the original method and URI come from headers only when
//! configured.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderName};
use axum::routing::get;
use axum::Router;
use common::dpop::{proof_key, Req};
use serde_json::json;
use tower_jwt_auth::clock::Clock as _;
use tower_jwt_auth::dpop::{DpopConfig, DpopMode};
use tower_jwt_auth::forward::{ClaimHeaders, ForwardAuth, Origin};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{JwtAuthLayer, TokenSource};

type Seen = Arc<Mutex<Vec<HeaderMap>>>;

fn mapping() -> ClaimHeaders {
    ClaimHeaders::new()
        .map("sub", "x-user")
        .and_then(|m| m.map("email", "x-user-email"))
        .expect("mapping")
}

/// The "upstream" behind `layer`: records the headers it was given.
async fn proxy(layer: JwtAuthLayer) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let record = seen.clone();
    let handler = get(move |headers: HeaderMap| {
        let record = record.clone();
        async move {
            record.lock().expect("lock").push(headers);
            "upstream"
        }
    });
    let app = Router::new().route("/api", handler.layer(layer));
    (common::serve(app).await, seen)
}

async fn get_with(addr: SocketAddr, headers: &[(&str, &str)]) -> u16 {
    let mut req = reqwest::Client::new().get(format!("http://{addr}/api"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request").status().as_u16()
}

fn values(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

#[tokio::test]
async fn forward_claims_sets_the_mapped_headers_and_removes_authorization_and_client_copies() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    let (addr, seen) = proxy(auth.layer().forward_claims(mapping())).await;
    let token = issuer
        .token()
        .subject("ada")
        .claim("email", "ada@example.com")
        .sign();
    let bearer = format!("Bearer {token}");
    let status = get_with(
        addr,
        &[
            ("authorization", &bearer),
            ("x-user", "admin"),
            ("x-user", "root"),
            ("x-user-email", "admin@example.com"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let seen = seen.lock().unwrap();
    let h = &seen[0];
    assert_eq!(values(h, "x-user"), ["ada"]);
    assert_eq!(values(h, "x-user-email"), ["ada@example.com"]);
    assert!(h.get("authorization").is_none(), "{h:?}");
}

/// A token without `email`: no `X-User-Email`, and the client's is gone.
#[tokio::test]
async fn an_absent_claim_sets_no_header_and_the_client_copy_is_removed() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    let (addr, seen) = proxy(auth.layer().forward_claims(mapping())).await;
    let token = issuer.token().subject("ada").sign();
    let bearer = format!("Bearer {token}");
    let status = get_with(
        addr,
        &[
            ("authorization", &bearer),
            ("x-user-email", "admin@example.com"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let h = &seen.lock().unwrap()[0];
    assert_eq!(values(h, "x-user"), ["ada"]);
    assert!(h.get("x-user-email").is_none(), "{h:?}");
}

#[tokio::test]
async fn an_anonymous_request_on_an_optional_route_loses_the_client_copies() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    let (addr, seen) = proxy(auth.optional().forward_claims(mapping())).await;
    assert_eq!(get_with(addr, &[("x-user", "admin")]).await, 200);
    let h = &seen.lock().unwrap()[0];
    assert!(h.get("x-user").is_none(), "{h:?}");
}

#[tokio::test]
async fn a_dpop_request_reaches_the_upstream_without_authorization_and_dpop() {
    let issuer = TestIssuer::es256();
    let auth = issuer
        .authenticator()
        .dpop(DpopConfig::new(DpopMode::Allowed).public_url("http://api.test"))
        .build()
        .unwrap();
    let (addr, seen) = proxy(auth.layer().forward_claims(mapping())).await;
    let key = proof_key(jsonwebtoken::Algorithm::ES256);
    let bound = issuer
        .token()
        .subject("ada")
        .claim("cnf", json!({"jkt": key.jkt}))
        .sign();
    let now = tower_jwt_auth::clock::SystemClock.now();
    let req = Req::with(&key, "http://api.test", "/api", bound.clone(), now);
    let status = get_with(
        addr,
        &[
            ("authorization", &format!("DPoP {bound}")),
            ("dpop", &req.proof(&key)),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let h = &seen.lock().unwrap()[0];
    assert_eq!(values(h, "x-user"), ["ada"]);
    assert!(h.get("authorization").is_none(), "{h:?}");
    assert!(h.get("dpop").is_none(), "{h:?}");
}

#[tokio::test]
async fn a_token_from_a_header_source_is_removed_too() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    let source = TokenSource::header(HeaderName::from_static("x-access-token"));
    let layer = auth
        .layer()
        .token_sources([source])
        .forward_claims(mapping());
    let (addr, seen) = proxy(layer).await;
    let token = issuer.token().subject("ada").sign();
    assert_eq!(get_with(addr, &[("x-access-token", &token)]).await, 200);
    let h = &seen.lock().unwrap()[0];
    assert_eq!(values(h, "x-user"), ["ada"]);
    assert!(h.get("x-access-token").is_none(), "{h:?}");
}

/// CR/LF in a claim would split the header: the request is refused with
/// 403, and the upstream never sees it.
#[tokio::test]
async fn a_claim_with_cr_lf_is_refused_with_403_before_the_upstream() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    let (addr, seen) = proxy(auth.layer().forward_claims(mapping())).await;
    for sub in ["ada\r\nx-admin: yes", "ada\nx", " admin"] {
        let token = issuer.token().subject(sub).sign();
        let status = get_with(addr, &[("authorization", &format!("Bearer {token}"))]).await;
        assert_eq!(status, 403, "{sub:?}");
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_oversized_claim_is_refused_and_one_within_the_bound_forwarded() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    let layer = auth.layer().forward_claims(mapping().max_value_len(100));
    let (addr, seen) = proxy(layer).await;
    let send = |sub: String| {
        let token = issuer.token().subject(sub).sign();
        async move { get_with(addr, &[("authorization", &format!("Bearer {token}"))]).await }
    };
    assert_eq!(send("x".repeat(101)).await, 403);
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(send("x".repeat(100)).await, 200);
    assert_eq!(
        values(&seen.lock().unwrap()[0], "x-user"),
        ["x".repeat(100)]
    );
}

/// The forward-auth service judges the request it receives unless told to
/// trust the gateway's headers: a DPoP proof for `GET /public`, sent to
/// `POST /check` with `X-Original-*` naming `GET /public`, passes only with
/// [`Origin::nginx`].
#[tokio::test]
async fn forward_auth_reads_the_original_request_from_headers_only_when_configured() {
    let issuer = TestIssuer::es256();
    let auth = issuer
        .authenticator()
        .dpop(DpopConfig::new(DpopMode::Allowed).public_url("http://api.test"))
        .build()
        .unwrap();
    let serve = |origin: Origin| {
        let gate = auth.layer().forward_claims(mapping()).into_gate();
        let app = Router::new().fallback_service(ForwardAuth::new(gate, origin));
        common::serve(app)
    };
    let own = serve(Origin::request()).await;
    let trusted = serve(Origin::nginx()).await;
    let key = proof_key(jsonwebtoken::Algorithm::ES256);
    let bound = issuer
        .token()
        .subject("ada")
        .claim("cnf", json!({"jkt": key.jkt}))
        .sign();
    let check = |addr: SocketAddr, original: bool| {
        let now = tower_jwt_auth::clock::SystemClock.now();
        let proof = Req::with(&key, "http://api.test", "/public", bound.clone(), now).proof(&key);
        let mut req = reqwest::Client::new()
            .post(format!("http://{addr}/check"))
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", proof);
        if original {
            req = req
                .header("x-original-method", "GET")
                .header("x-original-uri", "/public");
        }
        async move { req.send().await.expect("request") }
    };
    let res = check(own, true).await;
    assert_eq!(res.status(), 401, "the headers were trusted unconfigured");
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_dpop_proof"));
    let res = check(trusted, true).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-user"], "ada");
    assert_eq!(res.headers()["cache-control"], "no-store");
    // Configured but absent: 400, never judged on the request itself.
    assert_eq!(check(trusted, false).await.status(), 400);
}

/// A gRPC call without a token: the gateway must get 401, never the gRPC
/// rejection (an HTTP 200 with `grpc-status`, which nginx, Traefik and
/// Envoy read as "allowed").
#[tokio::test]
async fn forward_auth_refuses_a_grpc_call_with_an_http_401_not_a_grpc_200() {
    let issuer = TestIssuer::hs256();
    let auth = issuer.authenticator().build().unwrap();
    let gate = auth.layer().forward_claims(mapping()).into_gate();
    let app = Router::new().fallback_service(ForwardAuth::new(gate, Origin::request()));
    let addr = common::serve(app).await;
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/greeter.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("grpc-status").is_none());
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
}

/// Traefik's `X-Forwarded-Method`/`X-Forwarded-Uri` and Envoy's path
/// prefix name the original request (here `GET /public`, which the DPoP
/// proof is for) only with their `Origin`; the default judges the check
/// request itself.
#[tokio::test]
async fn forward_auth_reads_traefik_headers_and_the_envoy_prefix_only_when_configured() {
    let issuer = TestIssuer::es256();
    let auth = issuer
        .authenticator()
        .dpop(DpopConfig::new(DpopMode::Allowed).public_url("http://api.test"))
        .build()
        .unwrap();
    let serve = |origin: Origin| {
        let gate = auth.layer().forward_claims(mapping()).into_gate();
        let app = Router::new().fallback_service(ForwardAuth::new(gate, origin));
        common::serve(app)
    };
    let key = proof_key(jsonwebtoken::Algorithm::ES256);
    let bound = issuer
        .token()
        .subject("ada")
        .claim("cnf", json!({"jkt": key.jkt}))
        .sign();
    let check = |addr: SocketAddr, method: reqwest::Method, path: &str, traefik: bool| {
        let now = tower_jwt_auth::clock::SystemClock.now();
        let proof = Req::with(&key, "http://api.test", "/public", bound.clone(), now).proof(&key);
        let mut req = reqwest::Client::new()
            .request(method, format!("http://{addr}{path}"))
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", proof);
        if traefik {
            req = req
                .header("x-forwarded-method", "GET")
                .header("x-forwarded-uri", "/public");
        }
        async move { req.send().await.expect("request").status().as_u16() }
    };
    let own = serve(Origin::request()).await;
    let traefik = serve(Origin::traefik()).await;
    let envoy = serve(Origin::path_prefix("/check")).await;
    assert_eq!(check(own, reqwest::Method::POST, "/check", true).await, 401);
    assert_eq!(
        check(traefik, reqwest::Method::POST, "/check", true).await,
        200
    );
    assert_eq!(
        check(traefik, reqwest::Method::POST, "/check", false).await,
        400
    );
    assert_eq!(
        check(envoy, reqwest::Method::GET, "/check/public", true).await,
        200
    );
    assert_eq!(
        check(own, reqwest::Method::GET, "/check/public", false).await,
        401
    );
    assert_eq!(
        check(envoy, reqwest::Method::GET, "/public", false).await,
        400
    );
}
