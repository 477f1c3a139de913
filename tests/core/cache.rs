//! The verified-token cache, through the real layer on a real HTTP server.
//!
//! A hit is told from a miss by the claims type: `Counted` counts how often
//! it is deserialized, per `sub`, and only a miss deserializes (a hit clones
//! the stored `Arc`). So "the count did not move" means "served from the
//! cache", and the tests can show that a rejection came from a hit's checks.

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use tower_jwt_auth::{clock::FixedClock, Authenticator, AuthenticatorBuilder, Claims};

use common::{token, NOW, SECRET};

/// Claims that count their own deserializations, per `sub`.
#[derive(Debug)]
struct Counted(Value);

static DESERIALIZED: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let sub = v["sub"].as_str().unwrap_or_default().to_owned();
        let mut map = DESERIALIZED.lock().unwrap();
        *map.get_or_insert_with(HashMap::new).entry(sub).or_default() += 1;
        Ok(Counted(v))
    }
}

/// How many times the claims of `sub` were deserialized: one per miss.
fn misses(sub: &str) -> usize {
    let map = DESERIALIZED.lock().unwrap();
    map.as_ref().and_then(|m| m.get(sub)).copied().unwrap_or(0)
}

async fn me(claims: Claims<Counted>) -> Json<Value> {
    Json(claims.0 .0.clone())
}

fn builder(clock: &Arc<FixedClock>) -> AuthenticatorBuilder<Counted> {
    Authenticator::builder()
        .claims::<Counted>()
        .hmac_secret(SECRET)
        .audience(["api"])
        .clock(Arc::clone(clock))
}

/// `/me` (base rules), `/billing` (another audience), `/admin` (a scope),
/// all made from one authenticator, so they share its cache.
async fn server(auth: &Authenticator<Counted>) -> SocketAddr {
    let app = Router::new()
        .route("/me", get(me).layer(auth.layer()))
        .route(
            "/billing",
            get(me).layer(auth.layer().audience(["billing"])),
        )
        .route("/admin", get(me).layer(auth.layer().require_scope("admin")))
        .route("/optional", get(me).layer(auth.optional()));
    common::serve(app).await
}

struct Client {
    http: reqwest::Client,
    addr: SocketAddr,
}

impl Client {
    fn new(addr: SocketAddr) -> Self {
        Self {
            http: reqwest::Client::new(),
            addr,
        }
    }

    /// Status, `WWW-Authenticate`, body.
    async fn get(&self, path: &str, token: &str) -> (u16, String, String) {
        let res = self
            .http
            .get(format!("http://{}{path}", self.addr))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let www = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        (status, www, res.text().await.expect("body"))
    }
}

fn claims(sub: &str, extra: Value) -> Value {
    let mut c = json!({"sub": sub, "aud": "api", "scope": "read", "iat": NOW, "exp": NOW + 600});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

#[tokio::test]
async fn a_repeated_token_is_verified_once_then_served_from_the_cache() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock).build().unwrap();
    let client = Client::new(server(&auth).await);
    let c = claims("repeat", json!({}));
    let t = token(Algorithm::HS256, None, &c);
    for _ in 0..5 {
        let (status, _, body) = client.get("/me", &t).await;
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), c);
    }
    assert_eq!(misses("repeat"), 1, "one verification, four hits");
    assert_eq!(auth.verifier().cache_stats().unwrap().entries, 1);
}

#[tokio::test]
async fn expired_token_is_rejected_on_a_hit_after_exp_passes() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock)
        .leeway(Duration::from_secs(0))
        .build()
        .unwrap();
    let client = Client::new(server(&auth).await);
    let t = token(
        Algorithm::HS256,
        None,
        &claims("expiring", json!({"exp": NOW + 30})),
    );
    assert_eq!(client.get("/me", &t).await.0, 200);
    clock.set(NOW + 29);
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(misses("expiring"), 1, "the second request was a hit");

    clock.set(NOW + 30);
    let (status, www, _) = client.get("/me", &t).await;
    assert_eq!(status, 401);
    assert!(www.contains("invalid_token"), "{www}");
    clock.set(NOW + 3600);
    assert_eq!(client.get("/me", &t).await.0, 401);
    assert_eq!(misses("expiring"), 1, "expired: never deserialized again");
    assert_eq!(auth.verifier().cache_stats().unwrap().entries, 0);
}

