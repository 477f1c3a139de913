//! Trust and transport of outgoing fetches (`HttpClientOptions`): a real
//! HTTPS identity provider on 127.0.0.1 whose certificate comes from a CA
//! the test creates (tests/common/tls.rs), discovered and fetched by
//! `build_async`; tokens then go through a real axum server with the layer.

use crate::common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    remote::FetchErrorKind, remote::HttpClientOptions, Authenticator, AuthenticatorBuilder,
    ConfigError,
};

use common::idp::{refused, Api};
use common::tls::{serve_tls, Ca, ConnectProxy, Leaf};

/// An OIDC provider over HTTPS: discovery and JWK Set, with hit counters.
struct HttpsIdp {
    addr: SocketAddr,
    keys: TestIssuer,
    hits: Arc<AtomicUsize>,
}

impl HttpsIdp {
    async fn start(leaf: &Leaf, client_ca: Option<&Ca>) -> Self {
        Self::start_named(leaf, client_ca, "127.0.0.1").await
    }

    /// `host` is the name the issuer URL uses.
    async fn start_named(leaf: &Leaf, client_ca: Option<&Ca>, host: &str) -> Self {
        let issuer_url: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
        let hits = Arc::new(AtomicUsize::new(0));
        let keys = TestIssuer::rs256();
        let jwks: Value = serde_json::from_str(&keys.jwks()).unwrap();
        let (discovery_issuer, jwks_hits) = (Arc::clone(&issuer_url), Arc::clone(&hits));
        let app =
            Router::new()
                .route(
                    "/.well-known/openid-configuration",
                    get(move || {
                        let issuer = discovery_issuer.get().cloned().unwrap_or_default();
                        async move {
                            Json(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}))
                        }
                    }),
                )
                .route(
                    "/jwks",
                    get(move || {
                        jwks_hits.fetch_add(1, Ordering::SeqCst);
                        let jwks = jwks.clone();
                        async move { Json(jwks) }
                    }),
                );
        let addr = serve_tls(app, leaf, client_ca).await;
        let url = format!("https://{host}:{}", addr.port());
        issuer_url.set(url.clone()).unwrap();
        Self {
            addr,
            keys: keys.with_issuer(url),
            hits,
        }
    }

    fn issuer(&self) -> &str {
        self.keys.issuer()
    }

    fn builder(&self, http: HttpClientOptions) -> AuthenticatorBuilder {
        Authenticator::builder()
            .oidc_issuer(self.issuer())
            .audience([self.keys.audience()])
            .http_client(http)
    }

    fn token(&self) -> String {
        self.keys.token().sign()
    }
}

fn trusting(ca: &Ca) -> HttpClientOptions {
    HttpClientOptions::new()
        .add_root_certificates_pem(ca.pem().as_bytes())
        .unwrap()
}

#[tokio::test]
async fn a_provider_of_a_private_ca_is_trusted_with_its_root_added_and_its_tokens_accepted() {
    let ca = Ca::new("test private ca");
    let idp = HttpsIdp::start(&ca.server(&["127.0.0.1"]), None).await;
    let auth = idp.builder(trusting(&ca)).build_async().await.unwrap();
    assert_eq!(
        idp.hits.load(Ordering::SeqCst),
        1,
        "keys fetched over https"
    );
    let api = Api::serve(&auth).await;
    assert_eq!(api.status(&idp.token()).await, 200);
    assert_eq!(api.status(&TestIssuer::rs256().token().sign()).await, 401);
}

#[tokio::test]
async fn only_the_added_roots_still_trust_the_private_ca() {
    let ca = Ca::new("test private ca");
    let idp = HttpsIdp::start(&ca.server(&["127.0.0.1"]), None).await;
    let auth = idp
        .builder(trusting(&ca).with_only_added_roots())
        .build_async()
        .await
        .unwrap();
    let api = Api::serve(&auth).await;
    assert_eq!(api.status(&idp.token()).await, 200);
}

