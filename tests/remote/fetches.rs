//! Outgoing fetches and proxies: a loopback URL is always fetched directly,
//! whatever proxy the transport names (`HttpClientOptions::proxy`, or one
//! inside an own `reqwest::Client`), for every kind of fetch (JWK Set, OIDC
//! discovery, a tenant's discovery and keys, a SPIFFE bundle,
//! introspection); other URLs go through the proxy. And credentials in a
//! URL (`http://id:secret@host/`) never show in an error or a `Debug`.
//! The proxy is a recording server on 127.0.0.1 (tests/common/recorder.rs).

use crate::common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_jwt_auth::remote::{HttpClientOptions, Introspection, RemoteOptions, TenantIssuers};
use tower_jwt_auth::rules::SpiffeIds;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Authenticator, AuthenticatorBuilder, ConfigError};

use common::idp::{quick_http, Api};
use common::recorder::Recorder;

const TENANT: &str = "tenant-a";
const SPIFFE_AUD: &str = "spiffe://example.org/ns/prod/sa/api";

/// Every kind of endpoint on 127.0.0.1: a JWK Set, OIDC discovery, a
/// tenant's discovery, a SPIFFE bundle, an introspection endpoint; each
/// request counted.
struct Provider {
    addr: SocketAddr,
    key: TestIssuer,
    hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Shared {
    base: String,
    jwks: Value,
    bundle: Value,
    hits: Arc<AtomicUsize>,
}

impl Provider {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let key = TestIssuer::es256().with_issuer(base.clone());
        let jwks: Value = serde_json::from_str(&key.jwks()).unwrap();
        let mut svid_key = key.jwk();
        svid_key["use"] = json!("jwt-svid");
        let hits = Arc::new(AtomicUsize::new(0));
        let shared = Shared {
            base,
            jwks,
            bundle: json!({"keys": [svid_key]}),
            hits: Arc::clone(&hits),
        };
        let count = |s: &Shared| s.hits.fetch_add(1, Ordering::SeqCst);
        let app = Router::new()
            .route(
                "/jwks",
                get(move |State(s): State<Shared>| async move {
                    count(&s);
                    Json(s.jwks)
                }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(move |State(s): State<Shared>| async move {
                    count(&s);
                    Json(json!({"issuer": s.base, "jwks_uri": format!("{}/jwks", s.base)}))
                }),
            )
            .route(
                "/t/{tenant}/.well-known/openid-configuration",
                get(
                    move |State(s): State<Shared>, Path(tenant): Path<String>| async move {
                        count(&s);
                        Json(json!({
                            "issuer": format!("{}/t/{tenant}", s.base),
                            "jwks_uri": format!("{}/jwks", s.base),
                        }))
                    },
                ),
            )
            .route(
                "/bundle",
                get(move |State(s): State<Shared>| async move {
                    count(&s);
                    Json(s.bundle)
                }),
            )
            .route(
                "/introspect",
                post(move |State(s): State<Shared>| async move {
                    count(&s);
                    Json(json!({"active": true, "sub": "opaque-user", "exp": common::now() + 600}))
                }),
            )
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, key, hits }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Each kind of fetch: its name, a builder using `http`, and a token
    /// that verifies only once the fetch succeeded.
    fn every_kind(
        &self,
        http: &HttpClientOptions,
    ) -> Vec<(&'static str, AuthenticatorBuilder, String)> {
        let base = self.base();
        let tenant_key = self.key.clone().with_issuer(format!("{base}/t/{TENANT}"));
        vec![
            (
                "jwks_url",
                Authenticator::builder()
                    .jwks_url(format!("{base}/jwks"))
                    .audience([self.key.audience()]),
                self.key.token().sign(),
            ),
            (
                "oidc_issuer",
                Authenticator::builder()
                    .oidc_issuer(base.clone())
                    .audience([self.key.audience()]),
                self.key.token().sign(),
            ),
            (
                "tenant_issuers",
                Authenticator::builder()
                    .tenant_issuers(
                        TenantIssuers::new(format!("{base}/t/{{tenantid}}"))
                            .allow_tenants([TENANT]),
                    )
                    .audience([self.key.audience()]),
                tenant_key.token().claim("tid", TENANT).sign(),
            ),
            (
                "spiffe_bundle_url",
                Authenticator::builder()
                    .spiffe_bundle_url(format!("{base}/bundle"))
                    .spiffe(SpiffeIds::trust_domain("example.org"))
                    .audience([SPIFFE_AUD]),
                self.key
                    .token()
                    .subject("spiffe://example.org/ns/prod/sa/web")
                    .audience(SPIFFE_AUD)
                    .without("iss")
                    .sign(),
            ),
            (
                "introspection",
                Authenticator::builder()
                    .introspection(Introspection::endpoint(format!("{base}/introspect"))),
                "an-opaque-token".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(kind, builder, token)| (kind, builder.http_client(http.clone()), token))
        .collect()
    }
}

/// Builds each kind of fetch with `http` and checks its token verifies:
/// every fetch reached the provider.
async fn every_kind_verifies(provider: &Provider, http: &HttpClientOptions) {
    for (kind, builder, token) in provider.every_kind(http) {
        let before = provider.hits();
        let auth = builder
            .build_async()
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(Api::serve(&auth).await.status(&token).await, 200, "{kind}");
        assert!(
            provider.hits() > before,
            "{kind}: fetched from the provider"
        );
    }
}

#[tokio::test]
async fn loopback_fetches_of_every_kind_never_go_through_the_configured_proxy() {
    let provider = Provider::start().await;
    let proxy = Recorder::start().await;
    let http = quick_http().proxy(&proxy.url()).unwrap();
    every_kind_verifies(&provider, &http).await;
    assert_eq!(
        proxy.requests(),
        Vec::<String>::new(),
        "the proxy saw nothing"
    );
}

#[tokio::test]
async fn an_own_client_with_a_proxy_never_fetches_a_loopback_url() {
    let provider = Provider::start().await;
    let proxy = Recorder::start().await;
    // The application's client sends everything to the proxy (as one
    // built with reqwest's defaults would, with HTTP_PROXY set).
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(proxy.url()).unwrap())
        .build()
        .unwrap();
    let http = quick_http().reqwest_client(client);
    every_kind_verifies(&provider, &http).await;
    assert_eq!(
        proxy.requests(),
        Vec::<String>::new(),
        "the proxy saw nothing"
    );
}

#[tokio::test]
async fn other_urls_go_through_the_configured_proxy() {
    let key = TestIssuer::es256();
    let proxy = Recorder::start().await;
    // Plain http to a name that does not resolve: only the proxy can answer.
    proxy.answer("http://keys.example/jwks.json", &key.jwks());
    let auth = Authenticator::builder()
        .jwks_url("http://keys.example/jwks.json")
        .audience([key.audience()])
        .http_client(
            quick_http()
                .danger_allow_http()
                .proxy(&proxy.url())
                .unwrap(),
        )
        .build_async()
        .await
        .unwrap();
    assert_eq!(
        Api::serve(&auth).await.status(&key.token().sign()).await,
        200
    );
    assert_eq!(
        proxy.request_lines(),
        ["GET http://keys.example/jwks.json HTTP/1.1"]
    );
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Neither the password nor the user name (`id:`) shows in `text`.
fn assert_no_credentials(what: &str, text: &str) {
    assert!(
        !text.contains("secret") && !text.contains("id:") && !text.contains("id@"),
        "{what}: {text}"
    );
}

#[tokio::test]
async fn credentials_in_a_key_source_url_never_show() {
    let port = closed_port();
    let url = format!("http://id:secret@127.0.0.1:{port}/jwks");
    let builders = [
        ("jwks_url", Authenticator::builder().jwks_url(url.clone())),
        (
            "oidc_issuer",
            Authenticator::builder().oidc_issuer(format!("http://id:secret@127.0.0.1:{port}")),
        ),
        (
            "spiffe_bundle_url",
            Authenticator::builder()
                .spiffe_bundle_url(url.clone())
                .spiffe(SpiffeIds::trust_domain("example.org")),
        ),
        (
            "tenant_issuers",
            Authenticator::builder().tenant_issuers(
                TenantIssuers::new(format!("http://id:secret@127.0.0.1:{port}/{{tenantid}}"))
                    .jwks_url(url.clone())
                    .any_tenant(),
            ),
        ),
    ];
    for (kind, builder) in builders {
        let builder = builder.http_client(quick_http()).audience(["api"]);
        assert_no_credentials(kind, &format!("{builder:?}"));
        let e = builder.build_async().await.unwrap_err();
        assert_no_credentials(kind, &e.to_string());
        assert_no_credentials(kind, &format!("{e:?}"));
        let ConfigError::RemoteKeys(fetch) = &e else {
            panic!("{kind}: {e:?}")
        };
        assert!(
            fetch.url().contains(&format!("127.0.0.1:{port}")),
            "{kind}: {fetch}"
        );
        assert_no_credentials(kind, fetch.url());
    }
    // Started without keys: the authenticator's Debug names the source.
    let auth = Authenticator::builder()
        .jwks_url(url)
        .remote_options(RemoteOptions::new().start_without_keys(true))
        .http_client(quick_http())
        .build_async()
        .await
        .unwrap();
    let debug = format!("{auth:?}");
    assert!(debug.contains(&format!("127.0.0.1:{port}")), "{debug}");
    assert_no_credentials("authenticator", &debug);
}
