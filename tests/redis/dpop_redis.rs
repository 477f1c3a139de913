//! The DPoP replay store shared through a real redis-server (started by
//! each test on 127.0.0.1 and a free port): two application instances, one
//! Redis, real HTTP; Redis down fails closed.

use crate::common;
use crate::common::redis_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Extension, Json, Router};
use common::dpop::*;
use common::*;
use jsonwebtoken::Algorithm;
use redis_server::RedisServer;
use serde_json::{json, Value};
use tower_jwt_auth::revocation::{RedisRevocation, RedisStore, Revocation};
use tower_jwt_auth::{
    clock::FixedClock, dpop::DpopBound, Authenticator, AuthenticatorBuilder, Claims,
};
use tower_jwt_auth::{dpop::DpopConfig, dpop::DpopMode, dpop::RedisReplayStore};

const ORIGIN: &str = "https://api.example";

fn access_token(jkt: &str) -> String {
    hs256(&json!({"sub": "alice", "iat": NOW, "exp": NOW + 3600, "cnf": {"jkt": jkt}}))
}

async fn me(claims: Claims, bound: Option<Extension<DpopBound>>) -> Json<Value> {
    Json(json!({
        "sub": claims["sub"],
        "jkt": bound.map(|Extension(b)| b.thumbprint().to_owned()),
    }))
}

/// An authenticator requiring DPoP, its replay store in Redis on `store`.
fn builder(store: RedisStore) -> AuthenticatorBuilder {
    Authenticator::builder()
        .hmac_secret(SECRET)
        .clock(Arc::new(FixedClock::new(NOW)))
        .dpop(
            DpopConfig::new(DpopMode::Required)
                .public_url(ORIGIN)
                .replay_store(RedisReplayStore::new(store)),
        )
}

async fn app(auth: &Authenticator) -> SocketAddr {
    serve(Router::new().route("/me", get(me).layer(auth.layer()))).await
}

/// One application instance: its own authenticator and its own connection
/// to the shared Redis.
async fn instance(redis_url: &str) -> SocketAddr {
    let store = RedisStore::open(redis_url)
        .unwrap()
        .timeout(Duration::from_millis(500));
    app(&builder(store).build().unwrap()).await
}

#[tokio::test]
async fn a_proof_accepted_by_one_instance_is_a_replay_on_the_other() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis.url()).await, instance(&redis.url()).await);
    let key = proof_key(Algorithm::ES256);
    let req = Req::with(&key, ORIGIN, "/me", access_token(&key.jkt), NOW);
    let proof = req.proof(&key);

    let r = send_proof(a, &req, &proof, false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["jkt"], key.jkt.as_str(), "handlers see DpopBound");
    // The same proof again: refused by the other instance and by the first.
    assert_invalid_proof(&send_proof(b, &req, &proof, false).await, "replay on b");
    assert_invalid_proof(&send_proof(a, &req, &proof, false).await, "replay on a");

    // A fresh proof (new jti) from the same key works on b.
    let fresh = Req::with(&key, ORIGIN, "/me", access_token(&key.jkt), NOW);
    assert_eq!(send(b, &key, &fresh).await.status, 200);

    // One key per accepted proof, under the store's prefix, expiring with
    // the replay window (60 s iat window + 60 s leeway from iat = NOW,
    // through the end of that last second).
    let keys = redis.command(&["DBSIZE"]);
    assert_eq!(keys, "2");
    let some = redis.command(&["RANDOMKEY"]);
    assert!(some.starts_with("tower-jwt-auth:dpop:"), "{some}");
    let ttl: i64 = redis.command(&["TTL", &some]).parse().unwrap();
    assert!(ttl > 120 && ttl <= 121, "ttl {ttl}");
}

#[tokio::test]
async fn a_rejected_request_records_nothing() {
    let redis = RedisServer::start();
    let a = instance(&redis.url()).await;
    let key = proof_key(Algorithm::EdDSA);
    let other = proof_key(Algorithm::ES256);
    // A valid proof for a token bound to another key: 401, and the proof
    // is not remembered (only accepted proofs are recorded).
    let req = Req::with(&key, ORIGIN, "/me", access_token(&other.jkt), NOW);
    let r = send(a, &key, &req).await;
    assert_eq!(r.status, 401);
    assert_eq!(redis.command(&["DBSIZE"]), "0");
}

#[tokio::test]
async fn redis_unreachable_fails_closed_with_503_then_recovers() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let a = instance(&redis.url()).await;
    let key = proof_key(Algorithm::ES256);
    let warm = Req::with(&key, ORIGIN, "/me", access_token(&key.jkt), NOW);
    assert_eq!(send(a, &key, &warm).await.status, 200);

    redis.kill();
    let req = Req::with(&key, ORIGIN, "/me", access_token(&key.jkt), NOW);
    let proof = req.proof(&key);
    let start = Instant::now();
    for _ in 0..3 {
        let r = send_proof(a, &req, &proof, false).await;
        assert_eq!(
            r.status, 503,
            "a proof that cannot be recorded is not accepted"
        );
        assert!(r.challenges.is_empty(), "{:?}", r.challenges);
    }
    // Bounded by the store's timeout, not hanging.
    assert!(start.elapsed() < Duration::from_secs(10));

    // Redis returns (empty): the instance recovers by itself, and the proof
    // refused during the outage was not recorded, so it is accepted once.
    let redis = RedisServer::start_on(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = send_proof(a, &req, &proof, false).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503);
        assert!(Instant::now() < deadline, "no recovery within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(redis.command(&["DBSIZE"]), "1");
    assert_invalid_proof(
        &send_proof(a, &req, &proof, false).await,
        "replay after recovery",
    );
}

