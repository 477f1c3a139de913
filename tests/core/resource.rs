//! The resource-server profile through a real axum server: RFC 9728
//! metadata and `resource_metadata` challenges, the RFC 8707 audience, and
//! RFC 9470 step-up (HTTP and gRPC, cache hits included).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use common::dpop::{proof_key, send, Req};
use common::*;
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    clock::FixedClock, dpop::DpopConfig, dpop::DpopMode, resource::ProtectedResource,
    response::RequestHead, AuthError, AuthErrorKind, Authenticator, Claims, ConfigError,
    TokenSource,
};

const RESOURCE: &str = "https://api.example/mcp";
const METADATA_URL: &str = "https://api.example/.well-known/oauth-protected-resource/mcp";
const ACR: &str = "urn:example:mfa";

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

/// A JSON error body, as an application that wants one writes it: no
/// headers of its own.
fn json_error(e: &AuthError, _: &RequestHead<'_>) -> axum::response::Response {
    let body = json!({"error": e.kind().error_code(), "kind": format!("{:?}", e.kind())});
    (e.status(), Json(body)).into_response()
}

/// A responder that writes its own challenge.
fn own_challenge(e: &AuthError, _: &RequestHead<'_>) -> axum::response::Response {
    let own = [("www-authenticate", "Bearer realm=\"own\"")];
    (e.status(), own, "own").into_response()
}

/// A responder that answers gRPC calls with a trailers-only gRPC response
/// of its own (HTTP 200) and everything else with JSON.
fn grpc_or_json(e: &AuthError, head: &RequestHead<'_>) -> axum::response::Response {
    if !head.is_grpc() {
        return json_error(e, head);
    }
    let grpc = [
        ("content-type", "application/grpc".to_owned()),
        ("grpc-status", e.grpc_status().to_string()),
        ("grpc-message", "custom".to_owned()),
    ];
    (grpc, ()).into_response()
}

/// A resource server for `RESOURCE`: `/me`, `/admin` (scope `admin`),
/// `/stepup` (acr `ACR`, auth_time ≤ 300 s), `/typed` (step-up with its own
/// responder), `/json` and `/json-admin` (JSON errors), `/raw` (JSON errors,
/// sent raw), `/own` (a responder's own challenge), `/grpc-custom` (a
/// responder's own gRPC answer), and the metadata.
fn app(auth: &Authenticator) -> Router {
    let typed = |e: &AuthError, _: &RequestHead<'_>| {
        let body = json!({
            "kind": format!("{:?}", e.kind()),
            "acr_values": e.acr_values(),
            "max_age": e.max_age(),
        });
        (e.status(), Json(body)).into_response()
    };
    let stepup = || {
        auth.layer()
            .require_acr([ACR])
            .max_auth_age(Duration::from_secs(300))
    };
    let admin = auth.layer().require_scope("admin");
    let metadata = auth
        .resource_metadata()
        .expect("resource configured")
        .with_scopes_of(&admin);
    Router::new()
        .route("/me", get(me).layer(auth.layer()))
        .route("/admin", get(me).layer(admin))
        .route("/stepup", get(me).layer(stepup()))
        .route("/typed", get(me).layer(stepup().on_error(typed)))
        .route("/json", get(me).layer(auth.layer().on_error(json_error)))
        .route(
            "/json-admin",
            get(me).layer(auth.layer().require_scope("admin").on_error(json_error)),
        )
        .route("/raw", get(me).layer(auth.layer().on_error_raw(json_error)))
        .route("/own", get(me).layer(auth.layer().on_error(own_challenge)))
        .route(
            "/grpc-custom",
            get(me).post(me).layer(auth.layer().on_error(grpc_or_json)),
        )
        .merge(metadata.router())
}

struct Server {
    addr: std::net::SocketAddr,
    issuer: TestIssuer,
    clock: Arc<FixedClock>,
}

async fn server() -> Server {
    let clock = Arc::new(FixedClock::new(NOW));
    let issuer = TestIssuer::hs256()
        .with_audience(RESOURCE)
        .with_clock(Arc::clone(&clock));
    let auth = Authenticator::builder()
        .key(issuer.key())
        .issuer([issuer.issuer()])
        .clock(Arc::clone(&clock))
        .resource(
            ProtectedResource::new("HTTPS://API.example/mcp/")
                .name("Example tools")
                .scopes_supported(["profile"]),
        )
        .build()
        .expect("build");
    let addr = serve(app(&auth)).await;
    Server {
        addr,
        issuer,
        clock,
    }
}

