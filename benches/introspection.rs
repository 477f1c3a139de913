//! An introspected (opaque) token found in the introspection cache costs
//! about what a JWT found in the verified-token cache costs: both run the
//! same security sequence on stored claims, and neither waits on the
//! network. Run with:
//!
//!     cargo bench --features remote --bench introspection
//!
//! Group `cache_hit`, `Verifier::verify` on one repeated token:
//! - `jwt_hs256`: a JWT (HS256) verified before;
//! - `introspected`: an opaque token answered before by an RFC 7662
//!   endpoint on 127.0.0.1 (introspection only, no keys);
//! - `introspected_with_keys`: the same with an HMAC key configured too, so
//!   each call first checks that the token is not a JWS compact token.
//!
//! Both tokens carry the same claims.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::post;
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use tower_jwt_auth::{remote::Introspection, Authenticator};

const SECRET: &str = "bench-secret-bench-secret-bench-secret!";
/// The length of a typical opaque access token (ZITADEL, Hydra: 40–100).
const OPAQUE: &str = "ory_at_3q2-7wEmSx1rVbXmU3kcOq7n0Wq8kYfZ4p1rT6yHcGvJ2aLdN5eMbQ9sXuI0oA";

fn claims() -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({"sub": "bench", "exp": now + 3600, "scope": "read write", "aud": "api"})
}

fn cache_hit(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let endpoint = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut answer = claims();
        answer["active"] = json!(true);
        let app = axum::Router::new().route(
            "/introspect",
            post(move || async move { axum::Json(answer) }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/introspect")
    });
    let jwt_auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .audience(["api"])
        .build()
        .unwrap();
    let jwt = encode(
        &Header::default(),
        &claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let introspecting = |keys: bool| {
        let mut builder = Authenticator::builder()
            .audience(["api"])
            .introspection(Introspection::endpoint(&endpoint));
        if keys {
            builder = builder.hmac_secret(SECRET);
        }
        runtime.block_on(async {
            let auth = builder.build_async().await.unwrap();
            // The first call asks the endpoint; the next ones hit the cache.
            auth.verifier().verify_async(OPAQUE).await.unwrap();
            auth
        })
    };
    let opaque_only = introspecting(false);
    let with_keys = introspecting(true);
    jwt_auth.verifier().verify(&jwt).unwrap();

    let mut g = c.benchmark_group("cache_hit");
    g.bench_function("jwt_hs256", |b| {
        b.iter(|| jwt_auth.verifier().verify(black_box(&jwt)).unwrap())
    });
    g.bench_function("introspected", |b| {
        b.iter(|| opaque_only.verifier().verify(black_box(OPAQUE)).unwrap())
    });
    g.bench_function("introspected_with_keys", |b| {
        b.iter(|| with_keys.verifier().verify(black_box(OPAQUE)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = cache_hit
}
criterion_main!(benches);
