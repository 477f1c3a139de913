//! An identity provider on 127.0.0.1:0 (tests/remote/remote.rs): a JWK Set at
//! `/jwks` and an OIDC discovery document, whose behaviour each test sets
//! and whose request counters it reads; authenticators built against it, and
//! an axum server with the layer to send requests through.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tower_jwt_auth::remote::FetchError;
use tower_jwt_auth::remote::{HttpClientOptions, RemoteOptions};
use tower_jwt_auth::{Authenticator, AuthenticatorBuilder, ConfigError};

use super::{fixture_str, serve};

/// What the identity provider does; each test changes it as it goes.
pub struct Behaviour {
    pub keys: Vec<Value>,
    pub status: u16,
    /// Sent instead of the JWK Set.
    pub raw_body: Option<Vec<u8>>,
    /// A streamed body of this many bytes, without `Content-Length`.
    pub stream_len: Option<usize>,
    pub delay: Duration,
    /// The discovery document's `issuer`, when not the server's own URL.
    pub issuer: Option<String>,
    /// A `Cache-Control` header on the JWK Set.
    pub cache_control: Option<&'static str>,
}

struct IdpState {
    behaviour: Mutex<Behaviour>,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
    addr: Mutex<Option<SocketAddr>>,
}

pub struct Idp {
    pub addr: SocketAddr,
    state: Arc<IdpState>,
}

impl Idp {
    /// Serves `keys` (answering 200 at once) until the test ends.
    pub async fn start(keys: Vec<Value>) -> Self {
        let state = Arc::new(IdpState {
            behaviour: Mutex::new(Behaviour {
                keys,
                status: 200,
                raw_body: None,
                stream_len: None,
                delay: Duration::ZERO,
                issuer: None,
                cache_control: None,
            }),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
            addr: Mutex::new(None),
        });
        let app = Router::new()
            .route("/jwks", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(state.clone());
        let addr = serve(app).await;
        *state.addr.lock().unwrap() = Some(addr);
        Self { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests for the JWK Set so far.
    pub fn hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Requests for the discovery document so far.
    pub fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.state.behaviour.lock().unwrap());
    }

    /// A builder with this provider's JWK Set URL, `options` and the
    /// [`quick_http`] transport.
    pub fn builder(&self, options: RemoteOptions) -> AuthenticatorBuilder {
        Authenticator::builder()
            .jwks_url(self.url())
            .remote_options(options)
            .http_client(quick_http())
    }

    /// A builder that discovers this provider as an OIDC issuer, with the
    /// [`quick_http`] transport.
    pub fn oidc_builder(&self, options: RemoteOptions) -> AuthenticatorBuilder {
        Authenticator::builder()
            .oidc_issuer(self.issuer())
            .remote_options(options)
            .http_client(quick_http())
    }

    /// The authenticator [`Idp::builder`] builds; the build must succeed.
    pub async fn authenticator(&self, options: RemoteOptions) -> Authenticator {
        self.builder(options)
            .build_async()
            .await
            .expect("build against the identity provider")
    }

    /// Why [`Idp::builder`]'s build fails; it must fail.
    pub async fn refused(&self, options: RemoteOptions) -> FetchError {
        refused(self.builder(options)).await
    }
}

/// Why `builder`'s build fails, which must be a remote key error.
pub async fn refused(builder: AuthenticatorBuilder) -> FetchError {
    match builder.build_async().await {
        Err(ConfigError::RemoteKeys(e)) => e,
        Err(other) => panic!("expected a remote key error, got {other}"),
        Ok(_) => panic!("expected a remote key error, the build succeeded"),
    }
}

async fn jwks(State(state): State<Arc<IdpState>>) -> Response<Body> {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let (delay, status, body, stream_len, cache_control) = {
        let b = state.behaviour.lock().unwrap();
        let body = b
            .raw_body
            .clone()
            .unwrap_or_else(|| serde_json::to_vec(&json!({ "keys": b.keys })).unwrap());
        (b.delay, b.status, body, b.stream_len, b.cache_control)
    };
    tokio::time::sleep(delay).await;
    let body = match stream_len {
        Some(len) => {
            let chunks =
                (0..len.div_ceil(65536)).map(|_| Ok::<_, std::io::Error>(vec![b' '; 65536]));
            Body::from_stream(futures_util::stream::iter(chunks))
        }
        None => Body::from(body),
    };
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(cc) = cache_control {
        response = response.header("cache-control", cc);
    }
    response.body(body).unwrap()
}

async fn discovery(State(state): State<Arc<IdpState>>) -> Response<Body> {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let addr = state.addr.lock().unwrap().unwrap();
    let issuer = state
        .behaviour
        .lock()
        .unwrap()
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let doc = json!({ "issuer": issuer, "jwks_uri": format!("http://{addr}/jwks") });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(doc.to_string()))
        .unwrap()
}

/// The fixture JWK with this `kid` (jwks.json: rsa-1, ec256-1, ec384-1, ed-1).
pub fn jwk(kid: &str) -> Value {
    let set: Value = serde_json::from_str(&fixture_str("jwks.json")).unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap()
        .clone()
}

/// The default refresh policy; tests that need another setting change it.
pub fn quick() -> RemoteOptions {
    RemoteOptions::new()
}

/// Short timeouts; tests that need another setting change it.
pub fn quick_http() -> HttpClientOptions {
    HttpClientOptions::new()
        .timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(1))
}

/// `GET /me` behind `auth`'s layer on 127.0.0.1, and a client for it.
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    client: reqwest::Client,
}

impl Api {
    pub async fn serve(auth: &Authenticator) -> Self {
        let app = Router::new().route("/me", get(|| async { "ok" }).layer(auth.layer()));
        Self {
            addr: serve(app).await,
            client: reqwest::Client::new(),
        }
    }

    /// The same server through a client that gives up after `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            addr: self.addr,
            client: reqwest::Client::builder().timeout(timeout).build().unwrap(),
        }
    }

    /// The status of `GET /me` with `token` as the bearer token.
    pub async fn status(&self, token: &str) -> u16 {
        self.client
            .get(format!("http://{}/me", self.addr))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }
}
