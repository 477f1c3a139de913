//! [`JwksServer`]: an identity provider's key endpoints on 127.0.0.1.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::{header, Method, Request, Response, StatusCode};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::TestIssuer;

/// An identity provider's key endpoints for integration tests (features
/// `test-util` and `remote`): a JWK Set at [`jwks_url`](Self::jwks_url) and
/// an OpenID Connect discovery document under [`issuer`](Self::issuer), on
/// 127.0.0.1 and a free port, plain HTTP (which the remote key source allows
/// to loopback only).
///
/// Publish keys, rotate them, or make the endpoints fail,
/// while your authenticator runs.
///
/// ```
/// use tower_jwt_auth::testing::{JwksServer, TestIssuer};
/// use tower_jwt_auth::Authenticator;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let idp = JwksServer::start().await?;
/// let old = TestIssuer::es256().with_issuer(idp.issuer());
/// idp.publish(&old);
/// let auth = Authenticator::builder()
///     .oidc_issuer(idp.issuer())               // discovery, then the JWK Set
///     .audience([old.audience()])
///     .build_async()
///     .await?;
/// assert!(auth.verifier().verify_async(&old.token().sign()).await.is_ok());
///
/// // Key rotation: a token of the new key makes the verifier refetch.
/// let new = TestIssuer::es256().with_issuer(idp.issuer());
/// idp.set_keys(&[&old, &new]);
/// assert!(auth.verifier().verify_async(&new.token().sign()).await.is_ok());
/// assert_eq!(idp.fetches(), 2);
/// # Ok(()) }
/// ```
///
/// The server stops when dropped (open connections too).
pub struct JwksServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    keys: Mutex<Vec<Value>>,
    failing: Mutex<Option<StatusCode>>,
    fetches: AtomicUsize,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

/// A poisoned lock only means another test thread panicked; the data is
/// still the last value written.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl fmt::Debug for JwksServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksServer")
            .field("addr", &self.addr)
            .field("keys", &lock(&self.shared.keys).len())
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

impl JwksServer {
    /// Binds 127.0.0.1 on a free port and serves, on the current tokio
    /// runtime, an empty key set until keys are published.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let state = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    // E.g. out of file descriptors: wait, do not spin.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let state_for_conn = Arc::clone(&state);
                let conn = tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let response = state_for_conn.respond(&req, addr);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                let mut connections = lock(&state.connections);
                connections.retain(|c| !c.is_finished());
                connections.push(conn);
            }
        });
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    /// The base URL, `http://127.0.0.1:<port>`: the OIDC issuer, whose
    /// discovery document is at `<issuer>/.well-known/openid-configuration`.
    ///
    /// Give it to [`TestIssuer::with_issuer`] so its tokens carry this `iss`.
    #[must_use]
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The JWK Set URL, `http://127.0.0.1:<port>/jwks.json`.
    #[must_use]
    pub fn jwks_url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    /// The socket address served.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds `issuer`'s public key to the set (replacing a key with its
    /// `kid`).
    ///
    /// # Panics
    /// For an `HS*` issuer: a remote JWK Set never carries a secret (a
    /// published secret is no secret), and the remote key source refuses
    /// one. Configure HMAC keys locally instead.
    pub fn publish(&self, issuer: &TestIssuer) {
        let jwk = public_jwk(issuer);
        let mut keys = lock(&self.shared.keys);
        keys.retain(|k| k["kid"] != jwk["kid"]);
        keys.push(jwk);
    }

    /// Removes the key with this `kid`, if published.
    pub fn unpublish(&self, kid: &str) {
        lock(&self.shared.keys).retain(|k| k["kid"] != kid);
    }

    /// Replaces the whole set with these issuers' keys (a rotation).
    ///
    /// # Panics
    /// For an `HS*` issuer, as [`publish`](Self::publish).
    pub fn set_keys(&self, issuers: &[&TestIssuer]) {
        let keys = issuers.iter().map(|i| public_jwk(i)).collect();
        *lock(&self.shared.keys) = keys;
    }

    /// Makes every endpoint answer `status` with an empty body (an outage:
    /// e.g. 503), or, with `None`, serve normally again.
    ///
    /// # Panics
    /// For a `status` that is not a valid HTTP status code (100..=999).
    pub fn fail_with(&self, status: Option<u16>) {
        let status = status.map(|s| match StatusCode::from_u16(s) {
            Ok(status) => status,
            Err(_) => panic!("JwksServer::fail_with: {s} is not an HTTP status"),
        });
        *lock(&self.shared.failing) = status;
    }

    /// How many times the JWK Set was requested (failed answers included;
    /// discovery documents not).
    #[must_use]
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.accept.abort();
        for conn in lock(&self.shared.connections).drain(..) {
            conn.abort();
        }
    }
}

fn public_jwk(issuer: &TestIssuer) -> Value {
    let jwk = issuer.jwk();
    if jwk["kty"] == "oct" {
        panic!(
            "JwksServer: {:?} is an HMAC issuer; a JWK Set URL never serves secrets",
            issuer.algorithm()
        );
    }
    jwk
}

impl Shared {
    fn respond<B>(&self, req: &Request<B>, addr: SocketAddr) -> Response<String> {
        let is_jwks = req.uri().path() == "/jwks.json";
        if is_jwks {
            self.fetches.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(status) = *lock(&self.failing) {
            return status_only(status);
        }
        if req.method() != Method::GET {
            return status_only(StatusCode::METHOD_NOT_ALLOWED);
        }
        let body = match req.uri().path() {
            "/jwks.json" => json!({ "keys": *lock(&self.keys) }),
            "/.well-known/openid-configuration" => json!({
                "issuer": format!("http://{addr}"),
                "jwks_uri": format!("http://{addr}/jwks.json"),
                "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            }),
            _ => return status_only(StatusCode::NOT_FOUND),
        };
        let mut res = Response::new(body.to_string());
        let content_type = if is_jwks {
            "application/jwk-set+json"
        } else {
            "application/json"
        };
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        res
    }
}

fn status_only(status: StatusCode) -> Response<String> {
    let mut res = Response::new(String::new());
    *res.status_mut() = status;
    res
}
