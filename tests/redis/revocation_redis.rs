//! The revocation list shared through a real redis-server (started by each
//! test on 127.0.0.1 and a free port): several instances, Redis outages,
//! rotation across instances, entries expiring, through real HTTP.

use crate::common;
use crate::common::redis_server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};
use common::*;
use redis_server::RedisServer;
use serde_json::Value;
use tower_jwt_auth::clock::FixedClock;
use tower_jwt_auth::revocation::{
    BoxFuture, RedisRevocation, RedisStore, RefreshSpend, Revocation, RevocationError, TokenRef,
};
use tower_jwt_auth::{issue::RefreshError, issue::TokenIssuer};
use tower_jwt_auth::{AuthErrorKind, Claims};

/// The documented staleness bound of the local cache used below.
const LOCAL_CACHE: Duration = Duration::from_secs(1);

fn revocation(url: &str, local_cache: Duration) -> RedisRevocation {
    let store = RedisStore::open(url).unwrap();
    RedisRevocation::builder(store)
        .local_cache(local_cache)
        .build()
}

/// One application instance: its own issuer and authenticator (same key),
/// its own connection to the shared Redis.
fn instance(url: &str) -> TokenIssuer {
    TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer("https://auth.example")
        .revocation(revocation(url, LOCAL_CACHE))
        .build()
        .unwrap()
}

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

async fn serve_instance(issuer: &TokenIssuer) -> SocketAddr {
    let auth = issuer.authenticator_builder().build().unwrap();
    serve(Router::new().route("/me", get(me).layer(auth.layer()))).await
}

fn sid_of(token: &str) -> String {
    segment(token, 1)["sid"].as_str().unwrap().to_owned()
}

/// Polls `/me` until it answers `status`, for at most `within`; returns how
/// long it took.
async fn until_status(addr: SocketAddr, token: &str, status: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let r = fetch_bearer(addr, "/me", token).await;
        if r.status == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "/me still answers {} (wanted {status}) after {within:?}",
            r.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn logout_on_one_instance_is_rejected_on_the_other_within_the_bound() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis.url()), instance(&redis.url()));
    let (addr_a, addr_b) = (serve_instance(&a).await, serve_instance(&b).await);
    let pair = a.issue("alice", &()).unwrap();
    // Both instances accept it, and B has the answer in its local cache.
    assert_eq!(
        fetch_bearer(addr_a, "/me", &pair.access_token).await.status,
        200
    );
    assert_eq!(
        fetch_bearer(addr_b, "/me", &pair.access_token).await.status,
        200
    );

    a.revoke_session(&sid_of(&pair.access_token)).await.unwrap();
    let logout_at = Instant::now();
    // Immediate on the instance that revoked.
    let r = fetch_bearer(addr_a, "/me", &pair.access_token).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("the token has been revoked"), "{}", r.www);
    // On the other: within the local cache's lifetime (plus scheduling
    // slack on a shared machine); the promised bound is 2 s.
    until_status(addr_b, &pair.access_token, 401, Duration::from_secs(2)).await;
    assert!(logout_at.elapsed() <= Duration::from_secs(2) + Duration::from_millis(500));
    // The key lives in Redis with a TTL, not forever.
    let key = format!("tower-jwt-auth:sid:{}", sid_of(&pair.access_token));
    let ttl: i64 = redis.command(&["TTL", &key]).parse().unwrap();
    assert!(ttl > 86_000 && ttl <= 86_400 + 300, "ttl {ttl}");
}

#[tokio::test]
async fn without_local_cache_the_other_instance_rejects_at_once() {
    let redis = RedisServer::start();
    let issuer = instance(&redis.url());
    let other = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer("https://auth.example")
        .revocation(revocation(&redis.url(), Duration::ZERO))
        .build()
        .unwrap();
    let addr = serve_instance(&other).await;
    let pair = issuer.issue("alice", &()).unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        200
    );
    issuer
        .revoke_session(&sid_of(&pair.access_token))
        .await
        .unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        401
    );
}