#[tokio::test]
async fn a_dpop_request_waits_for_a_redis_revocation_list_as_a_bearer_one_does() {
    // Before, a DPoP request verified its token without waiting: with the
    // revocation list's local cache cold, it got 503 where a bearer
    // request waited for Redis and got 200.
    let redis = RedisServer::start();
    let store = RedisStore::open(&redis.url()).unwrap();
    let revocation = RedisRevocation::builder(store.clone())
        .local_cache(Duration::from_millis(1))
        .build();
    let auth = builder(store)
        .revocation(revocation.clone())
        .build()
        .unwrap();
    let addr = app(&auth).await;
    let key = proof_key(Algorithm::ES256);
    let token = |jti: &str| {
        hs256(&json!({
            "sub": "alice", "jti": jti, "iat": NOW, "exp": NOW + 3600,
            "cnf": {"jkt": key.jkt},
        }))
    };

    let req = Req::with(&key, ORIGIN, "/me", token("t-1"), NOW);
    let r = send(addr, &key, &req).await;
    assert_eq!(r.status, 200, "{:?}", r.challenges);
    assert_eq!(r.body["jkt"], key.jkt.as_str());

    // Revoked in Redis: the next request (a fresh proof) is refused as
    // revoked, and its proof is not recorded.
    revocation.revoke_token("t-1", NOW + 3600).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = redis.command(&["DBSIZE"]);
    let again = Req::with(&key, ORIGIN, "/me", token("t-1"), NOW);
    let r = send(addr, &key, &again).await;
    assert_eq!(r.status, 401);
    assert!(
        r.challenges.iter().any(|c| c.contains("revoked")),
        "{:?}",
        r.challenges
    );
    assert_eq!(redis.command(&["DBSIZE"]), before, "nothing recorded");
}

/// Issue 17, finding 3: a proof is remembered through the last second in
/// which its `iat` still passes. The oldest proof accepted at NOW has
/// `iat` NOW - 120 (60 s window + 60 s leeway); one with `iat` NOW - 118
/// passes until the clock reads NOW + 2, included, so its key must outlive
/// 2 s from now; it used to get a 2 s TTL, and the same proof was accepted
/// again once Redis dropped it while the clock still read NOW + 2.
#[tokio::test]
async fn a_proof_is_remembered_through_its_last_acceptable_second() {
    let redis = RedisServer::start();
    let clock = Arc::new(FixedClock::new(NOW));
    let store = RedisStore::open(&redis.url()).unwrap();
    let auth = builder(store).clock(clock.clone()).build().unwrap();
    let a = app(&auth).await;
    let key = proof_key(Algorithm::ES256);
    let req = Req::with(&key, ORIGIN, "/me", access_token(&key.jkt), NOW - 118);
    let proof = req.proof(&key);
    assert_eq!(send_proof(a, &req, &proof, false).await.status, 200);

    let stored = redis.command(&["RANDOMKEY"]);
    let pttl: i64 = redis.command(&["PTTL", &stored]).parse().unwrap();
    // remember_until = iat + 120 = NOW + 2: the key must live past the end
    // of that second, i.e. more than 2 s (here about 3 s) from now.
    assert!(pttl > 2_000, "pttl {pttl} ms: forgotten before NOW + 3");

    // The proof's last acceptable second, after 2 s of real time: still a
    // replay.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    clock.set(NOW + 2);
    assert_invalid_proof(
        &send_proof(a, &req, &proof, false).await,
        "replay in the last acceptable second",
    );
    // One second later the proof is too old anyway.
    clock.set(NOW + 3);
    assert_invalid_proof(&send_proof(a, &req, &proof, false).await, "too old");
}

/// Finding 8: the first proof after a Redis restart is accepted (its
/// `SET NX` meets the broken connection and is retried on a fresh one; the
/// retry recognises its own first attempt by the random value it wrote),
/// and it is still recorded: a replay of it is refused.
#[tokio::test]
async fn the_first_proof_after_a_redis_restart_is_accepted_once() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let a = instance(&redis.url()).await;
    let key = proof_key(Algorithm::ES256);
    let warm = Req::with(&key, ORIGIN, "/me", access_token(&key.jkt), NOW);
    assert_eq!(send(a, &key, &warm).await.status, 200);

    redis.kill();
    let redis = RedisServer::start_on(port);
    let req = Req::with(&key, ORIGIN, "/me", access_token(&key.jkt), NOW);
    let proof = req.proof(&key);
    let r = send_proof(a, &req, &proof, false).await;
    assert_eq!(
        r.status, 200,
        "the first proof after a restart: {:?}",
        r.challenges
    );
    assert_eq!(redis.command(&["DBSIZE"]), "1");
    assert_invalid_proof(&send_proof(a, &req, &proof, false).await, "replay");
}