#[tokio::test]
async fn exp_counts_the_leeway_on_a_hit_as_on_a_miss() {
    // Default leeway 60 s: the token stays valid past `exp`; its entry does
    // not (an entry never outlives `exp`), so it is verified again.
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock).build().unwrap();
    let client = Client::new(server(&auth).await);
    let t = token(
        Algorithm::HS256,
        None,
        &claims("leeway", json!({"exp": NOW + 30})),
    );
    assert_eq!(client.get("/me", &t).await.0, 200);
    clock.set(NOW + 60);
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(misses("leeway"), 2, "past exp: verified afresh");
    clock.set(NOW + 90);
    assert_eq!(client.get("/me", &t).await.0, 401);
}

#[tokio::test]
async fn nbf_is_checked_again_on_every_hit() {
    // A clock that goes back (an NTP step) makes a cached token not yet
    // valid: the hit's own checks reject it, and the entry stays.
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock).build().unwrap();
    let client = Client::new(server(&auth).await);
    let t = token(Algorithm::HS256, None, &claims("nbf", json!({"nbf": NOW})));
    assert_eq!(client.get("/me", &t).await.0, 200);
    clock.set(NOW - 120);
    let (status, www, _) = client.get("/me", &t).await;
    assert_eq!(status, 401);
    assert!(www.contains("invalid_token"), "{www}");
    clock.set(NOW);
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(misses("nbf"), 1, "all three were hits");
}

#[tokio::test]
async fn a_route_with_another_audience_or_a_missing_scope_still_rejects_on_a_hit() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock).build().unwrap();
    let client = Client::new(server(&auth).await);
    let t = token(Algorithm::HS256, None, &claims("routes", json!({})));
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(misses("routes"), 1);

    let (status, www, body) = client.get("/billing", &t).await;
    assert_eq!(status, 401);
    assert!(www.contains("invalid_token"), "{www}");
    assert!(body.is_empty());
    let (status, www, _) = client.get("/admin", &t).await;
    assert_eq!(status, 403);
    assert!(www.contains("insufficient_scope"), "{www}");
    assert_eq!(client.get("/optional", &t).await.0, 200);
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(
        misses("routes"),
        1,
        "every request after the first was a hit"
    );

    // The same routes accept a token that meets their rules, from the cache.
    let both = token(
        Algorithm::HS256,
        None,
        &claims(
            "routes-ok",
            json!({"aud": ["api", "billing"], "scope": "read admin"}),
        ),
    );
    for path in ["/me", "/billing", "/admin", "/me"] {
        assert_eq!(client.get(path, &both).await.0, 200, "{path}");
    }
    assert_eq!(misses("routes-ok"), 1);
}

#[tokio::test]
async fn a_tampered_copy_of_a_cached_token_never_hits() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock).build().unwrap();
    let client = Client::new(server(&auth).await);
    let t = token(Algorithm::HS256, None, &claims("tamper", json!({})));
    assert_eq!(client.get("/me", &t).await.0, 200);

    let mut sent = 0;
    for i in 0..t.len() {
        for bit in 0..8 {
            let mut bytes = t.clone().into_bytes();
            bytes[i] ^= 1 << bit;
            // Only what can travel in a header value reaches the layer.
            let Ok(tampered) = String::from_utf8(bytes) else {
                continue;
            };
            if tampered.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
                continue;
            }
            let (status, _, body) = client.get("/me", &tampered).await;
            assert!(
                status == 401 || status == 400,
                "byte {i} bit {bit}: {status} {body}"
            );
            sent += 1;
        }
    }
    assert!(
        sent > t.len() * 4,
        "only {sent} variants reached the server"
    );
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(misses("tamper"), 1, "no tampered copy was ever accepted");
    assert_eq!(auth.verifier().cache_stats().unwrap().entries, 1);
}

#[tokio::test]
async fn failures_are_never_cached() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock).build().unwrap();
    let client = Client::new(server(&auth).await);
    // Valid signature, wrong audience: fails on every route, twice.
    let wrong_aud = token(
        Algorithm::HS256,
        None,
        &claims("fail", json!({"aud": "other"})),
    );
    let bad_sig = format!("{}AAAA", &wrong_aud[..wrong_aud.len() - 4]);
    for t in [&wrong_aud, &wrong_aud, &bad_sig, &bad_sig] {
        assert_eq!(client.get("/me", t).await.0, 401);
    }
    assert_eq!(auth.verifier().cache_stats().unwrap().entries, 0);
}

#[tokio::test]
async fn capacity_is_respected() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock).cache_capacity(64).build().unwrap();
    let client = Client::new(server(&auth).await);
    for i in 0..300 {
        let t = token(
            Algorithm::HS256,
            None,
            &claims(&format!("capacity-{i}"), json!({})),
        );
        assert_eq!(client.get("/me", &t).await.0, 200);
        let stats = auth.verifier().cache_stats().unwrap();
        assert!(stats.entries <= 64, "after {i}: {stats:?}");
    }
    let stats = auth.verifier().cache_stats().unwrap();
    assert_eq!(stats.capacity, 64);
    assert!(stats.entries > 0);
}