#[tokio::test]
async fn redis_outage_fails_closed_with_503_then_recovers() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let issuer = instance(&redis.url());
    let addr = serve_instance(&issuer).await;
    let pair = issuer.issue("alice", &()).unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        200
    );

    redis.kill();
    // Once the local answer is older than the cache lifetime: 503, never 200.
    tokio::time::sleep(LOCAL_CACHE).await;
    for _ in 0..3 {
        let r = fetch_bearer(addr, "/me", &pair.access_token).await;
        assert_eq!(r.status, 503, "a token that may be revoked is not accepted");
        assert!(!r.body.contains(&pair.access_token));
    }
    // The sync path refuses too, and the refresh exchange answers
    // "unavailable", not "invalid".
    let auth = issuer.authenticator_builder().build().unwrap();
    assert_eq!(
        auth.verifier()
            .verify_async(&pair.access_token)
            .await
            .unwrap_err()
            .kind(),
        AuthErrorKind::RevocationUnavailable
    );
    assert!(matches!(
        issuer.refresh(&pair.refresh_token).await,
        Err(RefreshError::Unavailable(_))
    ));

    // Redis returns (empty: it kept nothing): the instance recovers by itself.
    let _redis = RedisServer::start_on(port);
    until_status(addr, &pair.access_token, 200, Duration::from_secs(10)).await;
    assert!(issuer.refresh(&pair.refresh_token).await.is_ok());
}

#[tokio::test]
async fn fail_open_is_an_explicit_choice_that_accepts_during_an_outage() {
    let mut redis = RedisServer::start();
    let store = RedisStore::open(&redis.url()).unwrap();
    let open = RedisRevocation::builder(store)
        .local_cache(Duration::ZERO)
        .danger_fail_open()
        .build();
    let t = TokenRef {
        jti: Some("j"),
        ..TokenRef::default()
    };
    assert!(!open.is_revoked(&t).await.unwrap());
    redis.kill();
    assert!(
        !open.is_revoked(&t).await.unwrap(),
        "fail open: not revoked"
    );
    // Revoking still fails: nothing pretends to have recorded it.
    assert!(matches!(
        open.revoke_token("j", u64::MAX / 2).await,
        Err(RevocationError::Unavailable(_))
    ));
}

#[tokio::test]
async fn redis_down_at_start_is_503_not_a_startup_crash() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let issuer = instance(&url);
    let addr = serve_instance(&issuer).await;
    let pair = issuer.issue("alice", &()).unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        503
    );
    let _redis = RedisServer::start_on(port);
    until_status(addr, &pair.access_token, 200, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn rotation_and_reuse_detection_work_across_instances() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis.url()), instance(&redis.url()));
    let first = a.issue("alice", &()).unwrap();
    let second = b.refresh(&first.refresh_token).await.unwrap();
    // The stolen first refresh token replayed on the other instance.
    assert!(matches!(
        a.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    // The family is dead everywhere, the pair from the rotation included.
    let addr_b = serve_instance(&b).await;
    until_status(addr_b, &second.access_token, 401, Duration::from_secs(2)).await;
    assert!(matches!(
        b.refresh(&second.refresh_token).await,
        Err(RefreshError::Revoked)
    ));
}

#[tokio::test]
async fn concurrent_refreshes_across_instances_let_exactly_one_win() {
    let redis = RedisServer::start();
    let issuers: Vec<_> = (0..4).map(|_| instance(&redis.url())).collect();
    let pair = issuers[0].issue("alice", &()).unwrap();
    assert_eq!(refresh_winners(&issuers, &pair.refresh_token, 8).await, 1);
}

#[tokio::test]
async fn revoked_entries_expire_in_redis() {
    let redis = RedisServer::start();
    let store = RedisStore::open(&redis.url()).unwrap();
    let list = RedisRevocation::builder(store)
        .local_cache(Duration::ZERO)
        .grace(Duration::ZERO)
        .build();
    let now = now();
    assert!(list.revoke_token("short-lived", now + 2).await.unwrap());
    assert!(!list.revoke_token("short-lived", now + 2).await.unwrap());
    let t = TokenRef {
        jti: Some("short-lived"),
        ..TokenRef::default()
    };
    assert!(list.is_revoked(&t).await.unwrap());
    let ttl: i64 = redis
        .command(&["TTL", "tower-jwt-auth:jti:short-lived"])
        .parse()
        .unwrap();
    assert!((1..=2).contains(&ttl), "ttl {ttl}");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        redis.command(&["EXISTS", "tower-jwt-auth:jti:short-lived"]),
        "0"
    );
    assert!(!list.is_revoked(&t).await.unwrap());
}

#[tokio::test]
async fn logout_everywhere_through_redis_keeps_the_latest_cutoff() {
    let redis = RedisServer::start();
    let (a, b) = (instance(&redis.url()), instance(&redis.url()));
    let pair = a.issue("alice", &()).unwrap();
    let bob = a.issue("bob", &()).unwrap();
    b.revoke_subject("alice").await.unwrap();
    // An earlier cut-off never replaces a later one.
    b.revocation()
        .revoke_subject("alice", 1, u64::MAX / 2)
        .await
        .unwrap();
    let auth_a = a.authenticator_builder().build().unwrap();
    let kind = auth_a
        .verifier()
        .verify_async(&pair.access_token)
        .await
        .unwrap_err()
        .kind();
    assert_eq!(kind, AuthErrorKind::Revoked);
    assert!(auth_a
        .verifier()
        .verify_async(&bob.access_token)
        .await
        .is_ok());
}

