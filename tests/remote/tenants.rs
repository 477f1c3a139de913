//! Multi-tenant issuers (`TenantIssuers`) against a local multi-tenant
//! identity provider on 127.0.0.1 (per-tenant discovery and key sets,
//! request counters, a settable delay); tokens through a real axum server.

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_jwt_auth::resource::ProtectedResource;
use tower_jwt_auth::testing::{TestIssuer, TEST_AUDIENCE};
use tower_jwt_auth::{remote::TenantIssuers, Authenticator, AuthenticatorBuilder, ConfigError};

use common::idp::Api;

const A: &str = "11111111-aaaa-4aaa-8aaa-111111111111";
const B: &str = "22222222-bbbb-4bbb-8bbb-222222222222";
const C: &str = "33333333-cccc-4ccc-8ccc-333333333333";

#[derive(Default)]
struct Provider {
    /// Each known tenant's signing key (the same `kid` for all: only the
    /// binding to its issuer tells them apart).
    tenants: Mutex<HashMap<String, TestIssuer>>,
    common: Mutex<Option<TestIssuer>>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
    delay: Mutex<Duration>,
    addr: Mutex<Option<SocketAddr>>,
}

struct Idp {
    addr: SocketAddr,
    state: Arc<Provider>,
}

impl Idp {
    async fn start(tenants: &[&str]) -> Self {
        let state = Arc::new(Provider::default());
        let app = Router::new()
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/{tenant}/keys", get(keys))
            .with_state(Arc::clone(&state));
        let addr = common::serve(app).await;
        *state.addr.lock().unwrap() = Some(addr);
        let idp = Self { addr, state };
        for t in tenants {
            let key = TestIssuer::rs256().with_kid("k").with_issuer(idp.issuer(t));
            idp.state
                .tenants
                .lock()
                .unwrap()
                .insert((*t).to_owned(), key);
        }
        idp
    }

    fn pattern(&self) -> String {
        format!("http://{}/{{tenantid}}/v2.0", self.addr)
    }

    fn issuer(&self, tenant: &str) -> String {
        format!("http://{}/{tenant}/v2.0", self.addr)
    }

    fn key(&self, tenant: &str) -> TestIssuer {
        self.state.tenants.lock().unwrap()[tenant].clone()
    }

    /// A token of `tenant` (its key, issuer and `tid`).
    fn token(&self, tenant: &str) -> String {
        self.key(tenant).token().claim("tid", tenant).sign()
    }

    fn hits(&self) -> (usize, usize) {
        (
            self.state.discovery_hits.load(Ordering::SeqCst),
            self.state.jwks_hits.load(Ordering::SeqCst),
        )
    }

    fn builder(&self, tenants: TenantIssuers) -> AuthenticatorBuilder {
        Authenticator::builder().tenant_issuers(tenants)
    }
}

async fn discovery(State(p): State<Arc<Provider>>, Path(tenant): Path<String>) -> Response {
    p.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let delay = *p.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    if !p.tenants.lock().unwrap().contains_key(&tenant) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let addr = p.addr.lock().unwrap().unwrap();
    Json(json!({
        "issuer": format!("http://{addr}/{tenant}/v2.0"),
        "jwks_uri": format!("http://{addr}/{tenant}/keys"),
    }))
    .into_response()
}

