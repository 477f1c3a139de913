//! The cost of the revocation check, in one run:
//!
//!     cargo bench --features redis --bench revocation
//!
//! - `memory`: [`MemoryRevocation`] holding 10 000 revoked tokens, asked
//!   about a token that is not among them (the common case);
//! - `redis/no-local-cache`: [`RedisRevocation`] asking a real
//!   redis-server on loopback every time (one `MGET` round trip);
//! - `redis/local-cache`: the same with the 1 s local cache, answered in
//!   process;
//! - `verify/*`: a whole `Verifier` call (HS256) without revocation, with
//!   the memory list and with Redis behind its local cache, to put the
//!   check in proportion.
//!
//! The Redis cases start their own redis-server on 127.0.0.1 (a free port)
//! and are skipped, with a message, when the binary is missing.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use tower_jwt_auth::issue::TokenIssuer;
use tower_jwt_auth::revocation::{
    MemoryRevocation, RedisRevocation, RedisStore, Revocation, TokenRef,
};
use tower_jwt_auth::Authenticator;

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!!";
const FAR: u64 = 4_000_000_000;

fn token_ref() -> TokenRef<'static> {
    TokenRef {
        jti: Some("Zm9vYmFyYmF6cXV4cXV1eA"),
        sid: Some("c2Vzc2lvbi1pZC0xMjM0NQ"),
        sub: Some("alice"),
        iat: Some(1_800_000_000),
        exp: Some(FAR),
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = token_ref();

    let memory = MemoryRevocation::new();
    rt.block_on(async {
        for i in 0..10_000 {
            memory
                .revoke_token(&format!("revoked-{i}"), FAR)
                .await
                .unwrap();
        }
    });
    c.bench_function("revocation/memory", |b| {
        b.iter(|| black_box(memory.is_revoked_now(black_box(&t))))
    });

    let plain_issuer = TokenIssuer::builder().hmac_secret(SECRET).build().unwrap();
    let token = plain_issuer
        .issue("alice", &json!({"scope": "read"}))
        .unwrap();
    let no_revocation = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let with_memory = plain_issuer.authenticator_builder().build().unwrap();
    c.bench_function("revocation/verify/none", |b| {
        b.iter(|| black_box(no_revocation.verifier().verify(&token.access_token)))
    });
    c.bench_function("revocation/verify/memory", |b| {
        b.iter(|| black_box(with_memory.verifier().verify(&token.access_token)))
    });

    if std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "revocation/redis: skipped, redis-server not found (Debian package redis-server)"
        );
        return;
    }
    let redis = redis_server::RedisServer::start();
    let _guard = rt.enter();
    let uncached = RedisRevocation::builder(RedisStore::open(&redis.url()).unwrap())
        .local_cache(Duration::ZERO)
        .build();
    let cached = RedisRevocation::builder(RedisStore::open(&redis.url()).unwrap())
        .local_cache(Duration::from_secs(1))
        .build();
    rt.block_on(async {
        for i in 0..1_000 {
            uncached
                .revoke_token(&format!("revoked-{i}"), FAR)
                .await
                .unwrap();
        }
        assert!(!uncached.is_revoked(&t).await.unwrap());
    });
    c.bench_function("revocation/redis/no-local-cache", |b| {
        b.iter(|| black_box(rt.block_on(uncached.is_revoked(black_box(&t)))))
    });
    c.bench_function("revocation/redis/local-cache", |b| {
        // A miss refills the cache once a second; the rest are hits.
        b.iter(|| match cached.is_revoked_now(black_box(&t)) {
            Some(answer) => black_box(answer),
            None => black_box(rt.block_on(cached.is_revoked(&t))),
        })
    });

    let redis_issuer = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .revocation(cached.clone())
        .build()
        .unwrap();
    let with_redis = redis_issuer.authenticator_builder().build().unwrap();
    let token = redis_issuer
        .issue("alice", &json!({"scope": "read"}))
        .unwrap();
    c.bench_function("revocation/verify/redis-local-cache", |b| {
        b.iter(|| black_box(rt.block_on(with_redis.verifier().verify_async(&token.access_token))))
    });
    drop(redis);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
