//! Opaque tokens through RFC 7662 introspection: a real introspection
//! endpoint (axum on 127.0.0.1) whose answers and failures each test
//! controls and whose requests it counts, in front of a real axum server
//! holding the layer.

mod common;

/// The tests of this file run one at a time: one of them captures the
/// crate's log events with a scoped subscriber, and `tracing` may miss an
/// event of a callsite that another thread registers at the same moment.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower_jwt_auth::remote::FetchErrorKind;
use tower_jwt_auth::revocation::{MemoryRevocation, Revocation};
use tower_jwt_auth::{
    clock::FixedClock, remote::HttpClientOptions, remote::Introspection, Authenticator,
    AuthenticatorBuilder, Claims, ConfigError,
};

const T0: u64 = 1_800_000_000;

/// What the endpoint does.
#[derive(Clone)]
enum Mode {
    /// Answers from `answers` (`{"active": false}` for an unknown token).
    Normal,
    Status(u16),
    NotJson,
    Huge,
    NoActive,
    Redirect,
    /// A 307 to this absolute URL.
    RedirectTo(String),
    Slow(Duration),
}

struct Endpoint {
    answers: Mutex<HashMap<String, Value>>,
    mode: Mutex<Mode>,
    /// Every request waits this long first (to overlap concurrent ones).
    delay: Mutex<Duration>,
    hits: AtomicUsize,
    /// The last request: path and query, headers, body.
    last: Mutex<Option<(String, HeaderMap, String)>>,
    addr: Mutex<Option<SocketAddr>>,
}

impl Endpoint {
    async fn start() -> Arc<Self> {
        let endpoint = Arc::new(Self {
            answers: Mutex::new(HashMap::new()),
            mode: Mutex::new(Mode::Normal),
            delay: Mutex::new(Duration::ZERO),
            hits: AtomicUsize::new(0),
            last: Mutex::new(None),
            addr: Mutex::new(None),
        });
        let app = Router::new()
            .route("/introspect", post(introspect))
            .route(
                "/elsewhere",
                post(|| async { Json(json!({"active": true})) }),
            )
            .route(
                "/.well-known/oauth-authorization-server/realm",
                get(metadata),
            )
            .with_state(Arc::clone(&endpoint));
        let addr = serve(app).await;
        *endpoint.addr.lock().unwrap() = Some(addr);
        endpoint
    }

    fn url(&self) -> String {
        format!("http://{}/introspect", self.addr.lock().unwrap().unwrap())
    }

    fn issuer(&self) -> String {
        format!("http://{}/realm", self.addr.lock().unwrap().unwrap())
    }

    fn answer(&self, token: &str, answer: Value) {
        self.answers
            .lock()
            .unwrap()
            .insert(token.to_owned(), answer);
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn config(&self) -> Introspection {
        Introspection::endpoint(self.url()).client_secret_basic("rs:1", "s3cret/é")
    }

    /// The transport of the tests: a 500 ms timeout.
    fn http(&self) -> HttpClientOptions {
        HttpClientOptions::new().timeout(Duration::from_millis(500))
    }
}

async fn introspect(
    State(e): State<Arc<Endpoint>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    e.hits.fetch_add(1, Ordering::SeqCst);
    let body = String::from_utf8_lossy(&body).into_owned();
    *e.last.lock().unwrap() = Some((uri.to_string(), headers, body.clone()));
    let delay = *e.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let mode = e.mode.lock().unwrap().clone();
    match mode {
        Mode::Normal => {
            let token = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .unwrap_or_default()
                .to_owned();
            let answer = e.answers.lock().unwrap().get(&token).cloned();
            Json(answer.unwrap_or(json!({"active": false}))).into_response()
        }
        Mode::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Mode::NotJson => "<html>active</html>".into_response(),
        Mode::Huge => {
            let pad = "x".repeat(1024 * 1024 + 10);
            Json(json!({"active": true, "pad": pad})).into_response()
        }
        Mode::NoActive => Json(json!({"sub": "alice", "scope": "admin"})).into_response(),
        Mode::Redirect => Redirect::temporary("/elsewhere").into_response(),
        Mode::RedirectTo(url) => Redirect::temporary(&url).into_response(),
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            Json(json!({"active": true})).into_response()
        }
    }
}

