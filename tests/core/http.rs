//! The layer through real HTTP: an axum server on 127.0.0.1, reqwest as the
//! client, tokens signed by jsonwebtoken with the fixture keys.

use crate::common;

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use common::*;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{clock::FixedClock, response::RequestHead, AuthError, Authenticator, Claims};

const ISS: &str = "https://issuer.example";
const AUD: &str = "api";

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

async fn optional(claims: Option<Claims>) -> Json<Value> {
    Json(json!({ "claims": claims.map(|c| c.as_ref().clone()) }))
}

fn app(auth: &Authenticator) -> Router {
    Router::new()
        .route("/me", get(me).layer(auth.layer()))
        .route("/admin", get(me).layer(auth.layer().require_scope("admin")))
        .route("/optional", get(optional).layer(auth.optional()))
        .route(
            "/billing",
            get(me).layer(auth.layer().audience(["billing"])),
        )
        .route("/no-layer", get(me))
}

fn claims() -> Value {
    json!({"sub": "u1", "iss": ISS, "aud": AUD, "scope": "read", "iat": NOW, "exp": NOW + 600})
}

fn with(extra: Value) -> Value {
    merged(&claims(), extra)
}

fn hmac_auth() -> Authenticator {
    Authenticator::builder()
        .hmac_secret(SECRET)
        .issuer([ISS])
        .audience([AUD])
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap()
}

async fn hmac_server() -> std::net::SocketAddr {
    serve(app(&hmac_auth())).await
}

fn assert_invalid_token(r: &Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}: status");
    assert!(
        r.www.starts_with("Bearer error=\"invalid_token\""),
        "{what}: www-authenticate {:?}",
        r.www
    );
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_its_whole_claims() {
    let addr = hmac_server().await;
    let r = fetch_bearer(addr, "/me", &hs256(&claims())).await;
    assert_eq!(r.status, 200);
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap(), claims());
}

#[tokio::test]
async fn no_credentials_is_401_bearer_without_error() {
    let addr = hmac_server().await;
    for auth in [None, Some("Basic dXNlcjpwYXNz"), Some("Digest x=y")] {
        let r = fetch(addr, "/me", auth).await;
        assert_eq!(r.status, 401, "{auth:?}");
        assert_eq!(r.www, "Bearer", "{auth:?}");
    }
}

#[tokio::test]
async fn malformed_authorization_header_is_400_invalid_request() {
    let addr = hmac_server().await;
    let t = hs256(&claims());
    for value in [
        "Bearer".to_owned(),
        "Bearer    ".to_owned(),
        format!("Bearer {t} {t}"),
        format!("Bearer\t{t}"),
        format!("Bearer {t},x"),
        format!("Bearer \"{t}\""),
    ] {
        let r = fetch(addr, "/me", Some(&value)).await;
        assert_eq!(r.status, 400, "{value:?}");
        assert!(
            r.www.contains("error=\"invalid_request\""),
            "{value:?}: {}",
            r.www
        );
        assert!(!r.body.contains(&t), "body echoes the token");
    }
}

