//! Verification cost against raw jsonwebtoken, per algorithm, in one run:
//!
//!     cargo bench --bench verify
//!
//! Groups, one per algorithm (HS256, RS256, PS256, ES256, ES384, EdDSA):
//! - `jsonwebtoken_decode`: `jsonwebtoken::decode::<Value>` (signature and its
//!   default validation) of the 4,000 tokens `verifier_miss` cycles, the
//!   baseline;
//! - `verifier_miss`: `Verifier::verify` of tokens it has not seen (4,000
//!   distinct tokens cycled through a 1-token cache, so no call can hit: a
//!   larger cache keeps some of a cycle, as CLOCK-Pro promotes re-seen
//!   keys, and the row would mix hits in; every call parses,
//!   verifies the signature, and inserts);
//! - `verifier_uncached`: the same tokens with the cache off (the
//!   difference is the cache's bookkeeping on a miss);
//! - `verifier_hit`: `Verifier::verify` of one repeated token;
//! - `layer_hit` / `layer_uncached`: a whole `JwtAuth` call through
//!   `tower::ServiceExt::oneshot` around a no-op service;
//! - `service_alone`: the same request and call without the layer (the
//!   part of the layer rows that is not the layer's).
//!
//! Group `cache_contention`: HS256 misses (verify + insert) from 1 and 2
//! threads into one shared cache; the raw insert of candidate cache crates
//! under contention is in bench/cache-choice.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use tower::{service_fn, Layer, ServiceExt};
use tower_jwt_auth::{Authenticator, AuthenticatorBuilder};

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!!";
const MISS_TOKENS: usize = 4_000;
const MISS_CAPACITY: usize = 1;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

struct Case {
    alg: Algorithm,
    enc: EncodingKey,
    dec: DecodingKey,
    builder: fn() -> AuthenticatorBuilder,
}

fn pem_builder(name: &'static str) -> AuthenticatorBuilder {
    Authenticator::builder()
        .public_key_pem(fixture(name))
        .unwrap()
}

fn cases() -> Vec<Case> {
    let rsa_enc = || EncodingKey::from_rsa_pem(&fixture("rsa2048_private.pem")).unwrap();
    let rsa_dec = || DecodingKey::from_rsa_pem(&fixture("rsa2048_public.pem")).unwrap();
    vec![
        Case {
            alg: Algorithm::HS256,
            enc: EncodingKey::from_secret(SECRET),
            dec: DecodingKey::from_secret(SECRET),
            builder: || Authenticator::builder().hmac_secret(SECRET),
        },
        Case {
            alg: Algorithm::RS256,
            enc: rsa_enc(),
            dec: rsa_dec(),
            builder: || pem_builder("rsa2048_public.pem"),
        },
        Case {
            alg: Algorithm::PS256,
            enc: rsa_enc(),
            dec: rsa_dec(),
            builder: || pem_builder("rsa2048_public.pem"),
        },
        Case {
            alg: Algorithm::ES256,
            enc: EncodingKey::from_ec_pem(&fixture("ec256_private.pem")).unwrap(),
            dec: DecodingKey::from_ec_pem(&fixture("ec256_public.pem")).unwrap(),
            builder: || pem_builder("ec256_public.pem"),
        },
        Case {
            alg: Algorithm::ES384,
            enc: EncodingKey::from_ec_pem(&fixture("ec384_private.pem")).unwrap(),
            dec: DecodingKey::from_ec_pem(&fixture("ec384_public.pem")).unwrap(),
            builder: || pem_builder("ec384_public.pem"),
        },
        Case {
            alg: Algorithm::EdDSA,
            enc: EncodingKey::from_ed_pem(&fixture("ed25519_private.pem")).unwrap(),
            dec: DecodingKey::from_ed_pem(&fixture("ed25519_public.pem")).unwrap(),
            builder: || pem_builder("ed25519_public.pem"),
        },
    ]
}

fn claims(i: usize) -> Value {
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    json!({"sub": format!("user-{i}"), "iss": "https://issuer", "scope": "read write", "iat": exp - 3600, "exp": exp})
}

fn noop() -> impl tower::Service<
    Request<()>,
    Response = Response<()>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<()>, Infallible>>,
> + Clone {
    service_fn(|_req: Request<()>| std::future::ready(Ok::<_, Infallible>(Response::new(()))))
}