async fn metadata(State(e): State<Arc<Endpoint>>) -> Json<Value> {
    Json(json!({"issuer": e.issuer(), "introspection_endpoint": e.url()}))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// `/me` (any valid token, returns the claims) and `/admin` (scope
/// `admin`) behind the layer.
async fn api(auth: &Authenticator) -> SocketAddr {
    let me = |Claims(c): Claims| async move { Json((*c).clone()) };
    let app = Router::new()
        .route("/me", get(me).layer(auth.layer()))
        .route("/admin", get(me).layer(auth.layer().require_scope("admin")));
    serve(app).await
}

struct Reply {
    status: u16,
    www: String,
    body: String,
}

async fn call(addr: SocketAddr, path: &str, token: &str) -> Reply {
    let r = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        www,
        body: r.text().await.unwrap(),
    }
}

fn builder(clock: &Arc<FixedClock>) -> AuthenticatorBuilder {
    Authenticator::builder().clock(Arc::clone(clock))
}

fn active(extra: Value) -> Value {
    let mut v = json!({"active": true, "sub": "alice", "exp": T0 + 3600, "scope": "read"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[tokio::test]
async fn an_active_token_is_accepted_by_an_rfc_7662_request() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    e.answer("opaque-1", active(json!({"client_id": "app"})));
    let clock = Arc::new(FixedClock::new(T0));
    let auth = builder(&clock)
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;

    let r = call(addr, "/me", "opaque-1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let claims: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "app");
    assert!(claims.get("active").is_none(), "the members minus `active`");

    let (uri, headers, body) = e.last.lock().unwrap().clone().unwrap();
    assert_eq!(uri, "/introspect", "the token is never in the URL");
    assert_eq!(body, "token=opaque-1&token_type_hint=access_token");
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    assert_eq!(headers["accept"], "application/json");
    // RFC 6749 §2.3.1: form-urlencoded, then base64 of `id:secret`.
    let expected = base64_std("rs%3A1:s3cret%2F%C3%A9");
    assert_eq!(
        headers["authorization"],
        format!("Basic {expected}").as_str()
    );
}

fn base64_std(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn client_secret_post_puts_the_credentials_in_the_body() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    e.answer("opaque-1", active(json!({})));
    let auth = Authenticator::builder()
        .introspection(Introspection::endpoint(e.url()).client_secret_post("rs", "a b&c"))
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    assert_eq!(call(addr, "/me", "opaque-1").await.status, 200);
    let (_, headers, body) = e.last.lock().unwrap().clone().unwrap();
    assert!(headers.get("authorization").is_none());
    assert_eq!(
        body,
        "token=opaque-1&token_type_hint=access_token&client_id=rs&client_secret=a+b%26c"
    );
}

#[tokio::test]
async fn active_must_be_the_literal_true_and_absent_active_is_503() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    for (token, value) in [
        ("t-false", json!(false)),
        ("t-string", json!("true")),
        ("t-one", json!(1)),
        ("t-null", Value::Null),
    ] {
        e.answer(
            token,
            json!({"active": value, "sub": "alice", "scope": "admin"}),
        );
    }
    e.answer("t-absent", json!({"sub": "alice", "scope": "admin"}));
    let auth = Authenticator::builder()
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    for token in ["t-false", "t-string", "t-one", "t-null", "unknown"] {
        let r = call(addr, "/admin", token).await;
        assert_eq!(r.status, 401, "{token}");
        assert!(
            r.www.contains("error=\"invalid_token\""),
            "{token}: {}",
            r.www
        );
    }
    assert_eq!(call(addr, "/admin", "t-absent").await.status, 503);
}

/// Ory Oathkeeper CVE-2021-32701: a cache that skipped per-route checks.
/// Here the cached answer goes through the route's rules on every use.
#[tokio::test]
async fn route_rules_run_on_every_cached_answer() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    e.answer("reader", active(json!({"scope": "read"})));
    e.answer("admin", active(json!({"scope": "read admin"})));
    let auth = Authenticator::builder()
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;

    assert_eq!(call(addr, "/me", "reader").await.status, 200);
    assert_eq!(e.hits(), 1);
    for _ in 0..3 {
        let r = call(addr, "/admin", "reader").await;
        assert_eq!(r.status, 403, "a cached active answer lacks `admin`");
        assert!(r.www.contains("insufficient_scope"));
    }
    assert_eq!(e.hits(), 1, "every refusal above used the cached answer");
    assert_eq!(call(addr, "/admin", "admin").await.status, 200);
    assert_eq!(call(addr, "/admin", "admin").await.status, 200);
    assert_eq!(e.hits(), 2);
}

#[tokio::test]
async fn claims_pass_the_same_rules_as_a_jwt() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    let clock = Arc::new(FixedClock::new(T0));
    e.answer(
        "good",
        active(json!({"iss": "https://as", "aud": ["api"], "jti": "j1"})),
    );
    e.answer(
        "other-aud",
        active(json!({"iss": "https://as", "aud": "web"})),
    );
    e.answer(
        "other-iss",
        active(json!({"iss": "https://evil", "aud": "api"})),
    );
    e.answer(
        "expired",
        active(json!({"iss": "https://as", "aud": "api", "exp": T0 - 120})),
    );
    e.answer(
        "exp-string",
        active(json!({"iss": "https://as", "aud": "api", "exp": "soon"})),
    );
    e.answer(
        "bound",
        active(json!({"iss": "https://as", "aud": "api", "cnf": {"jkt": "abc"}})),
    );
    e.answer(
        "revoked",
        active(json!({"iss": "https://as", "aud": "api", "jti": "j2"})),
    );
    let revocation = MemoryRevocation::new().clock(Arc::clone(&clock));
    revocation.revoke_token("j2", T0 + 3600).await.unwrap();
    let auth = builder(&clock)
        .issuer(["https://as"])
        .audience(["api"])
        .revocation(revocation)
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    assert_eq!(call(addr, "/me", "good").await.status, 200);
    for token in [
        "other-aud",
        "other-iss",
        "expired",
        "exp-string",
        "bound",
        "revoked",
    ] {
        let r = call(addr, "/me", token).await;
        assert_eq!(r.status, 401, "{token}");
        assert!(r.www.contains("invalid_token"), "{token}");
    }
}