#[tokio::test]
async fn with_the_cache_off_every_request_verifies() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock).without_cache().build().unwrap();
    assert!(auth.verifier().cache_stats().is_none());
    let client = Client::new(server(&auth).await);
    let t = token(Algorithm::HS256, None, &claims("uncached", json!({})));
    for _ in 0..3 {
        assert_eq!(client.get("/me", &t).await.0, 200);
    }
    assert_eq!(misses("uncached"), 3);
    let (status, _, _) = client.get("/admin", &t).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn entries_end_at_the_max_age() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = builder(&clock)
        .cache_max_age(Duration::from_secs(100))
        .build()
        .unwrap();
    let client = Client::new(server(&auth).await);
    let t = token(Algorithm::HS256, None, &claims("max-age", json!({})));
    assert_eq!(client.get("/me", &t).await.0, 200);
    clock.set(NOW + 99);
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(misses("max-age"), 1);
    clock.set(NOW + 100);
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(
        misses("max-age"),
        2,
        "older than the max age: verified again"
    );
}

#[tokio::test]
async fn the_default_claims_type_is_served_from_the_cache_unchanged() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let app = Router::new().route(
        "/me",
        get(|c: Claims| async move { Json(c.as_ref().clone()) }).layer(auth.layer()),
    );
    let client = Client::new(common::serve(app).await);
    let c = claims("value", json!({"nested": {"a": [1, 2.5, null, "x"]}}));
    let t = token(Algorithm::HS256, None, &c);
    for _ in 0..3 {
        let (status, _, body) = client.get("/me", &t).await;
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), c);
    }
    assert_eq!(auth.verifier().cache_stats().unwrap().entries, 1);
}

#[tokio::test]
async fn several_issuers_each_serve_their_tokens_from_the_cache() {
    let clock = Arc::new(FixedClock::new(NOW));
    let issuer = |iss: &str, secret: &str| {
        Authenticator::builder()
            .claims::<Counted>()
            .hmac_secret(secret)
            .issuer([iss])
            .clock(Arc::clone(&clock))
            .build()
            .unwrap()
    };
    const OTHER: &str = "another-secret-another-secret-another!";
    let auth = Authenticator::by_issuer([
        issuer("https://a.example", SECRET),
        issuer("https://b.example", OTHER),
    ])
    .unwrap();
    let client = Client::new(server(&auth).await);
    let a = token(
        Algorithm::HS256,
        None,
        &claims("issuer-a", json!({"iss": "https://a.example"})),
    );
    let b = common::raw_token(
        r#"{"alg":"HS256"}"#,
        &claims("issuer-b", json!({"iss": "https://b.example"})).to_string(),
        Algorithm::HS256,
        &common::forge::secret_key(OTHER.as_bytes()),
    );
    // Issuer b's claim, issuer a's key: b's key decides, and refuses.
    let forged = token(
        Algorithm::HS256,
        None,
        &claims("issuer-forged", json!({"iss": "https://b.example"})),
    );
    for _ in 0..3 {
        assert_eq!(client.get("/me", &a).await.0, 200);
        assert_eq!(client.get("/me", &b).await.0, 200);
        assert_eq!(client.get("/me", &forged).await.0, 401);
    }
    assert_eq!((misses("issuer-a"), misses("issuer-b")), (1, 1));
    assert_eq!(auth.verifier().cache_stats().unwrap().entries, 2);
}

#[tokio::test]
async fn a_token_revoked_after_it_was_cached_is_rejected_on_the_next_hit() {
    use tower_jwt_auth::revocation::{MemoryRevocation, Revocation};
    let clock = Arc::new(FixedClock::new(NOW));
    let store = MemoryRevocation::new();
    let auth = builder(&clock).revocation(store.clone()).build().unwrap();
    let client = Client::new(server(&auth).await);
    let t = token(
        Algorithm::HS256,
        None,
        &claims("revoked", json!({"jti": "cached-then-revoked"})),
    );
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(client.get("/me", &t).await.0, 200);
    assert_eq!(misses("revoked"), 1, "the second request was a hit");

    assert!(store
        .revoke_token("cached-then-revoked", NOW + 600)
        .await
        .unwrap());
    let (status, www, _) = client.get("/me", &t).await;
    assert_eq!(status, 401);
    assert!(www.contains("invalid_token"), "{www}");
    assert_eq!(misses("revoked"), 1, "rejected by the hit's own check");
}