#[tokio::test]
async fn each_rejection_reason_is_401_invalid_token_and_never_echoes_the_token() {
    let addr = hmac_server().await;
    let good = hs256(&claims());
    let hs = common::forge::secret_key(SECRET.as_bytes());
    let payload = claims().to_string();
    let (h, p, s) = {
        let mut it = good.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            hs256(&with(json!({"exp": NOW - 3600}))),
            "has expired",
        ),
        (
            "not yet valid",
            hs256(&with(json!({"nbf": NOW + 3600}))),
            "not valid yet",
        ),
        (
            "issued in the future",
            hs256(&with(json!({"iat": NOW + 3600}))),
            "issued in the future",
        ),
        (
            "wrong iss",
            hs256(&with(json!({"iss": "https://evil"}))),
            "issuer is not accepted",
        ),
        (
            "missing iss",
            hs256(&with(json!({"iss": null}))),
            "lacks a required claim",
        ),
        (
            "wrong aud",
            hs256(&with(json!({"aud": "other"}))),
            "audience is not accepted",
        ),
        (
            "missing aud",
            hs256(&with(json!({"aud": null}))),
            "lacks a required claim",
        ),
        (
            "missing exp",
            hs256(&with(json!({"exp": null}))),
            "lacks a required claim",
        ),
        (
            "exp as string",
            hs256(&with(json!({"exp": (NOW + 600).to_string()}))),
            "invalid claim",
        ),
        (
            "exp u64::MAX",
            hs256(&with(json!({"exp": u64::MAX}))),
            "invalid claim",
        ),
        (
            "exp negative",
            hs256(&with(json!({"exp": -1}))),
            "invalid claim",
        ),
        (
            "iss as array",
            hs256(&with(json!({"iss": [ISS]}))),
            "invalid claim",
        ),
        (
            "aud as number",
            hs256(&with(json!({"aud": 7}))),
            "invalid claim",
        ),
        (
            "nbf as bool",
            hs256(&with(json!({"nbf": true}))),
            "invalid claim",
        ),
        (
            "bad signature",
            format!("{h}.{p}.{}", b64([0u8; 32])),
            "signature is invalid",
        ),
        (
            "empty signature",
            format!("{h}.{p}."),
            "signature is invalid",
        ),
        (
            "truncated signature",
            format!("{h}.{p}.{}", &s[..s.len() - 4]),
            "signature is invalid",
        ),
        (
            "payload swapped",
            format!("{h}.{}.{s}", b64(with(json!({"sub": "admin"})).to_string())),
            "signature is invalid",
        ),
        (
            "alg none",
            format!("{}.{p}.", b64(r#"{"alg":"none","typ":"JWT"}"#)),
            "algorithm is not allowed",
        ),
        (
            "alg NONE",
            format!("{}.{p}.", b64(r#"{"alg":"NONE"}"#)),
            "algorithm is not allowed",
        ),
        (
            "alg unknown",
            raw_token(r#"{"alg":"HS257"}"#, &payload, Algorithm::HS256, &hs),
            "algorithm is not allowed",
        ),
        (
            "crit",
            raw_token(
                r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
                &payload,
                Algorithm::HS256,
                &hs,
            ),
            "unsupported feature",
        ),
        (
            "b64 false",
            raw_token(
                r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
                &payload,
                Algorithm::HS256,
                &hs,
            ),
            "unsupported feature",
        ),
        (
            "b64 false without crit",
            raw_token(
                r#"{"alg":"HS256","b64":false}"#,
                &payload,
                Algorithm::HS256,
                &hs,
            ),
            "unsupported feature",
        ),
        (
            "enc header",
            raw_token(
                r#"{"alg":"HS256","enc":"A256GCM"}"#,
                &payload,
                Algorithm::HS256,
                &hs,
            ),
            "encrypted tokens",
        ),
        (
            "duplicate claim",
            raw_token(
                r#"{"alg":"HS256"}"#,
                &format!(
                    r#"{{"exp":{},"iss":"{ISS}","aud":"{AUD}","iss":"https://evil"}}"#,
                    NOW + 600
                ),
                Algorithm::HS256,
                &hs,
            ),
            "is malformed",
        ),
        (
            "jwe",
            format!("{}.a.b.c.d", b64(r#"{"alg":"dir","enc":"A256GCM"}"#)),
            "encrypted tokens",
        ),
        ("malformed", "not.a.jwt".to_owned(), "is malformed"),
        ("two segments", format!("{h}.{p}"), "is malformed"),
        (
            "oversize",
            format!("{h}.{}.{s}", "A".repeat(9000)),
            "too large",
        ),
    ];
    for (what, token, description) in cases {
        let r = fetch_bearer(addr, "/me", &token).await;
        assert_invalid_token(&r, what);
        assert!(r.www.contains(description), "{what}: {}", r.www);
        assert!(!r.body.contains(&token), "{what}: body echoes the token");
    }
    // A kid that no key has may still use the single key without a kid.
    let r = fetch_bearer(
        addr,
        "/me",
        &token(Algorithm::HS256, Some("nope"), &claims()),
    )
    .await;
    assert_eq!(
        r.status, 200,
        "a kid no key has falls back to the single kid-less key"
    );
}

#[tokio::test]
async fn unknown_kid_is_401_when_no_key_fits() {
    let auth = Authenticator::builder()
        .jwk_set(&fixture_str("jwks.json"))
        .unwrap()
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    let r = fetch_bearer(
        addr,
        "/me",
        &token(Algorithm::RS256, Some("nope"), &claims()),
    )
    .await;
    assert_invalid_token(&r, "unknown kid");
    assert!(r.www.contains("no key matches the token"), "{}", r.www);
}

#[tokio::test]
async fn every_algorithm_verifies_with_a_pem_key() {
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let auth = Authenticator::builder()
            .public_key_pem(public_pem(alg))
            .unwrap()
            .clock(FixedClock::new(NOW))
            .build()
            .unwrap();
        let addr = serve(app(&auth)).await;
        let r = fetch_bearer(addr, "/me", &token(alg, None, &claims())).await;
        assert_eq!(r.status, 200, "{alg:?}");
        // The same key refuses a token of another family (alg bound to key).
        let other = if alg == Algorithm::EdDSA {
            Algorithm::ES256
        } else {
            Algorithm::EdDSA
        };
        let r = fetch_bearer(addr, "/me", &token(other, None, &claims())).await;
        assert_invalid_token(&r, &format!("{other:?} against a {alg:?} key"));
    }
}

#[tokio::test]
async fn every_algorithm_verifies_with_a_jwk_set_by_kid() {
    let auth = Authenticator::builder()
        .jwk_set(&fixture_str("jwks.json"))
        .unwrap()
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    for alg in [
        Algorithm::RS256,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let r = fetch_bearer(addr, "/me", &token(alg, Some(jwks_kid(alg)), &claims())).await;
        assert_eq!(r.status, 200, "{alg:?}");
        // Right alg, wrong key: the P-384 key never verifies ES256 and so on.
        let wrong_kid = if alg == Algorithm::ES384 {
            "ec256-1"
        } else {
            "ec384-1"
        };
        let r = fetch_bearer(addr, "/me", &token(alg, Some(wrong_kid), &claims())).await;
        assert_invalid_token(&r, &format!("{alg:?} with kid {wrong_kid}"));
    }
}

#[tokio::test]
async fn hmac_variants_need_a_key_as_long_as_the_hash() {
    let long = "k".repeat(64);
    let auth = Authenticator::builder()
        .hmac_secret(&long)
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let t = TestIssuer::from_secret(alg, &long)
            .unwrap()
            .sign_with_kid(&claims(), None);
        assert_eq!(fetch_bearer(addr, "/me", &t).await.status, 200, "{alg:?}");
    }
    // A 36-byte secret serves HS256 only.
    let addr = hmac_server().await;
    let t = token(Algorithm::HS512, None, &claims());
    assert_invalid_token(
        &fetch_bearer(addr, "/me", &t).await,
        "HS512 with a 36-byte key",
    );
}

#[tokio::test]
async fn rsa_public_key_used_as_hmac_secret_is_rejected() {
    let pem = public_pem(Algorithm::RS256);
    let auth = Authenticator::builder()
        .public_key_pem(&pem)
        .unwrap()
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    // The attacker signs HS256 with the public key's bytes as the secret.
    for secret in [pem.clone(), pem.strip_suffix(b"\n").unwrap().to_vec()] {
        let t = common::forge::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims(),
            &common::forge::secret_key(&secret),
        )
        .unwrap();
        let r = fetch_bearer(addr, "/me", &t).await;
        assert_invalid_token(&r, "alg confusion");
        assert!(r.www.contains("algorithm is not allowed"), "{}", r.www);
    }
}

#[tokio::test]
async fn exp_just_inside_and_just_outside_the_leeway() {
    let clock = std::sync::Arc::new(FixedClock::new(NOW));
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .leeway(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    let t = hs256(&json!({"sub": "u", "exp": NOW}));
    clock.advance(Duration::from_secs(29));
    assert_eq!(
        fetch_bearer(addr, "/me", &t).await.status,
        200,
        "inside leeway"
    );
    clock.advance(Duration::from_secs(1));
    let r = fetch_bearer(addr, "/me", &t).await;
    assert_invalid_token(&r, "at exp + leeway");
    assert!(r.www.contains("has expired"), "{}", r.www);
    // nbf the same way, from the other side.
    let t = hs256(&json!({"sub": "u", "exp": NOW + 3600, "nbf": NOW + 100}));
    clock.set(NOW + 70);
    assert_eq!(
        fetch_bearer(addr, "/me", &t).await.status,
        200,
        "nbf inside leeway"
    );
    clock.set(NOW + 69);
    let r = fetch_bearer(addr, "/me", &t).await;
    assert_invalid_token(&r, "nbf outside leeway");
    assert!(r.www.contains("not valid yet"), "{}", r.www);
}

#[tokio::test]
async fn missing_scope_is_403_insufficient_scope() {
    let addr = hmac_server().await;
    let r = fetch_bearer(addr, "/admin", &hs256(&claims())).await;
    assert_eq!(r.status, 403);
    assert!(
        r.www.starts_with("Bearer error=\"insufficient_scope\"")
            && r.www.contains("scope=\"admin\""),
        "{}",
        r.www
    );
    let ok = hs256(&with(json!({"scope": "read admin"})));
    assert_eq!(fetch_bearer(addr, "/admin", &ok).await.status, 200);
    // `scp` counts only when enabled (the demo server reads scopes from the `scope` claim).
    let scp = hs256(&with(json!({"scope": null, "scp": ["admin"]})));
    assert_eq!(fetch_bearer(addr, "/admin", &scp).await.status, 403);
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .scp_claim(true)
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let scp_addr = serve(app(&auth)).await;
    assert_eq!(fetch_bearer(scp_addr, "/admin", &scp).await.status, 200);
    // An invalid token on a scoped route is still 401, not 403.
    let expired = hs256(&with(json!({"scope": "admin", "exp": NOW - 3600})));
    assert_invalid_token(
        &fetch_bearer(addr, "/admin", &expired).await,
        "expired admin",
    );
}

#[tokio::test]
async fn optional_route_lets_anonymous_through_and_rejects_bad_tokens() {
    let addr = hmac_server().await;
    let r = fetch(addr, "/optional", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"claims": null})
    );
    let r = fetch_bearer(addr, "/optional", &hs256(&claims())).await;
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({ "claims": claims() })
    );
    let bad = hs256(&with(json!({"exp": NOW - 3600})));
    assert_invalid_token(
        &fetch_bearer(addr, "/optional", &bad).await,
        "optional, expired",
    );
    assert_eq!(fetch(addr, "/optional", Some("Bearer")).await.status, 400);
}

#[tokio::test]
async fn route_audience_replaces_the_authenticator_audience() {
    let addr = hmac_server().await;
    let billing = hs256(&with(json!({"aud": "billing"})));
    assert_eq!(fetch_bearer(addr, "/billing", &billing).await.status, 200);
    assert_invalid_token(
        &fetch_bearer(addr, "/me", &billing).await,
        "billing token on /me",
    );
    assert_invalid_token(
        &fetch_bearer(addr, "/billing", &hs256(&claims())).await,
        "api token on /billing",
    );
}

#[tokio::test]
async fn extracting_claims_without_the_layer_is_500_naming_the_layer() {
    let addr = hmac_server().await;
    let r = fetch_bearer(addr, "/no-layer", &hs256(&claims())).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("JwtAuthLayer"), "{}", r.body);
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MyClaims {
    sub: String,
    exp: u64,
    tenant: u32,
}

#[tokio::test]
async fn typed_claims_are_extracted_and_bad_ones_are_401() {
    async fn typed(Claims(c): Claims<MyClaims>) -> Json<MyClaims> {
        Json(c.as_ref().clone())
    }
    let auth = Authenticator::builder()
        .claims::<MyClaims>()
        .hmac_secret(SECRET)
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/typed", get(typed).layer(auth.layer()))
        .route("/mismatch", get(me).layer(auth.layer()));
    let addr = serve(app).await;
    let t = hs256(&json!({"sub": "u1", "exp": NOW + 60, "tenant": 7}));
    let r = fetch_bearer(addr, "/typed", &t).await;
    assert_eq!(r.status, 200);
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["tenant"], 7);
    let bad = hs256(&json!({"sub": "u1", "exp": NOW + 60, "tenant": "seven"}));
    assert_invalid_token(
        &fetch_bearer(addr, "/typed", &bad).await,
        "claims not MyClaims",
    );
    // Handler asks for Claims<Value>, the layer decodes MyClaims: a bug, 500.
    let r = fetch_bearer(addr, "/mismatch", &t).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("another claims type"), "{}", r.body);
    assert!(
        !r.body.contains("MyClaims"),
        "internal type names stay in the logs"
    );
}