#[tokio::test]
async fn concurrent_requests_for_one_token_share_one_call() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    e.answer("busy", active(json!({})));
    *e.delay.lock().unwrap() = Duration::from_millis(300);
    let auth = Authenticator::builder()
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    let calls: Vec<_> = (0..20)
        .map(|_| tokio::spawn(async move { call(addr, "/me", "busy").await.status }))
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    assert_eq!(e.hits(), 1, "one endpoint request for 20 concurrent ones");
    assert_eq!(call(addr, "/me", "busy").await.status, 200);
    assert_eq!(e.hits(), 1, "then the cached answer");
}

#[tokio::test]
async fn answers_are_reused_for_the_ttl_and_never_past_exp() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    let clock = Arc::new(FixedClock::new(T0));
    e.answer("long", active(json!({"exp": T0 + 3600})));
    e.answer("short", active(json!({"exp": T0 + 10})));
    let auth = builder(&clock)
        .leeway(Duration::ZERO)
        .introspection(e.config().cache_ttl(Duration::from_secs(30)))
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;

    assert_eq!(call(addr, "/me", "long").await.status, 200);
    assert_eq!(call(addr, "/me", "short").await.status, 200);
    assert_eq!(e.hits(), 2);
    clock.advance(Duration::from_secs(9));
    assert_eq!(call(addr, "/me", "long").await.status, 200);
    assert_eq!(call(addr, "/me", "short").await.status, 200);
    assert_eq!(e.hits(), 2, "both cached");

    // Deactivated at the server: still reused until the TTL passes.
    e.answer("long", json!({"active": false}));
    clock.advance(Duration::from_secs(2)); // T0 + 11: past `short`'s exp
    assert_eq!(call(addr, "/me", "short").await.status, 401);
    assert_eq!(e.hits(), 3, "an answer is never used past exp");
    assert_eq!(call(addr, "/me", "long").await.status, 200);
    assert_eq!(e.hits(), 3);
    clock.advance(Duration::from_secs(20)); // T0 + 31: past the TTL
    assert_eq!(call(addr, "/me", "long").await.status, 401);
    assert_eq!(e.hits(), 4);
    // An inactive answer is reused too, for at most the TTL.
    e.answer("long", active(json!({"exp": T0 + 3600})));
    assert_eq!(call(addr, "/me", "long").await.status, 401);
    assert_eq!(e.hits(), 4);
    clock.advance(Duration::from_secs(31));
    assert_eq!(call(addr, "/me", "long").await.status, 200);
    assert_eq!(e.hits(), 5);
}