#[test]
fn opening_a_store_outside_a_runtime_is_an_error_not_a_panic() {
    assert!(matches!(
        RedisStore::open("redis://127.0.0.1:1"),
        Err(RevocationError::Config(_))
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        assert!(matches!(
            RedisStore::open("not a url"),
            Err(RevocationError::Config(_))
        ));
    });
}

#[tokio::test]
async fn debug_of_the_store_hides_the_redis_password() {
    let store = RedisStore::open("redis://:hunter2-redis-password@127.0.0.1:1").unwrap();
    let list = RedisRevocation::builder(store.clone()).build();
    for dbg in [format!("{store:?}"), format!("{list:?}")] {
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
    // Nor in the error when it cannot connect.
    let err = store.ping().await.unwrap_err().to_string();
    assert!(!err.contains("hunter2"), "{err}");
}

/// Finding 5: a lookup in flight when this instance revokes must not write
/// its older "not revoked" answer over the revocation in the local cache.
/// The lookup is held in flight (Redis paused, then its answer left
/// unread) while the same instance revokes; once it completes, the local
/// answer must still be "revoked".
#[tokio::test]
async fn a_lookup_in_flight_never_undoes_this_instances_revocation() {
    let redis = RedisServer::start();
    let list = revocation(&redis.url(), LOCAL_CACHE);
    list.store().ping().await.unwrap();
    let far = now() + 3600;
    for kind in ["jti", "sid", "sub"] {
        let name = format!("{kind}-in-flight");
        let t = TokenRef {
            jti: (kind == "jti").then_some(name.as_str()),
            sid: (kind == "sid").then_some(name.as_str()),
            sub: (kind == "sub").then_some(name.as_str()),
            iat: Some(now() - 10),
            exp: Some(far),
        };
        // The lookup starts and waits on a paused Redis.
        assert_eq!(redis.command(&["CLIENT", "PAUSE", "300", "ALL"]), "OK");
        let mut lookup = list.is_revoked(&t);
        assert!(
            tokio::time::timeout(Duration::from_millis(100), &mut lookup)
                .await
                .is_err(),
            "the lookup is in flight"
        );
        // Meanwhile this instance revokes (answered once Redis resumes,
        // after the lookup's older answer).
        match kind {
            "jti" => assert!(list.revoke_token(&name, far).await.unwrap()),
            "sid" => list.revoke_family(&name, far).await.unwrap(),
            _ => list.revoke_subject(&name, now() + 1, far).await.unwrap(),
        }
        // The lookup completes with the answer it started with...
        let _ = lookup.await.unwrap();
        // ...and the token is refused at once, from the local cache too.
        assert!(
            matches!(list.is_revoked_now(&t), Some(Ok(true)) | None),
            "{kind}: the local cache undid this instance's revocation: {:?}",
            list.is_revoked_now(&t)
        );
        assert!(list.is_revoked(&t).await.unwrap(), "{kind}");
    }
}

/// Finding 8: the first request after a Redis restart met the connection
/// the restart broke and failed (503 / an error). Idempotent commands are
/// retried once on a fresh connection within the store's timeout.
#[tokio::test]
async fn the_first_request_after_a_redis_restart_succeeds() {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let list = revocation(&redis.url(), Duration::ZERO);
    let far = now() + 3600;
    assert!(list.revoke_token("before", far).await.unwrap());

    // Each operation, first thing after a restart, on the first try.
    for (i, op) in [
        "revoke_token",
        "revoke_family",
        "revoke_subject",
        "is_revoked",
    ]
    .into_iter()
    .enumerate()
    {
        redis.kill();
        redis = RedisServer::start_on(port);
        let jti = format!("after-{i}");
        let r = match op {
            "revoke_token" => list.revoke_token(&jti, far).await.map(|fresh| {
                assert!(fresh, "the retried SET NX counts as this call's");
            }),
            "revoke_family" => list.revoke_family(&jti, far).await,
            "revoke_subject" => list.revoke_subject(&jti, now(), far).await,
            _ => {
                let token = TokenRef {
                    jti: Some(&jti),
                    sid: Some("restart-sid"),
                    sub: Some("restart-sub"),
                    iat: Some(now()),
                    exp: Some(far),
                };
                list.is_revoked(&token).await.map(|revoked| {
                    assert!(!revoked, "an empty Redis revoked nothing");
                })
            }
        };
        assert!(r.is_ok(), "{op} after a restart: {r:?}");
    }

    // Through HTTP: the first request after a restart is answered 200.
    let issuer = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer("https://auth.example")
        .revocation(list)
        .build()
        .unwrap();
    let addr = serve_instance(&issuer).await;
    let pair = issuer.issue("alice", &()).unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        200
    );
    redis.kill();
    let _redis = RedisServer::start_on(port);
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        200,
        "the first request after a restart"
    );
    assert!(issuer.refresh(&pair.refresh_token).await.is_ok());
}