#[tokio::test]
async fn custom_error_response_replaces_the_body_and_keeps_the_challenge() {
    let auth = hmac_auth();
    let layer = auth
        .layer()
        .on_error(|e: &AuthError, head: &RequestHead<'_>| {
            let body = json!({"error": format!("{:?}", e.kind()), "method": head.method.as_str()});
            let mut res = http::Response::new(axum::body::Body::from(body.to_string()));
            *res.status_mut() = e.status();
            res
        });
    let addr = serve(Router::new().route("/me", get(me).layer(layer))).await;
    let r = fetch_bearer(addr, "/me", &hs256(&with(json!({"exp": NOW - 3600})))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body, r#"{"error":"Expired","method":"GET"}"#);
    assert_eq!(
        r.www,
        r#"Bearer error="invalid_token", error_description="the token has expired""#
    );
}

#[tokio::test]
async fn typ_is_checked_when_configured() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .typ("at+jwt")
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    let hs = common::forge::secret_key(SECRET.as_bytes());
    let payload = json!({"exp": NOW + 60}).to_string();
    let at = raw_token(
        r#"{"alg":"HS256","typ":"at+jwt"}"#,
        &payload,
        Algorithm::HS256,
        &hs,
    );
    assert_eq!(fetch_bearer(addr, "/me", &at).await.status, 200);
    let jwt = raw_token(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &payload,
        Algorithm::HS256,
        &hs,
    );
    assert_invalid_token(&fetch_bearer(addr, "/me", &jwt).await, "typ JWT");
}