fn attribute<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}="))? + name.len() + 1;
    let rest = &challenge[start..];
    match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next(),
        None => rest.split([',', ' ']).next(),
    }
}

/// RFC 9728 §3.3: the document is served at its own URL only; the bare
/// well-known URL is that of the origin's resource (`https://api.example`),
/// not this one's.
#[tokio::test]
async fn metadata_is_served_at_its_own_url_only() {
    let s = server().await;
    let own = "/.well-known/oauth-protected-resource/mcp";
    let res = reqwest::get(format!("http://{}{own}", s.addr))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(
        doc,
        json!({
            "resource": RESOURCE,
            "authorization_servers": [s.issuer.issuer()],
            "scopes_supported": ["admin", "profile"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Example tools",
        })
    );
    let origin = format!("http://{}/.well-known/oauth-protected-resource", s.addr);
    assert_eq!(reqwest::get(&origin).await.unwrap().status(), 404);
    let res = reqwest::Client::new()
        .post(format!("http://{}{own}", s.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

/// Two protected resources on one host (`/a/mcp`, `/b/mcp`): their
/// metadata routers merge without clashing (axum panics on a route claimed
/// twice), each document names its own resource at its own URL, and each
/// resource's challenges point at its own document.
#[tokio::test]
async fn two_resources_on_one_host_are_served_side_by_side() {
    let issuer = TestIssuer::hs256();
    let mut app = Router::new();
    let mut resources = Vec::new();
    for name in ["a", "b"] {
        let resource = format!("https://api.example/{name}/mcp");
        let auth = issuer
            .authenticator()
            .audience([resource.clone()])
            .resource(resource.as_str())
            .build()
            .unwrap();
        let metadata = auth.resource_metadata().unwrap();
        app = app
            .route(&format!("/{name}/mcp"), get(me).layer(auth.layer()))
            .merge(metadata.router());
        resources.push((name, resource));
    }
    let addr = serve(app).await;
    for (name, resource) in &resources {
        let path = format!("/.well-known/oauth-protected-resource/{name}/mcp");
        let res = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        assert_eq!(res.status(), 200, "{name}");
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc["resource"], json!(resource), "{name}");
        let r = fetch(addr, &format!("/{name}/mcp"), None).await;
        assert_eq!(r.status, 401);
        assert_eq!(
            attribute(&r.www, "resource_metadata"),
            Some(format!("https://api.example{path}").as_str()),
            "{name}"
        );
        // A token for one resource is refused by the other.
        let t = issuer.token().audience(resource.as_str()).sign();
        assert_eq!(
            fetch_bearer(addr, &format!("/{name}/mcp"), &t).await.status,
            200
        );
        let other = if *name == "a" { "b" } else { "a" };
        let r = fetch_bearer(addr, &format!("/{other}/mcp"), &t).await;
        assert_eq!(r.status, 401, "{name}'s token at {other}");
    }
    let origin = format!("http://{addr}/.well-known/oauth-protected-resource");
    assert_eq!(reqwest::get(&origin).await.unwrap().status(), 404);
}

async fn metadata_document(addr: std::net::SocketAddr) -> Value {
    let url = format!("http://{addr}/.well-known/oauth-protected-resource/mcp");
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_layer_built_and_never_mounted_leaves_the_metadata_as_it_was() {
    let issuer = TestIssuer::hs256().with_audience(RESOURCE);
    let auth = issuer
        .authenticator()
        .resource(ProtectedResource::new(RESOURCE).scopes_supported(["profile"]))
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    let before = metadata_document(addr).await;
    assert_eq!(before["scopes_supported"], json!(["admin", "profile"]));
    // Layers of the same authenticator (and of a clone of it), built and
    // never mounted: the served document does not change.
    let unmounted = (
        auth.layer().require_scope("unmounted"),
        auth.clone().optional().require_all_scopes(["a", "b"]),
        auth.layer().require_any_scope(["c"]).into_gate(),
    );
    assert_eq!(metadata_document(addr).await, before);
    // Nor does any metadata made afterwards list them (nor `admin`, whose
    // layer was given to the served document only).
    let fresh = auth.resource_metadata().unwrap().document();
    assert_eq!(fresh["scopes_supported"], json!(["profile"]));
    drop(unmounted);
}

#[tokio::test]
async fn with_scopes_of_lists_the_scopes_of_the_layers_given() {
    let issuer = TestIssuer::hs256().with_audience(RESOURCE);
    let auth = issuer
        .authenticator()
        .resource(ProtectedResource::new(RESOURCE).scopes_supported(["profile"]))
        .build()
        .unwrap();
    let read = auth.layer().require_scope("read");
    let write = auth
        .layer()
        .require_all_scopes(["write", "audit"])
        .require_any_scope(["admin", "ops"]);
    // Not a scope token (`"` and a space): no token could carry it.
    let odd = auth.layer().require_scope("not a \"scope\"");
    let _unmounted = auth.layer().require_scope("unmounted");
    let metadata = auth
        .resource_metadata()
        .unwrap()
        .with_scopes_of(&read)
        .with_scopes_of(&write)
        .with_scopes_of(&odd);
    let app = Router::new()
        .route("/read", get(me).layer(read))
        .route("/write", get(me).layer(write))
        .route("/odd", get(me).layer(odd))
        .merge(metadata.router());
    let addr = serve(app).await;
    let doc = metadata_document(addr).await;
    assert_eq!(
        doc["scopes_supported"],
        json!(["admin", "audit", "ops", "profile", "read", "write"])
    );
    // The layers given are the ones that guard the routes.
    let reader = issuer.token().claim("scope", "read").sign();
    assert_eq!(fetch_bearer(addr, "/read", &reader).await.status, 200);
    assert_eq!(fetch_bearer(addr, "/write", &reader).await.status, 403);
    let writer = issuer.token().claim("scope", "write audit ops").sign();
    assert_eq!(fetch_bearer(addr, "/write", &writer).await.status, 200);
}

#[tokio::test]
async fn metadata_never_holds_key_material() {
    let issuer = TestIssuer::es256().with_audience(RESOURCE);
    let auth = issuer
        .authenticator()
        .hmac_secret(SECRET)
        .resource(RESOURCE)
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    let r = fetch(addr, "/.well-known/oauth-protected-resource/mcp", None).await;
    assert_eq!(r.status, 200);
    let jwk = issuer.jwk();
    for secret in [
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap(),
        SECRET,
    ] {
        assert!(!r.body.contains(secret));
    }
    let doc: Value = serde_json::from_str(&r.body).unwrap();
    assert!(doc.get("jwks").is_none() && doc.get("jwks_uri").is_none());
}

#[tokio::test]
async fn every_401_and_403_challenge_names_the_metadata_url() {
    let s = server().await;
    let r = fetch(s.addr, "/me", None).await;
    assert_eq!(
        (r.status, r.www.as_str()),
        (
            401,
            &*format!("Bearer resource_metadata=\"{METADATA_URL}\"")
        )
    );
    let expired = s.issuer.token().expired().sign();
    let r = fetch_bearer(s.addr, "/me", &expired).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("error=\"invalid_token\""), "{}", r.www);
    assert_eq!(attribute(&r.www, "resource_metadata"), Some(METADATA_URL));

    let r = fetch_bearer(s.addr, "/admin", &s.issuer.token().sign()).await;
    assert_eq!(r.status, 403);
    assert_eq!(attribute(&r.www, "error"), Some("insufficient_scope"));
    assert_eq!(
        attribute(&r.www, "scope"),
        Some("admin"),
        "403 keeps its scope"
    );
    assert_eq!(attribute(&r.www, "resource_metadata"), Some(METADATA_URL));
}

#[tokio::test]
async fn dpop_challenges_name_the_metadata_url_on_each_scheme() {
    const ORIGIN: &str = "http://127.0.0.1";
    let issuer = TestIssuer::hs256().with_audience(RESOURCE);
    let auth = issuer
        .authenticator()
        .resource(RESOURCE)
        .dpop(DpopConfig::new(DpopMode::Allowed).public_url(ORIGIN))
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    let r = common::dpop::send_raw(addr, "/me", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.challenges.len(), 2, "{:?}", r.challenges);
    for c in &r.challenges {
        assert_eq!(attribute(c, "resource_metadata"), Some(METADATA_URL), "{c}");
    }
    // A broken proof: the DPoP challenge carries the error and the URL.
    let key = proof_key(jsonwebtoken::Algorithm::ES256);
    let mut req = Req::with(&key, ORIGIN, "/me", issuer.token().sign(), issuer.now());
    req.claims["htm"] = json!("POST");
    let r = send(addr, &key, &req).await;
    assert_eq!(r.status, 401);
    let dpop = r.challenges.iter().find(|c| c.starts_with("DPoP")).unwrap();
    assert!(dpop.contains("error=\"invalid_dpop_proof\""), "{dpop}");
    assert_eq!(attribute(dpop, "resource_metadata"), Some(METADATA_URL));

    let metadata = auth.resource_metadata().unwrap().document();
    assert_eq!(metadata["dpop_bound_access_tokens_required"], false);
    let algs = metadata["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && !algs.contains(&json!("HS256")));
}

#[tokio::test]
async fn the_resource_is_a_required_audience_in_canonical_form() {
    let s = server().await;
    let ok = s.issuer.token().sign();
    assert_eq!(fetch_bearer(s.addr, "/me", &ok).await.status, 200);
    let as_list = s
        .issuer
        .token()
        .claim("aud", json!(["other", RESOURCE]))
        .sign();
    assert_eq!(fetch_bearer(s.addr, "/me", &as_list).await.status, 200);
    for (what, aud) in [
        ("another audience", json!("https://api.example/other")),
        ("not canonical", json!("https://api.example/mcp/")),
        ("absent", Value::Null),
    ] {
        let t = if aud.is_null() {
            s.issuer.token().without("aud").sign()
        } else {
            s.issuer.token().claim("aud", aud).sign()
        };
        let r = fetch_bearer(s.addr, "/me", &t).await;
        assert_eq!(r.status, 401, "{what}");
        assert!(r.www.contains("error=\"invalid_token\""), "{what}");
    }
}

/// Tokens must name the resource: another configured audience beside it
/// would let a token for that audience alone through (a token minted for
/// another API of the same issuer), so the build refuses the pair; the
/// resource's own name, in any spelling, is fine.
#[tokio::test]
async fn other_audiences_beside_a_resource_that_requires_its_own_are_refused_at_build() {
    let issuer = TestIssuer::hs256().with_audience("legacy-api");
    let r = issuer.authenticator().resource(RESOURCE).build();
    assert!(
        matches!(&r, Err(ConfigError::InvalidResource { reason }) if reason.contains("tokens must name the resource")),
        "{r:?}"
    );
    // The resource itself, spelled otherwise, is not another audience.
    let auth = issuer
        .authenticator()
        .audience(["HTTPS://API.example/mcp/"])
        .resource(RESOURCE)
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    let t = issuer.token().audience(RESOURCE).sign();
    assert_eq!(fetch_bearer(addr, "/me", &t).await.status, 200);
    for aud in ["legacy-api", "https://evil.example"] {
        let t = issuer.token().audience(aud).sign();
        assert_eq!(fetch_bearer(addr, "/me", &t).await.status, 401, "{aud}");
    }
    // Several audiences, the resource among them: said explicitly with
    // `require_audience(false)`, each is accepted.
    let auth = issuer
        .authenticator()
        .audience(["legacy-api", RESOURCE])
        .resource(ProtectedResource::new(RESOURCE).require_audience(false))
        .build()
        .unwrap();
    let addr = serve(app(&auth)).await;
    for aud in ["legacy-api", RESOURCE] {
        let t = issuer.token().audience(aud).sign();
        assert_eq!(fetch_bearer(addr, "/me", &t).await.status, 200, "{aud}");
    }
    let t = issuer.token().audience("https://evil.example").sign();
    assert_eq!(fetch_bearer(addr, "/me", &t).await.status, 401);
}

#[test]
fn a_resource_with_a_fragment_or_query_is_a_config_error() {
    for bad in [
        "https://api.example/mcp#x",
        "https://api.example/?a=b",
        "mcp",
    ] {
        let r = Authenticator::builder()
            .hmac_secret(SECRET)
            .resource(bad)
            .build();
        assert!(
            matches!(r, Err(ConfigError::InvalidResource { .. })),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn bearer_methods_follow_the_token_sources() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .resource(ProtectedResource::new(RESOURCE).require_audience(false))
        .token_sources([
            TokenSource::authorization(),
            TokenSource::cookie("at"),
            TokenSource::danger_query("access_token"),
        ])
        .build()
        .unwrap();
    let doc = auth.resource_metadata().unwrap().document();
    assert_eq!(doc["bearer_methods_supported"], json!(["header", "query"]));
    assert!(doc.get("authorization_servers").is_none());
    // `require_audience(false)`: any token of the key is accepted.
    let addr = serve(app(&auth)).await;
    let t = hs256(&json!({"sub": "u", "exp": now() + 60}));
    assert_eq!(fetch_bearer(addr, "/me", &t).await.status, 200);
}

fn stepped_up(s: &Server) -> tower_jwt_auth::testing::TokenBuilder<'_> {
    s.issuer
        .token()
        .claim("acr", ACR)
        .claim("auth_time", s.issuer.now() - 10)
}

#[tokio::test]
async fn step_up_failures_are_401_insufficient_user_authentication_never_403() {
    let s = server().await;
    assert_eq!(
        fetch_bearer(s.addr, "/stepup", &stepped_up(&s).sign())
            .await
            .status,
        200
    );
    let n = s.issuer.now();
    let cases = [
        ("no acr", s.issuer.token().claim("auth_time", n).sign()),
        ("other acr", stepped_up(&s).claim("acr", "urn:weak").sign()),
        ("no auth_time", stepped_up(&s).without("auth_time").sign()),
        (
            "auth_time a string",
            stepped_up(&s).claim("auth_time", "now").sign(),
        ),
        ("too old", stepped_up(&s).claim("auth_time", n - 301).sign()),
        (
            "far future",
            stepped_up(&s).claim("auth_time", n + 61).sign(),
        ),
    ];
    for (what, t) in cases {
        let r = fetch_bearer(s.addr, "/stepup", &t).await;
        assert_eq!(r.status, 401, "{what}");
        assert_eq!(
            attribute(&r.www, "error"),
            Some("insufficient_user_authentication"),
            "{what}: {}",
            r.www
        );
        assert_eq!(attribute(&r.www, "acr_values"), Some(ACR), "{what}");
        assert_eq!(attribute(&r.www, "max_age"), Some("300"), "{what}");
        assert_eq!(attribute(&r.www, "resource_metadata"), Some(METADATA_URL));
        assert!(!r.body.contains(&t), "{what}");
    }
    let within_leeway = stepped_up(&s).claim("auth_time", n + 60).sign();
    assert_eq!(
        fetch_bearer(s.addr, "/stepup", &within_leeway).await.status,
        200
    );
    let r = fetch_bearer(s.addr, "/stepup", "not.a.jwt").await;
    assert_eq!(attribute(&r.www, "error"), Some("invalid_token"));
}

#[tokio::test]
async fn step_up_applies_to_cached_tokens_as_time_passes() {
    let s = server().await;
    let t = stepped_up(&s).sign();
    assert_eq!(fetch_bearer(s.addr, "/stepup", &t).await.status, 200);
    // A plain token, cached by /me, is still refused by /stepup.
    let plain = s.issuer.token().sign();
    assert_eq!(fetch_bearer(s.addr, "/me", &plain).await.status, 200);
    assert_eq!(fetch_bearer(s.addr, "/stepup", &plain).await.status, 401);
    // The cached step-up token grows older than max_age: refused.
    s.clock.advance(Duration::from_secs(291));
    let r = fetch_bearer(s.addr, "/stepup", &t).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        attribute(&r.www, "error"),
        Some("insufficient_user_authentication")
    );
    assert_eq!(fetch_bearer(s.addr, "/me", &t).await.status, 200);
}

#[tokio::test]
async fn step_up_over_grpc_is_unauthenticated_with_the_same_description() {
    let s = server().await;
    let res = reqwest::Client::new()
        .post(format!("http://{}/stepup", s.addr))
        .header("content-type", "application/grpc")
        .bearer_auth(s.issuer.token().sign())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["grpc-status"], "16");
    let description = AuthErrorKind::InsufficientUserAuthentication.description();
    assert_eq!(res.headers()["grpc-message"], description);
    let www = res.headers()["www-authenticate"].to_str().unwrap();
    assert_eq!(
        attribute(www, "error"),
        Some("insufficient_user_authentication")
    );
    assert_eq!(attribute(www, "resource_metadata"), Some(METADATA_URL));
}

#[tokio::test]
async fn custom_responders_see_typed_step_up_errors_and_keep_the_step_up_challenge() {
    let s = server().await;
    let r = fetch_bearer(s.addr, "/typed", &s.issuer.token().sign()).await;
    assert_eq!(r.status, 401);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"kind": "InsufficientUserAuthentication", "acr_values": ACR, "max_age": 300})
    );
    assert_eq!(
        attribute(&r.www, "error"),
        Some("insufficient_user_authentication")
    );
    assert_eq!(attribute(&r.www, "acr_values"), Some(ACR));
    assert_eq!(attribute(&r.www, "max_age"), Some("300"));
    assert_eq!(attribute(&r.www, "resource_metadata"), Some(METADATA_URL));
}