#[tokio::test]
async fn an_endpoint_failure_is_503_never_an_accept_and_recovers_by_itself() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    let auth = Authenticator::builder()
        .introspection(e.config())
        .http_client(e.http().timeout(Duration::from_millis(300)))
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    for (i, mode) in [
        Mode::Status(500),
        Mode::Status(401),
        Mode::Status(204),
        Mode::NotJson,
        Mode::Huge,
        Mode::NoActive,
        Mode::Redirect,
        Mode::Slow(Duration::from_secs(2)),
    ]
    .into_iter()
    .enumerate()
    {
        let token = format!("t{i}");
        e.answer(&token, active(json!({"scope": "admin"})));
        e.set(mode);
        for path in ["/me", "/admin"] {
            let r = call(addr, path, &token).await;
            assert_eq!(r.status, 503, "round {i} {path}: {}", r.body);
        }
        // Failures are not cached: back to normal, the next request passes.
        e.set(Mode::Normal);
        assert_eq!(call(addr, "/admin", &token).await.status, 200, "round {i}");
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_503() {
    let _serial = serial().await;
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    drop(listener);
    let auth = Authenticator::builder()
        .introspection(Introspection::endpoint(url))
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    assert_eq!(call(addr, "/me", "anything").await.status, 503);
}

#[tokio::test]
async fn a_jws_token_is_verified_locally_and_anything_else_is_introspected() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    e.answer("opaque", active(json!({})));
    let auth = Authenticator::builder()
        .hmac_secret(common::SECRET)
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    let exp = common::now() + 600;
    let jwt = common::hs256(&json!({"sub": "bob", "exp": exp}));
    assert_eq!(call(addr, "/me", &jwt).await.status, 200);
    // A JWS that fails locally is refused: never a second try.
    let forged = format!("{}x", &jwt[..jwt.len() - 1]);
    assert_eq!(call(addr, "/me", &forged).await.status, 401);
    assert_eq!(e.hits(), 0);
    assert_eq!(call(addr, "/me", "opaque").await.status, 200);
    assert_eq!(e.hits(), 1);
}

#[tokio::test]
async fn the_endpoint_is_found_in_rfc_8414_metadata() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    e.answer("opaque", active(json!({})));
    let auth = Authenticator::builder()
        .introspection(Introspection::discover(e.issuer()))
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    assert_eq!(call(addr, "/me", "opaque").await.status, 200);
    assert_eq!(e.hits(), 1);

    let err = Authenticator::builder()
        .introspection(Introspection::discover(format!("{}x", e.issuer())))
        .build_async()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("introspection_endpoint"), "{err}");
}