#[tokio::test]
async fn without_the_root_the_build_fails_naming_the_url_and_the_unknown_issuer() {
    let ca = Ca::new("test private ca");
    let idp = HttpsIdp::start(&ca.server(&["127.0.0.1"]), None).await;
    let e = refused(idp.builder(HttpClientOptions::new())).await;
    assert_eq!(e.kind(), &FetchErrorKind::Tls);
    let message = e.to_string();
    assert!(
        message.contains(&format!("https://127.0.0.1:{}/", idp.addr.port())),
        "{message}"
    );
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert_eq!(idp.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_root_of_another_ca_is_refused() {
    let (ca, other) = (Ca::new("test private ca"), Ca::new("another ca"));
    let idp = HttpsIdp::start(&ca.server(&["127.0.0.1"]), None).await;
    for http in [trusting(&other), trusting(&other).with_only_added_roots()] {
        let e = refused(idp.builder(http)).await;
        assert_eq!(e.kind(), &FetchErrorKind::Tls);
        assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    }
    assert_eq!(idp.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_certificate_for_another_host_name_is_refused_even_from_the_trusted_ca() {
    let ca = Ca::new("test private ca");
    // Issued by the trusted CA, but for another name than the URL's.
    let idp = HttpsIdp::start(&ca.server(&["idp.other.example", "127.0.0.2"]), None).await;
    let e = refused(idp.builder(trusting(&ca))).await;
    assert_eq!(e.kind(), &FetchErrorKind::Tls);
    let message = e.to_string();
    assert!(message.contains("not valid for name"), "{message}");
    assert!(
        message.contains(&format!("127.0.0.1:{}", idp.addr.port())),
        "{message}"
    );
    // And by DNS name: `localhost` is not in the certificate either.
    let idp = HttpsIdp::start_named(&ca.server(&["127.0.0.1"]), None, "localhost").await;
    let e = refused(idp.builder(trusting(&ca))).await;
    assert_eq!(e.kind(), &FetchErrorKind::Tls);
    assert!(e.to_string().contains("not valid for name"), "{e}");
}

#[tokio::test]
async fn a_provider_requiring_mutual_tls_accepts_our_client_certificate_and_refuses_none() {
    let ca = Ca::new("test private ca");
    let client_ca = Ca::new("clients ca");
    let idp = HttpsIdp::start(&ca.server(&["127.0.0.1"]), Some(&client_ca)).await;

    let ours = client_ca.client("resource-server");
    let http = trusting(&ca)
        .client_identity_pem(ours.cert_pem.as_bytes(), ours.key_pem.as_bytes())
        .unwrap();
    let auth = idp.builder(http).build_async().await.unwrap();
    let api = Api::serve(&auth).await;
    assert_eq!(api.status(&idp.token()).await, 200);
    assert_eq!(idp.hits.load(Ordering::SeqCst), 1);

    // No client certificate, or one from a CA the provider does not trust.
    let stranger = ca.client("stranger");
    for http in [
        trusting(&ca),
        trusting(&ca)
            .client_identity_pem(stranger.cert_pem.as_bytes(), stranger.key_pem.as_bytes())
            .unwrap(),
    ] {
        let e = refused(idp.builder(http)).await;
        assert!(
            matches!(e.kind(), FetchErrorKind::Tls | FetchErrorKind::Transport),
            "{e}"
        );
    }
    assert_eq!(
        idp.hits.load(Ordering::SeqCst),
        1,
        "no fetch without our certificate"
    );
}

#[tokio::test]
async fn an_own_reqwest_client_is_used_for_the_fetches() {
    let ca = Ca::new("test private ca");
    // Not a loopback URL (those are fetched with the crate's client): the
    // own client resolves the name itself.
    let idp = HttpsIdp::start_named(&ca.server(&["idp.test"]), None, "idp.test").await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .resolve("idp.test", idp.addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let auth = idp
        .builder(HttpClientOptions::new().reqwest_client(client.clone()))
        .build_async()
        .await
        .unwrap();
    assert_eq!(Api::serve(&auth).await.status(&idp.token()).await, 200);

    // Its own trust: a client without the root cannot reach the provider.
    let plain = reqwest::Client::builder()
        .resolve("idp.test", idp.addr)
        .build()
        .unwrap();
    let e = refused(idp.builder(HttpClientOptions::new().reqwest_client(plain))).await;
    assert_eq!(e.kind(), &FetchErrorKind::Tls);

    // A loopback URL is fetched with the crate's client (no proxy, the
    // public roots), not with the own client and its private root.
    let local = HttpsIdp::start(&ca.server(&["127.0.0.1"]), None).await;
    let e = refused(local.builder(HttpClientOptions::new().reqwest_client(client.clone()))).await;
    assert_eq!(e.kind(), &FetchErrorKind::Tls);
    assert_eq!(local.hits.load(Ordering::SeqCst), 0);

    // Roots set beside an own client would silently not apply: refused.
    let e = refused(idp.builder(trusting(&ca).reqwest_client(client))).await;
    assert_eq!(e.kind(), &FetchErrorKind::ClientConfig);
}

#[tokio::test]
async fn fetches_go_through_the_configured_proxy_and_the_certificate_is_still_checked() {
    let ca = Ca::new("test private ca");
    // Not a loopback URL, which would be fetched directly: the proxy
    // resolves the name.
    let idp = HttpsIdp::start_named(&ca.server(&["idp.test"]), None, "idp.test").await;
    let proxy = ConnectProxy::start().await;
    let via = |http: HttpClientOptions| http.proxy(&format!("http://{}", proxy.addr)).unwrap();

    let auth = idp.builder(via(trusting(&ca))).build_async().await.unwrap();
    assert!(proxy.tunnels() >= 1, "the fetch went through the proxy");
    assert_eq!(idp.hits.load(Ordering::SeqCst), 1);
    assert_eq!(Api::serve(&auth).await.status(&idp.token()).await, 200);

    // End to end TLS through the tunnel: without the root, still refused.
    let e = refused(idp.builder(via(HttpClientOptions::new()))).await;
    assert_eq!(e.kind(), &FetchErrorKind::Tls);
}

#[tokio::test]
async fn unusable_trust_settings_fail_with_a_config_error() {
    for pem in [
        &b""[..],
        b"not a pem",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        assert!(matches!(
            HttpClientOptions::new().add_root_certificates_pem(pem),
            Err(ConfigError::HttpClient(_))
        ));
    }
    let ca = Ca::new("test private ca");
    let leaf = ca.client("x");
    assert!(matches!(
        HttpClientOptions::new().client_identity_pem(leaf.cert_pem.as_bytes(), b""),
        Err(ConfigError::HttpClient(_))
    ));
    let e = HttpClientOptions::new()
        .client_identity_pem(b"", leaf.key_pem.as_bytes())
        .unwrap_err();
    assert!(!e.to_string().contains("PRIVATE KEY"), "{e}");
    assert!(matches!(
        HttpClientOptions::new().proxy("not a url"),
        Err(ConfigError::HttpClient(_))
    ));
    // Only the added roots, and none added: nothing could be trusted.
    let idp = HttpsIdp::start(&ca.server(&["127.0.0.1"]), None).await;
    let e = refused(idp.builder(HttpClientOptions::new().with_only_added_roots())).await;
    assert_eq!(e.kind(), &FetchErrorKind::ClientConfig);
    // Debug shows no certificate or key.
    let debug = format!(
        "{:?}",
        trusting(&ca)
            .client_identity_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes())
            .unwrap()
    );
    assert!(
        !debug.contains("BEGIN") && debug.contains("client_identity: true"),
        "{debug}"
    );
}