/// Finding 9c: Redis TTLs were capped at ten years, so a token with a later
/// `exp` became valid again once its entry expired. Beyond the cap the
/// entry is kept without expiry.
#[tokio::test]
async fn revocations_of_tokens_living_beyond_ten_years_never_expire() {
    let redis = RedisServer::start();
    let list = revocation(&redis.url(), Duration::ZERO);
    let far = now() + 20 * 365 * 86_400;
    let soon = now() + 3600;
    assert!(list.revoke_token("forever", far).await.unwrap());
    list.revoke_family("forever", far).await.unwrap();
    list.revoke_subject("forever", now(), far).await.unwrap();
    // A later, shorter-lived cut-off keeps the subject entry persistent.
    list.revoke_subject("forever", now() + 1, soon)
        .await
        .unwrap();
    for key in ["jti:forever", "sid:forever", "sub:forever"] {
        let ttl = redis.command(&["TTL", &format!("tower-jwt-auth:{key}")]);
        assert_eq!(ttl, "-1", "{key}: kept without expiry, not for ten years");
    }
    let t = TokenRef {
        jti: Some("forever"),
        ..TokenRef::default()
    };
    assert!(list.is_revoked(&t).await.unwrap());
    // The subject entry holds the later cut-off.
    let cutoff: u64 = redis
        .command(&["GET", "tower-jwt-auth:sub:forever"])
        .parse()
        .unwrap();
    assert!(cutoff > now() - 5, "{cutoff}");
    // Ordinary lifetimes keep their TTL.
    list.revoke_family("ordinary", soon).await.unwrap();
    let ttl: i64 = redis
        .command(&["TTL", "tower-jwt-auth:sid:ordinary"])
        .parse()
        .unwrap();
    assert!(ttl > 3500 && ttl <= 3600 + 300, "ttl {ttl}");
    list.revoke_subject("ordinary", now(), soon).await.unwrap();
    let ttl: i64 = redis
        .command(&["TTL", "tower-jwt-auth:sub:ordinary"])
        .parse()
        .unwrap();
    assert!(ttl > 3500 && ttl <= 3600 + 300, "ttl {ttl}");
}

/// A [`RedisRevocation`] that pauses its redis-server (`CLIENT PAUSE ALL`)
/// right after an armed spend, so that the exchange's next command, the
/// session check after the spend, times out against the real Redis.
#[derive(Clone)]
struct PauseAfterSpend {
    inner: RedisRevocation,
    redis: Arc<RedisServer>,
    armed: Arc<AtomicBool>,
}

impl std::fmt::Debug for PauseAfterSpend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PauseAfterSpend").finish_non_exhaustive()
    }
}

impl Revocation for PauseAfterSpend {
    fn is_revoked<'a>(
        &'a self,
        token: &'a TokenRef<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        self.inner.is_revoked(token)
    }

    fn is_revoked_now(&self, token: &TokenRef<'_>) -> Option<Result<bool, RevocationError>> {
        self.inner.is_revoked_now(token)
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        self.inner.revoke_token(jti, expires_at)
    }

    fn spend_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let spent = self.inner.spend_refresh(spend).await;
            if self.armed.swap(false, Ordering::SeqCst) {
                assert_eq!(
                    self.redis.command(&["CLIENT", "PAUSE", PAUSE_MS, "ALL"]),
                    "OK"
                );
            }
            spent
        })
    }

    fn confirm_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        self.inner.confirm_refresh(spend)
    }

    fn revoke_family<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        self.inner.revoke_family(sid, expires_at)
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: u64,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        self.inner.revoke_subject(sub, issued_before, expires_at)
    }
}

/// How long the tests below pause Redis: longer than the store's 1 s
/// timeout, so the paused command fails, and then Redis runs it.
const PAUSE_MS: &str = "1500";