#[tokio::test]
async fn the_token_never_appears_in_a_log() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    let secret_token = "SeCrEt-OpAqUe-ToKeN-42";
    e.answer(secret_token, active(json!({})));
    let (logs, _guard) = common::logs::capture(
        tracing::Level::TRACE,
        tracing_subscriber::fmt::format::FmtSpan::NONE,
    );
    let auth = Authenticator::builder()
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    assert_eq!(call(addr, "/me", secret_token).await.status, 200);
    e.set(Mode::Status(500));
    assert_eq!(call(addr, "/me", "SeCrEt-second").await.status, 503);
    e.set(Mode::Slow(Duration::from_secs(2)));
    assert_eq!(call(addr, "/me", "SeCrEt-third").await.status, 503);
    let text = logs.text();
    assert!(text.contains("introspection"), "the failures are logged");
    assert!(!text.contains("SeCrEt"), "{text}");
    assert!(!text.contains("s3cret"), "nor the client secret");
}

/// `tower_jwt_auth_introspections_total{result}` per endpoint request (the
/// only recorder of this test binary); cache hits are not requests.
#[tokio::test]
async fn endpoint_requests_are_counted_by_result() {
    let _serial = serial().await;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use metrics_util::MetricKind;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");

    let e = Endpoint::start().await;
    e.answer("yes", active(json!({})));
    let auth = Authenticator::builder()
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let addr = api(&auth).await;
    assert_eq!(call(addr, "/me", "yes").await.status, 200);
    assert_eq!(call(addr, "/me", "yes").await.status, 200);
    assert_eq!(call(addr, "/me", "no").await.status, 401);
    e.set(Mode::Status(500));
    assert_eq!(call(addr, "/me", "down").await.status, 503);

    let mut counts = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let (kind, key) = key.into_parts();
        if let (MetricKind::Counter, DebugValue::Counter(n)) = (kind, value) {
            if key.name() == "tower_jwt_auth_introspections_total" {
                let result = key.labels().next().unwrap().value().to_owned();
                counts.insert(result, n);
            }
        }
    }
    let expected: HashMap<String, u64> = [("active", 1), ("inactive", 1), ("error", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(counts, expected);
}

/// With several issuers, an opaque token goes to the one issuer that
/// introspects; two that introspect are a configuration error.
#[tokio::test]
async fn by_issuer_sends_opaque_tokens_to_the_one_introspecting_issuer() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    e.answer("opaque", active(json!({"iss": "https://as"})));
    let introspecting = || async {
        Authenticator::builder()
            .issuer(["https://as"])
            .introspection(e.config())
            .http_client(e.http())
            .build_async()
            .await
            .unwrap()
    };
    let jwt_issuer = Authenticator::builder()
        .hmac_secret(common::SECRET)
        .issuer(["https://jwt"])
        .build()
        .unwrap();
    let auth = Authenticator::by_issuer([introspecting().await, jwt_issuer]).unwrap();
    let addr = api(&auth).await;
    assert_eq!(call(addr, "/me", "opaque").await.status, 200);
    let jwt = common::hs256(&json!({"iss": "https://jwt", "exp": common::now() + 600}));
    assert_eq!(call(addr, "/me", &jwt).await.status, 200);
    assert_eq!(e.hits(), 1);

    let other = introspecting().await;
    let second = Authenticator::builder()
        .issuer(["https://as2"])
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    let err = Authenticator::by_issuer([other, second]).unwrap_err();
    assert!(
        matches!(err, tower_jwt_auth::ConfigError::SeveralIntrospections),
        "{err}"
    );
}