/// One request carrying `authorization`, built and sent through a clone of
/// `svc` as a server would (what every layer row and `service_alone` time).
fn call<S>(rt: &tokio::runtime::Runtime, svc: &S, authorization: &str)
where
    S: tower::Service<Request<()>, Response = Response<()>> + Clone,
    S::Error: std::fmt::Debug,
{
    let req = Request::builder()
        .header("authorization", authorization)
        .body(())
        .unwrap();
    let res = rt.block_on(svc.clone().oneshot(req)).unwrap();
    assert_eq!(res.status(), 200);
}

fn per_alg(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for case in cases() {
        // Building one authenticator installs jsonwebtoken's provider when
        // both backends are compiled in.
        let hit_auth = (case.builder)().build().unwrap();
        let header = Header::new(case.alg);
        let token = encode(&header, &claims(0), &case.enc).unwrap();
        let mut group = c.benchmark_group(format!("{:?}", case.alg));

        // The baseline and the two verifier rows below cycle through the
        // same distinct tokens: an ECDSA verification's time varies with
        // the signature, so one repeated token would favour one row.
        let misses: Vec<String> = (0..MISS_TOKENS)
            .map(|i| encode(&header, &claims(i), &case.enc).unwrap())
            .collect();
        let mut validation = Validation::new(case.alg);
        validation.validate_aud = false;
        let mut next = 0;
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| {
                next = (next + 1) % misses.len();
                decode::<Value>(black_box(&misses[next]), &case.dec, &validation).unwrap()
            })
        });
        let miss_auth = (case.builder)()
            .cache_capacity(MISS_CAPACITY)
            .build()
            .unwrap();
        group.bench_function("verifier_miss", |b| {
            b.iter(|| {
                next = (next + 1) % misses.len();
                miss_auth
                    .verifier()
                    .verify(black_box(&misses[next]))
                    .unwrap()
            })
        });
        // The same distinct tokens with the cache off: the difference to
        // `verifier_miss` is the cache's bookkeeping on a miss (lookup,
        // entry, insert, eviction).
        let uncached = (case.builder)().without_cache().build().unwrap();
        group.bench_function("verifier_uncached", |b| {
            b.iter(|| {
                next = (next + 1) % misses.len();
                uncached
                    .verifier()
                    .verify(black_box(&misses[next]))
                    .unwrap()
            })
        });
        hit_auth.verifier().verify(&token).unwrap();
        group.bench_function("verifier_hit", |b| {
            b.iter(|| hit_auth.verifier().verify(black_box(&token)).unwrap())
        });

        let bearer = format!("Bearer {token}");
        // The same request and runtime call without the layer: what the
        // layer rows cost beyond it is the layer's own.
        let bare = noop();
        group.bench_function("service_alone", |b| b.iter(|| call(&rt, &bare, &bearer)));
        for (name, auth) in [("layer_hit", &hit_auth), ("layer_uncached", &uncached)] {
            let svc = auth.layer().layer(noop());
            group.bench_function(name, |b| b.iter(|| call(&rt, &svc, &bearer)));
        }
        group.finish();
    }
}

/// `threads` threads verifying (and so inserting) their own distinct
/// tokens in one shared cache; the time per verification.
fn contended(auth: &Authenticator, tokens: &[String], threads: usize, iters: u64) -> Duration {
    let per = tokens.len() / threads;
    let start = Instant::now();
    for _ in 0..iters {
        std::thread::scope(|s| {
            for chunk in tokens.chunks(per) {
                s.spawn(move || {
                    for t in chunk {
                        black_box(auth.verifier().verify(t).unwrap());
                    }
                });
            }
        });
    }
    start.elapsed() / tokens.len() as u32
}

fn contention(c: &mut Criterion) {
    let enc = EncodingKey::from_secret(SECRET);
    let tokens: Vec<String> = (0..20_000)
        .map(|i| encode(&Header::new(Algorithm::HS256), &claims(i), &enc).unwrap())
        .collect();
    let mut group = c.benchmark_group("cache_contention");
    group.sample_size(10);
    for threads in [1, 2] {
        // Capacity below the token count: the cache is full and evicting.
        let auth = Authenticator::builder()
            .hmac_secret(SECRET)
            .cache_capacity(5_000)
            .build()
            .unwrap();
        group.bench_function(format!("hs256_miss_insert_{threads}_threads"), |b| {
            b.iter_custom(|n| contended(&auth, &tokens, threads, n))
        });
    }
    group.finish();
}

criterion_group!(benches, per_alg, contention);
criterion_main!(benches);