#[tokio::test]
async fn realm_appears_in_every_challenge() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .realm("example")
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    assert_eq!(
        fetch(addr, "/me", None).await.www,
        "Bearer realm=\"example\""
    );
    let r = fetch_bearer(addr, "/me", "a.b.c").await;
    assert!(
        r.www
            .starts_with("Bearer realm=\"example\", error=\"invalid_token\""),
        "{}",
        r.www
    );
    let r = fetch(addr, "/me", Some("Bearer")).await;
    assert!(
        r.www
            .starts_with("Bearer realm=\"example\", error=\"invalid_request\""),
        "{}",
        r.www
    );
    let r = fetch_bearer(
        addr,
        "/admin",
        &hs256(&json!({"exp": jsonwebtoken::get_current_timestamp() + 600})),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(
        r.www
            .starts_with("Bearer realm=\"example\", error=\"insufficient_scope\""),
        "{}",
        r.www
    );
    // The extractor's own 401 (a `Claims` handler behind an optional layer).
    let app = Router::new().route("/strict", get(me).layer(auth.optional()));
    let addr = serve(app).await;
    assert_eq!(
        fetch(addr, "/strict", None).await.www,
        "Bearer realm=\"example\""
    );
}

#[tokio::test]
async fn optional_route_with_a_scope_still_needs_a_token() {
    let auth = hmac_auth();
    let app = Router::new().route(
        "/opt-admin",
        get(optional).layer(auth.optional().require_scope("admin")),
    );
    let addr = serve(app).await;
    for anonymous in [None, Some("Basic dXNlcjpwYXNz")] {
        let r = fetch(addr, "/opt-admin", anonymous).await;
        assert_eq!((r.status, r.www.as_str()), (401, "Bearer"), "{anonymous:?}");
    }
    let admin = hs256(&with(json!({"scope": "admin"})));
    assert_eq!(fetch_bearer(addr, "/opt-admin", &admin).await.status, 200);
    assert_eq!(
        fetch_bearer(addr, "/opt-admin", &hs256(&claims()))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn insufficient_scope_challenge_lists_every_required_scope() {
    let auth = hmac_auth();
    let layer = auth.layer().require_scope("admin").require_scope("billing");
    let addr = serve(Router::new().route("/two", get(me).layer(layer))).await;
    let r = fetch_bearer(addr, "/two", &hs256(&with(json!({"scope": "admin"})))).await;
    assert_eq!(r.status, 403);
    assert!(r.www.ends_with("scope=\"admin billing\""), "{}", r.www);
    let both = hs256(&with(json!({"scope": "billing admin"})));
    assert_eq!(fetch_bearer(addr, "/two", &both).await.status, 200);
}

#[tokio::test]
async fn a_get_claiming_grpc_still_gets_http_statuses() {
    // Only a gRPC call (POST + application/grpc) gets a trailers-only 200;
    // a client cannot make a 401 into a cacheable 200 with a header.
    let addr = hmac_server().await;
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/me"))
        .header("content-type", "application/grpc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["cache-control"], "no-store");
}