#[tokio::test]
async fn introspection_alone_accepts_no_algorithm_and_keys_keep_their_checks() {
    let _serial = serial().await;
    let e = Endpoint::start().await;
    let auth = Authenticator::builder()
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap();
    assert!(auth.verifier().algorithms().is_empty(), "no key: no JWS");
    // An allow-list no key can serve is still refused, introspection or not.
    let err = Authenticator::builder()
        .hmac_secret(common::SECRET)
        .algorithms([tower_jwt_auth::keys::Algorithm::RS256])
        .introspection(e.config())
        .http_client(e.http())
        .build_async()
        .await
        .unwrap_err();
    assert!(
        matches!(err, tower_jwt_auth::ConfigError::NoAlgorithms),
        "{err}"
    );
    assert!(matches!(
        Authenticator::builder()
            .introspection(e.config())
            .http_client(e.http())
            .build(),
        Err(tower_jwt_auth::ConfigError::NeedsBuildAsync)
    ));
}

/// One transport setting, given once to `http_client`, bounds key fetching
/// and introspection alike: under a 300-byte response limit the JWK Set
/// (about 450 bytes) is refused at build (`TooLarge`), and, started
/// without keys, a JWT gets 503 and an introspection answer over the
/// limit is a 503 while a small one passes; with the default limit the
/// same servers serve both.
#[tokio::test]
async fn one_size_limit_set_once_bounds_key_fetches_and_introspection() {
    use common::idp::{jwk, Idp};
    use tower_jwt_auth::remote::{FetchErrorKind, RemoteOptions};
    use tower_jwt_auth::ConfigError;

    let _serial = serial().await;
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let e = Endpoint::start().await;
    e.answer("small-opaque", active(json!({})));
    e.answer("big-opaque", active(json!({"pad": "x".repeat(400)})));
    let clock = Arc::new(FixedClock::new(T0));
    let jwt = common::token(
        jsonwebtoken::Algorithm::RS256,
        Some("rsa-1"),
        &json!({"sub": "bob", "exp": T0 + 600}),
    );
    let both = |http: HttpClientOptions, start_anyway: bool| {
        builder(&clock)
            .jwks_url(idp.url())
            .remote_options(RemoteOptions::new().start_without_keys(start_anyway))
            .introspection(e.config())
            .http_client(http)
            .build_async()
    };
    let limited = || e.http().max_response_size(300);

    match both(limited(), false).await {
        Err(ConfigError::RemoteKeys(err)) => {
            assert_eq!(err.kind(), &FetchErrorKind::TooLarge { limit: 300 });
        }
        Err(other) => panic!("expected the key set refused as too large, got {other}"),
        Ok(_) => panic!("the key set over the limit was taken"),
    }

    let addr = api(&both(limited(), true).await.unwrap()).await;
    assert_eq!(call(addr, "/me", &jwt).await.status, 503, "no keys taken");
    assert_eq!(call(addr, "/me", "small-opaque").await.status, 200);
    let hits = e.hits();
    assert_eq!(call(addr, "/me", "big-opaque").await.status, 503);
    assert_eq!(e.hits(), hits + 1, "the answer was fetched, then refused");

    let addr = api(&both(e.http(), false).await.unwrap()).await;
    assert_eq!(call(addr, "/me", &jwt).await.status, 200);
    assert_eq!(call(addr, "/me", "big-opaque").await.status, 200);
}