/// Issue 22: an application that only wanted a JSON body keeps RFC 6750's
/// `WWW-Authenticate`, with the `resource_metadata` MCP clients follow.
#[tokio::test]
async fn a_custom_json_401_keeps_its_body_and_the_challenge_with_resource_metadata() {
    let s = server().await;
    // No token: the plain challenge, naming the metadata.
    let r = fetch(s.addr, "/json", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"error": null, "kind": "Missing"})
    );
    assert_eq!(
        r.www,
        format!("Bearer resource_metadata=\"{METADATA_URL}\"")
    );
    // An expired token: the error attributes too, the same values as the
    // default responder's.
    let expired = s.issuer.token().expired().sign();
    let r = fetch_bearer(s.addr, "/json", &expired).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"error": "invalid_token", "kind": "Expired"})
    );
    let default = fetch_bearer(s.addr, "/me", &expired).await;
    assert_eq!(default.status, 401);
    assert_eq!(r.www, default.www);
    assert_eq!(attribute(&r.www, "error"), Some("invalid_token"));
    assert_eq!(attribute(&r.www, "resource_metadata"), Some(METADATA_URL));
}

#[tokio::test]
async fn a_custom_json_403_keeps_insufficient_scope() {
    let s = server().await;
    let r = fetch_bearer(s.addr, "/json-admin", &s.issuer.token().sign()).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"error": "insufficient_scope", "kind": "InsufficientScope"})
    );
    assert_eq!(attribute(&r.www, "error"), Some("insufficient_scope"));
    assert_eq!(attribute(&r.www, "scope"), Some("admin"));
    assert_eq!(attribute(&r.www, "resource_metadata"), Some(METADATA_URL));
}