fn pausing_instance(
    redis: &Arc<RedisServer>,
    clock: &Arc<FixedClock>,
) -> (TokenIssuer, Arc<AtomicBool>) {
    let armed = Arc::new(AtomicBool::new(false));
    let store = PauseAfterSpend {
        inner: revocation(&redis.url(), LOCAL_CACHE),
        redis: redis.clone(),
        armed: armed.clone(),
    };
    let issuer = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer("https://auth.example")
        .clock(clock.clone())
        .revocation(store)
        .build()
        .unwrap();
    (issuer, armed)
}

/// Waits until the paused Redis answers again.
async fn until_unpaused() {
    tokio::time::sleep(Duration::from_millis(1700)).await;
}

/// Issue 24, finding 6, with a real Redis: the session check after the
/// spend times out (Redis paused), so the exchange answers "unavailable"
/// and returns no pair. The client's retry with the same token gets a new
/// pair, the session stays alive on every instance; the old token
/// replayed after that retry succeeded is reuse and revokes the family.
#[tokio::test]
async fn a_redis_timeout_after_the_spend_does_not_turn_the_retry_into_reuse() {
    let redis = Arc::new(RedisServer::start());
    let clock = Arc::new(FixedClock::new(now()));
    let (issuer, armed) = pausing_instance(&redis, &clock);
    let other = instance(&redis.url());
    let auth = other.authenticator_builder().build().unwrap();
    let first = issuer.issue("alice", &()).unwrap();

    armed.store(true, Ordering::SeqCst);
    let failed = issuer.refresh(&first.refresh_token).await;
    assert!(
        matches!(failed, Err(RefreshError::Unavailable(_))),
        "{failed:?}"
    );
    until_unpaused().await;
    let retried = match issuer.refresh(&first.refresh_token).await {
        Ok(pair) => pair,
        Err(e) => panic!("the client's retry after a Redis timeout: {e:?}"),
    };
    assert!(auth
        .verifier()
        .verify_async(&retried.access_token)
        .await
        .is_ok());
    let third = other.refresh(&retried.refresh_token).await.unwrap();
    assert!(auth
        .verifier()
        .verify_async(&third.access_token)
        .await
        .is_ok());

    // The first token replayed on the other instance: reuse.
    assert!(matches!(
        other.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    let kind = auth
        .verifier()
        .verify_async(&third.access_token)
        .await
        .unwrap_err()
        .kind();
    assert_eq!(kind, AuthErrorKind::Revoked);
}

/// Issue 24, finding 6, with a real Redis: Redis is paused for writes, so
/// the spend times out, and Redis applies it once it resumes (the reply
/// is lost). The retry is not reuse; after it, and after the grace, the
/// token presented again is.
#[tokio::test]
async fn a_lost_reply_to_the_spend_does_not_turn_the_retry_into_reuse() {
    let redis = Arc::new(RedisServer::start());
    let clock = Arc::new(FixedClock::new(now()));
    let (issuer, _) = pausing_instance(&redis, &clock);
    let auth = issuer.authenticator_builder().build().unwrap();
    // Another session's exchange first loads the spend script into Redis.
    let warm = issuer.issue("bob", &()).unwrap();
    issuer.refresh(&warm.refresh_token).await.unwrap();

    let first = issuer.issue("alice", &()).unwrap();
    assert_eq!(redis.command(&["CLIENT", "PAUSE", PAUSE_MS, "WRITE"]), "OK");
    let failed = issuer.refresh(&first.refresh_token).await;
    assert!(
        matches!(failed, Err(RefreshError::Unavailable(_))),
        "{failed:?}"
    );
    until_unpaused().await;
    let key = format!("tower-jwt-auth:refresh:{}", sid_of(&first.refresh_token));
    assert_eq!(
        redis.command(&["EXISTS", &key]),
        "1",
        "Redis applied the spend"
    );

    let retried = match issuer.refresh(&first.refresh_token).await {
        Ok(pair) => pair,
        Err(e) => panic!("the client's retry after a lost reply: {e:?}"),
    };
    assert!(auth
        .verifier()
        .verify_async(&retried.access_token)
        .await
        .is_ok());
    assert!(matches!(
        issuer.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    assert!(auth
        .verifier()
        .verify_async(&retried.access_token)
        .await
        .is_err());

    // A failed exchange retried only after the grace (30 s): reuse.
    let pair = issuer.issue("carol", &()).unwrap();
    assert_eq!(redis.command(&["CLIENT", "PAUSE", PAUSE_MS, "WRITE"]), "OK");
    assert!(issuer.refresh(&pair.refresh_token).await.is_err());
    until_unpaused().await;
    clock.advance(Duration::from_secs(30));
    assert!(matches!(
        issuer.refresh(&pair.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    assert!(auth
        .verifier()
        .verify_async(&pair.access_token)
        .await
        .is_err());
}