#[tokio::test]
async fn no_token_or_client_secret_ever_reaches_a_redirect_target() {
    let _serial = serial().await;
    let target = common::recorder::Recorder::start().await;
    let e = Endpoint::start().await;
    e.answer("SeCrEt-token", active(json!({})));
    e.set(Mode::RedirectTo(format!("{}/elsewhere", target.url())));
    let clock = Arc::new(FixedClock::new(T0));
    let post = || Introspection::endpoint(e.url()).client_secret_post("rs:1", "s3cret/é");
    // An own client with reqwest's default policy (it follows a 307,
    // re-sending the body): a loopback endpoint is asked with the crate's
    // client, which never follows a redirect.
    for config in [e.config(), post()] {
        let auth = builder(&clock)
            .introspection(config)
            .http_client(e.http().reqwest_client(reqwest::Client::new()))
            .build_async()
            .await
            .unwrap();
        assert_eq!(
            call(api(&auth).await, "/me", "SeCrEt-token").await.status,
            503
        );
    }
    assert_eq!(e.hits(), 2);
    // An endpoint that is not loopback (the own client resolves its name):
    // the own client could follow the redirect before the crate sees it,
    // so it is never given a token: the build fails.
    let addr = e.addr.lock().unwrap().unwrap();
    let client = reqwest::Client::builder()
        .resolve("introspect.test", addr)
        .build()
        .unwrap();
    let url = format!("http://introspect.test:{}/introspect", addr.port());
    for config in [
        Introspection::endpoint(url.clone()).client_secret_basic("rs:1", "s3cret/é"),
        Introspection::endpoint(url.clone()).client_secret_post("rs:1", "s3cret/é"),
    ] {
        let err = builder(&clock)
            .introspection(config)
            .http_client(e.http().danger_allow_http().reqwest_client(client.clone()))
            .build_async()
            .await
            .map(|_| ())
            .unwrap_err();
        let ConfigError::Introspection(fetch) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(fetch.kind(), &FetchErrorKind::ClientConfig, "{err}");
    }
    assert_eq!(e.hits(), 2, "nothing sent to the endpoint");
    assert_eq!(
        target.requests(),
        Vec::<String>::new(),
        "the redirect target saw nothing"
    );
}

#[test]
fn an_introspection_cancelled_with_its_runtime_never_blocks_its_token() {
    // The endpoint on a runtime of its own, which outlives the first one.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _serial = server.block_on(serial());
    let e = server.block_on(Endpoint::start());
    e.answer("opaque", active(json!({})));
    *e.delay.lock().unwrap() = Duration::from_secs(30);
    let clock = Arc::new(FixedClock::new(T0));
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let first = runtime();
    let auth = first
        .block_on(
            builder(&clock)
                .introspection(e.config())
                .http_client(e.http().timeout(Duration::from_secs(60)))
                .build_async(),
        )
        .unwrap();
    first.block_on(async {
        let auth = auth.clone();
        tokio::spawn(async move { auth.verifier().verify_async("opaque").await });
        for _ in 0..500 {
            if e.hits() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert_eq!(e.hits(), 1, "the request is in flight");
    // Shut down while the endpoint has not answered: the task is dropped.
    drop(first);
    *e.delay.lock().unwrap() = Duration::ZERO;
    let second = runtime();
    let claims = second.block_on(auth.verifier().verify_async("opaque"));
    assert!(claims.is_ok(), "asked again, not 503 for ever: {claims:?}");
    assert_eq!(e.hits(), 2);
}

#[tokio::test]
async fn credentials_in_the_endpoint_url_never_show() {
    let _serial = serial().await;
    let no_credentials = |what: &str, text: &str| {
        assert!(
            !text.contains("secret") && !text.contains("id:"),
            "{what}: {text}"
        );
    };
    let (logs, _guard) = common::logs::capture(
        tracing::Level::TRACE,
        tracing_subscriber::fmt::format::FmtSpan::NONE,
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = Introspection::endpoint(format!("http://id:secret@127.0.0.1:{port}/introspect"));
    no_credentials("Debug of Introspection", &format!("{config:?}"));
    let auth = Authenticator::builder()
        .introspection(config)
        .build_async()
        .await
        .unwrap();
    no_credentials("Debug of Authenticator", &format!("{auth:?}"));
    assert_eq!(call(api(&auth).await, "/me", "anything").await.status, 503);
    // Discovery from an issuer with credentials: its error.
    let e = Endpoint::start().await;
    let issuer = e.issuer().replace("http://", "http://id:secret@");
    let err = Authenticator::builder()
        .introspection(Introspection::discover(issuer))
        .build_async()
        .await
        .map(|_| ())
        .unwrap_err();
    no_credentials("discovery error", &err.to_string());
    no_credentials("discovery error Debug", &format!("{err:?}"));
    let text = logs.text();
    assert!(
        text.contains(&format!("127.0.0.1:{port}/introspect")),
        "the failure is logged with the URL: {text}"
    );
    no_credentials("logs", &text);
}