#[tokio::test]
async fn on_error_raw_sends_the_responders_401_without_a_challenge() {
    let s = server().await;
    let res = reqwest::get(format!("http://{}/raw", s.addr))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("www-authenticate").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"error": null, "kind": "Missing"}));
}

#[tokio::test]
async fn a_responders_own_challenge_is_not_replaced() {
    let s = server().await;
    let res = reqwest::get(format!("http://{}/own", s.addr))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let www: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
    assert_eq!(www, ["Bearer realm=\"own\""]);
    assert_eq!(res.text().await.unwrap(), "own");
}

/// A responder's own gRPC answer (HTTP 200, `grpc-status`) is not a 401:
/// the layer adds no `WWW-Authenticate` to it; the same responder's HTTP
/// 401 gets one.
#[tokio::test]
async fn a_responders_own_grpc_answer_is_left_as_it_is() {
    let s = server().await;
    let res = reqwest::Client::new()
        .post(format!("http://{}/grpc-custom", s.addr))
        .header("content-type", "application/grpc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(res.headers()["grpc-message"], "custom");
    assert!(res.headers().get("www-authenticate").is_none());
    let r = fetch(s.addr, "/grpc-custom", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(attribute(&r.www, "resource_metadata"), Some(METADATA_URL));
}

#[tokio::test]
async fn an_optional_routes_extractor_challenge_names_the_metadata_url() {
    let issuer = TestIssuer::hs256().with_audience(RESOURCE);
    let auth = issuer.authenticator().resource(RESOURCE).build().unwrap();
    // `Claims` (not `Option<Claims>`) on an optional route: the extractor's
    // own 401 for a request without a token.
    let addr = serve(Router::new().route("/opt", get(me).layer(auth.optional()))).await;
    let r = fetch(addr, "/opt", None).await;
    assert_eq!(
        (r.status, r.www.as_str()),
        (
            401,
            &*format!("Bearer resource_metadata=\"{METADATA_URL}\"")
        )
    );
    let r = fetch_bearer(addr, "/opt", "not.a.jwt").await;
    assert_eq!(attribute(&r.www, "resource_metadata"), Some(METADATA_URL));
}

#[test]
fn metadata_names_dpop_only_when_it_is_on() {
    let metadata = |mode| {
        Authenticator::builder()
            .key(TestIssuer::es256().key())
            .resource(RESOURCE)
            .dpop(DpopConfig::new(mode).public_url("https://api.example"))
            .build()
            .unwrap()
            .resource_metadata()
            .unwrap()
            .document()
    };
    let off = metadata(DpopMode::Off);
    assert!(off.get("dpop_signing_alg_values_supported").is_none());
    assert!(off.get("dpop_bound_access_tokens_required").is_none());
    assert_eq!(
        metadata(DpopMode::Required)["dpop_bound_access_tokens_required"],
        true
    );
}