async fn keys(State(p): State<Arc<Provider>>, Path(tenant): Path<String>) -> Response {
    p.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let key = if tenant == "common" {
        p.common.lock().unwrap().clone()
    } else {
        p.tenants.lock().unwrap().get(&tenant).cloned()
    };
    match key {
        Some(key) => Json(serde_json::from_str::<Value>(&key.jwks()).unwrap()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::test]
async fn allowed_tenants_are_accepted_with_keys_from_their_own_discovery_bound_to_their_issuer() {
    let idp = Idp::start(&[A, B]).await;
    let tenants = TenantIssuers::new(idp.pattern()).allow_tenants([A, B]);
    let auth = idp.builder(tenants).build_async().await.unwrap();
    assert_eq!(idp.hits(), (0, 0), "tenants are fetched on first sight");
    let api = Api::serve(&auth).await;

    assert_eq!(api.status(&idp.token(A)).await, 200);
    assert_eq!(idp.hits(), (1, 1));
    assert_eq!(api.status(&idp.token(A)).await, 200);
    assert_eq!(api.status(&idp.token(B)).await, 200);
    assert_eq!(
        idp.hits(),
        (2, 2),
        "one discovery and one key set per tenant"
    );

    // B's key (same kid) signing in A's name: A's keys do not verify it.
    let forged = idp
        .key(B)
        .token()
        .issuer(idp.issuer(A))
        .claim("tid", A)
        .sign();
    assert_eq!(api.status(&forged).await, 401);
}

#[tokio::test]
async fn the_tenant_claim_must_name_the_issuers_tenant() {
    let idp = Idp::start(&[A, B]).await;
    let tenants = TenantIssuers::new(idp.pattern()).allow_tenants([A, B]);
    let api = Api::serve(&idp.builder(tenants).build_async().await.unwrap()).await;
    let key = idp.key(A);
    assert_eq!(api.status(&key.token().claim("tid", A).sign()).await, 200);
    assert_eq!(api.status(&key.token().claim("tid", B).sign()).await, 401);
    assert_eq!(api.status(&key.token().sign()).await, 401, "no tid");
    assert_eq!(api.status(&key.token().claim("tid", 7).sign()).await, 401);
}

#[tokio::test]
async fn a_tenant_not_allowed_or_an_issuer_not_of_the_pattern_is_refused_without_a_fetch() {
    let idp = Idp::start(&[A, B, C]).await;
    let tenants = TenantIssuers::new(idp.pattern()).allow_tenants([A]);
    let api = Api::serve(&idp.builder(tenants).build_async().await.unwrap()).await;
    assert_eq!(api.status(&idp.token(C)).await, 401);
    let elsewhere = idp
        .key(A)
        .token()
        .issuer(format!("http://{}/{A}/v1.0", idp.addr))
        .claim("tid", A)
        .sign();
    assert_eq!(api.status(&elsewhere).await, 401);
    let traversal = idp
        .key(A)
        .token()
        .issuer(format!("http://{}/../v2.0", idp.addr))
        .sign();
    assert_eq!(api.status(&traversal).await, 401);
    assert_eq!(idp.hits(), (0, 0));
}

#[tokio::test]
async fn concurrent_first_tokens_of_a_tenant_share_one_fetch() {
    let idp = Idp::start(&[A]).await;
    *idp.state.delay.lock().unwrap() = Duration::from_millis(500);
    let tenants = TenantIssuers::new(idp.pattern()).allow_tenants([A]);
    let api = Api::serve(&idp.builder(tenants).build_async().await.unwrap()).await;
    let token = idp.token(A);
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (api, token) = (api.clone(), token.clone());
        requests.spawn(async move { api.status(&token).await });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(idp.hits(), (1, 1), "one discovery, one key set");
}

#[tokio::test]
async fn a_flood_of_tenants_is_bounded_in_fetches_and_memory_with_a_cooldown() {
    let idp = Idp::start(&[A]).await;
    let tenants = TenantIssuers::new(idp.pattern())
        .any_tenant()
        .max_tenants(3)
        .retry_after(Duration::from_secs(3));
    let auth = idp.builder(tenants).audience([TEST_AUDIENCE]);
    let api = Api::serve(&auth.build_async().await.unwrap()).await;
    let signer = idp.key(A);
    let started = std::time::Instant::now();
    let flood = |n: usize| {
        let tenant = format!("attacker-{n}");
        signer
            .token()
            .issuer(idp.issuer(&tenant))
            .claim("tid", tenant)
            .sign()
    };
    for n in 0..200 {
        // The first max_tenants are fetched and unknown to the provider
        // (401); then the table is full of them for a cooldown (503).
        let refused = if n < 3 { 401 } else { 503 };
        assert_eq!(api.status(&flood(n)).await, refused, "tenant {n}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the flood fits in one cooldown"
    );
    let (discoveries, _) = idp.hits();
    assert_eq!(discoveries, 3, "at most max_tenants fetches");
    // The table is full of failed tenants: a real tenant waits its turn...
    assert_eq!(api.status(&idp.token(A)).await, 503);
    assert_eq!(idp.hits().0, 3);
    // ...until the cooldown frees the failed ones.
    tokio::time::sleep(Duration::from_millis(3500).saturating_sub(started.elapsed())).await;
    assert_eq!(api.status(&idp.token(A)).await, 200);
    assert_eq!(idp.hits().0, 4);
}

#[tokio::test]
async fn a_provider_failing_for_an_allowed_tenant_gives_503_then_recovers_after_the_cooldown() {
    let idp = Idp::start(&[A]).await;
    let tenants = TenantIssuers::new(idp.pattern())
        .allow_tenants([A])
        .retry_after(Duration::from_millis(500));
    let http = tower_jwt_auth::remote::HttpClientOptions::new().timeout(Duration::from_millis(300));
    let auth = idp
        .builder(tenants)
        .http_client(http)
        .build_async()
        .await
        .unwrap();
    let api = Api::serve(&auth).await;
    *idp.state.delay.lock().unwrap() = Duration::from_secs(2);
    assert_eq!(api.status(&idp.token(A)).await, 503, "discovery timed out");
    assert_eq!(api.status(&idp.token(A)).await, 503, "within the cooldown");
    assert_eq!(idp.hits().0, 1, "no fetch within the cooldown");
    *idp.state.delay.lock().unwrap() = Duration::ZERO;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(api.status(&idp.token(A)).await, 200);
}

#[tokio::test]
async fn one_jwks_url_for_every_tenant_is_fetched_once_at_build() {
    let idp = Idp::start(&[A, B]).await;
    let common = TestIssuer::rs256().with_kid("common-1");
    *idp.state.common.lock().unwrap() = Some(common.clone());
    let tenants = TenantIssuers::new(idp.pattern())
        .jwks_url(format!("http://{}/common/keys", idp.addr))
        .allow_tenants([A, B]);
    let api = Api::serve(&idp.builder(tenants).build_async().await.unwrap()).await;
    assert_eq!(idp.hits(), (0, 1));
    for t in [A, B] {
        let token = common.token().issuer(idp.issuer(t)).claim("tid", t).sign();
        assert_eq!(api.status(&token).await, 200, "{t}");
    }
    let crossed = common.token().issuer(idp.issuer(A)).claim("tid", B).sign();
    assert_eq!(api.status(&crossed).await, 401);
    assert_eq!(idp.hits(), (0, 1), "no discovery, no further fetch");

    // `{tenantid}` in the URL: one set per tenant, bound to its issuer.
    let per_tenant = TenantIssuers::new(idp.pattern())
        .jwks_url(format!("http://{}/{{tenantid}}/keys", idp.addr))
        .allow_tenants([A]);
    let api = Api::serve(&idp.builder(per_tenant).build_async().await.unwrap()).await;
    assert_eq!(api.status(&idp.token(A)).await, 200);
    assert_eq!(idp.hits(), (0, 2));
}

#[tokio::test]
async fn unusable_tenant_configurations_fail_the_build() {
    let idp = Idp::start(&[A]).await;
    let cases = [
        TenantIssuers::new(idp.pattern()),
        TenantIssuers::new(format!("http://{}/v2.0", idp.addr)).allow_tenants([A]),
        TenantIssuers::new(idp.pattern()).allow_tenants(["a/b"]),
        TenantIssuers::new(idp.pattern())
            .allow_tenants([A])
            .any_tenant(),
        TenantIssuers::new(idp.pattern())
            .any_tenant()
            .max_tenants(0),
        TenantIssuers::new("http://idp.example/{tenantid}/v2.0").allow_tenants([A]),
    ];
    for (i, tenants) in cases.into_iter().enumerate() {
        let e = idp.builder(tenants).build_async().await.err();
        assert!(
            matches!(
                e,
                Some(ConfigError::Tenants(_) | ConfigError::RemoteKeys(_))
            ),
            "case {i}: {e:?}"
        );
    }
    let e = idp
        .builder(TenantIssuers::new(idp.pattern()).allow_tenants([A]))
        .issuer(["https://x"])
        .build_async()
        .await
        .err();
    assert!(matches!(e, Some(ConfigError::Tenants(_))), "{e:?}");
}

/// An attacker creates a tenant of the provider, registers an app and gives
/// it the role `admin`: the provider signs that tenant's tokens with the
/// keys every tenant shares, for the attacker app's own `aud`.
fn attacker_admin_token(idp: &Idp) -> String {
    idp.key(B)
        .token()
        .claim("tid", B)
        .audience("api://attacker-app")
        .claim("roles", json!(["admin"]))
        .sign()
}

/// `GET /admin` behind `auth`'s layer with `require_role("admin")`; its
/// address.
async fn admin_api(auth: &Authenticator) -> SocketAddr {
    let app = Router::new().route(
        "/admin",
        get(|| async { "ok" }).layer(auth.layer().require_role("admin")),
    );
    common::serve(app).await
}

async fn admin_status(addr: SocketAddr, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{addr}/admin"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn any_tenant_needs_an_audience_so_an_attacker_tenants_admin_token_is_refused() {
    let idp = Idp::start(&[A, B]).await;
    let any = || TenantIssuers::new(idp.pattern()).any_tenant();

    // Without an audience (or a resource that requires one) the build fails.
    for builder in [
        idp.builder(any()),
        idp.builder(any())
            .resource(ProtectedResource::new("https://api.example/mcp").require_audience(false)),
    ] {
        match builder.build_async().await {
            Err(ConfigError::Tenants(why)) => assert!(why.contains("audience"), "{why}"),
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
    assert_eq!(idp.hits(), (0, 0));

    // With an audience: the attacker tenant's admin token is refused, a
    // token of a legitimate tenant for this API passes.
    let auth = idp
        .builder(any())
        .audience(["api://my-app"])
        .build_async()
        .await
        .unwrap();
    let admin = admin_api(&auth).await;
    assert_eq!(admin_status(admin, &attacker_admin_token(&idp)).await, 401);
    let legitimate = idp
        .key(A)
        .token()
        .claim("tid", A)
        .audience("api://my-app")
        .claim("roles", json!(["admin"]))
        .sign();
    assert_eq!(admin_status(admin, &legitimate).await, 200);

    // A protected resource is an audience too.
    let auth = idp
        .builder(any())
        .resource("https://api.example/mcp")
        .build_async()
        .await
        .unwrap();
    let admin = admin_api(&auth).await;
    assert_eq!(admin_status(admin, &attacker_admin_token(&idp)).await, 401);
    let for_resource = idp
        .key(A)
        .token()
        .claim("tid", A)
        .audience("https://api.example/mcp")
        .claim("roles", json!(["admin"]))
        .sign();
    assert_eq!(admin_status(admin, &for_resource).await, 200);
}

#[tokio::test]
async fn danger_any_tenant_without_audience_builds_and_then_accepts_any_tenants_audience() {
    let idp = Idp::start(&[A, B]).await;
    let tenants = TenantIssuers::new(idp.pattern()).danger_any_tenant_without_audience();
    let auth = idp.builder(tenants).build_async().await.unwrap();
    // What the opt-out weakens: the attacker tenant's own app is admin here.
    let admin = admin_api(&auth).await;
    assert_eq!(admin_status(admin, &attacker_admin_token(&idp)).await, 200);
    // It is any-tenant mode: it excludes an allow-list as `any_tenant` does.
    let both = TenantIssuers::new(idp.pattern())
        .allow_tenants([A])
        .danger_any_tenant_without_audience();
    let e = idp.builder(both).build_async().await.err();
    assert!(matches!(e, Some(ConfigError::Tenants(_))), "{e:?}");
}

#[tokio::test]
async fn every_allowed_tenant_is_accepted_even_when_the_allow_list_is_longer_than_max_tenants() {
    let idp = Idp::start(&[A, B, C]).await;
    let tenants = TenantIssuers::new(idp.pattern())
        .allow_tenants([A, B, C])
        .max_tenants(2);
    let api = Api::serve(&idp.builder(tenants).build_async().await.unwrap()).await;
    for t in [A, B, C, A, B, C] {
        assert_eq!(api.status(&idp.token(t)).await, 200, "{t}");
    }
    assert_eq!(idp.hits(), (3, 3), "each tenant fetched once, none evicted");
}

#[tokio::test]
async fn a_full_any_tenant_table_answers_503_until_the_least_recently_used_tenant_is_idle() {
    let idp = Idp::start(&[A, B, C]).await;
    let tenants = TenantIssuers::new(idp.pattern())
        .any_tenant()
        .max_tenants(2)
        .retry_after(Duration::from_secs(2));
    let auth = idp
        .builder(tenants)
        .audience([TEST_AUDIENCE])
        .build_async()
        .await
        .unwrap();
    let api = Api::serve(&auth).await;
    assert_eq!(api.status(&idp.token(A)).await, 200);
    assert_eq!(api.status(&idp.token(B)).await, 200);
    // Full, every tenant in use: C is asked to come back (503), not
    // refused as a bad token, and nothing is fetched for it.
    assert_eq!(api.status(&idp.token(C)).await, 503);
    assert_eq!(idp.hits().0, 2);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(api.status(&idp.token(A)).await, 200, "A stays in use");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // B has been idle for longer than `retry_after`, A has not: B makes room.
    assert_eq!(api.status(&idp.token(C)).await, 200);
    assert_eq!(api.status(&idp.token(A)).await, 200);
    assert_eq!(idp.hits().0, 3, "A kept its keys; C fetched once");
    // B comes back: A and C are in use, so it waits its turn.
    assert_eq!(api.status(&idp.token(B)).await, 503);
    assert_eq!(idp.hits().0, 3);
}
