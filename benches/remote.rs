//! A remote key set (feature `remote`) costs a known `kid` no more than a
//! local one: the keys are loaded from an `ArcSwap` without a lock and never
//! wait on the network. Run with:
//!
//!     cargo bench --features remote --bench remote
//!
//! Compares `Verifier::verify` (ES256, kid `ec256-1`) with the fixture JWK
//! Set loaded locally and fetched from a JWKS server on 127.0.0.1, and the
//! rejection of an unknown `kid` inside the refetch cooldown.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;
use tower_jwt_auth::{remote::RemoteOptions, Authenticator};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn token(kid: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_ec_pem(fixture("ec256_private.pem").as_bytes()).unwrap();
    encode(&header, &json!({"sub": "bench", "exp": now + 3600}), &key).unwrap()
}

fn remote_vs_local(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let jwks = fixture("jwks.json");
    let local = Authenticator::builder()
        .jwk_set(&jwks)
        .unwrap()
        .build()
        .unwrap();
    let remote = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/jwks", get(move || async move { jwks }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Authenticator::builder()
            .jwks_url(format!("http://{addr}/jwks"))
            .remote_options(RemoteOptions::new().unknown_kid_cooldown(Duration::from_secs(3600)))
            .build_async()
            .await
            .unwrap()
    });
    let known = token("ec256-1");
    let unknown = token("not-published");
    // The first unknown kid spends the cooldown's one refetch.
    let _ = runtime.block_on(remote.verifier().verify_async(&unknown));

    let mut g = c.benchmark_group("known_kid_es256");
    g.bench_function("local_jwk_set", |b| {
        b.iter(|| local.verifier().verify(black_box(&known)).unwrap())
    });
    g.bench_function("remote_jwks_url", |b| {
        b.iter(|| remote.verifier().verify(black_box(&known)).unwrap())
    });
    g.finish();
    c.bench_function("remote_unknown_kid_in_cooldown", |b| {
        b.iter(|| remote.verifier().verify(black_box(&unknown)).unwrap_err())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = remote_vs_local
}
criterion_main!(benches);
