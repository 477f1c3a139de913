//! Middleware cost against raw jsonwebtoken, in one run:
//!
//!     cargo bench --bench verify
//!
//! For each algorithm: `jsonwebtoken::decode` (signature + its default
//! validation) as the baseline, `Verifier::verify` (our header, key, claims
//! checks on top), and a whole `JwtAuth` service call (header parsing,
//! verification, extensions, inner service) with no network.

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, Response};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_jwt_auth::Authenticator;

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!!";

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
    auth: Authenticator,
}

fn cases() -> Vec<Case> {
    let hs = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let es = Authenticator::builder()
        .public_key_pem(fixture("ec256_public.pem"))
        .unwrap()
        .build()
        .unwrap();
    let rs = Authenticator::builder()
        .public_key_pem(fixture("rsa2048_public.pem"))
        .unwrap()
        .build()
        .unwrap();
    vec![
        Case {
            alg: Algorithm::HS256,
            enc: EncodingKey::from_secret(SECRET),
            dec: DecodingKey::from_secret(SECRET),
            auth: hs,
        },
        Case {
            alg: Algorithm::ES256,
            enc: EncodingKey::from_ec_pem(&fixture("ec256_private.pem")).unwrap(),
            dec: DecodingKey::from_ec_pem(&fixture("ec256_public.pem")).unwrap(),
            auth: es,
        },
        Case {
            alg: Algorithm::RS256,
            enc: EncodingKey::from_rsa_pem(&fixture("rsa2048_private.pem")).unwrap(),
            dec: DecodingKey::from_rsa_pem(&fixture("rsa2048_public.pem")).unwrap(),
            auth: rs,
        },
    ]
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let claims = json!({"sub": "user-1", "iss": "https://issuer", "scope": "read write", "iat": exp - 3600, "exp": exp});
    for case in cases() {
        let token = encode(&Header::new(case.alg), &claims, &case.enc).unwrap();
        let name = format!("{:?}", case.alg);
        let mut group = c.benchmark_group(name);
        let validation = Validation::new(case.alg);
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| decode::<Value>(black_box(&token), &case.dec, &validation).unwrap())
        });
        let verifier = case.auth.verifier().clone();
        group.bench_function("verifier_verify", |b| {
            b.iter(|| verifier.verify(black_box(&token)).unwrap())
        });
        let mut svc = ServiceBuilder::new()
            .layer(case.auth.layer())
            .service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
        let header = format!("Bearer {token}");
        group.bench_function("layer_call", |b| {
            b.iter(|| {
                let req = Request::builder()
                    .header("authorization", header.as_str())
                    .body(())
                    .unwrap();
                let res =
                    rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() });
                assert_eq!(res.status(), 200);
            })
        });
        group.finish();
    }
}

/// What the per-route options cost on top of a plain HS256 verification
/// (HS256, so the signature does not hide them): the claims type, picking
/// among several issuers, route rules, and a cookie token source.
fn bench_options(c: &mut Criterion) {
    use tower_jwt_auth::{Claims, TokenSource};

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Typed {
        sub: String,
        scope: String,
        exp: u64,
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let claims = json!({"sub": "user-1", "iss": "https://a", "scope": "read write",
        "roles": ["admin"], "iat": exp - 3600, "exp": exp});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let builder = || {
        Authenticator::builder()
            .hmac_secret(SECRET)
            .issuer(["https://a"])
    };
    let mut group = c.benchmark_group("options_HS256");

    let value = builder().build().unwrap();
    let v = value.verifier().clone();
    group.bench_function("verify_value", |b| {
        b.iter(|| v.verify(black_box(&token)).unwrap())
    });
    let raw = builder().raw_claims().build().unwrap();
    let v = raw.verifier().clone();
    group.bench_function("verify_raw_claims", |b| {
        b.iter(|| v.verify(black_box(&token)).unwrap())
    });
    let typed = builder().claims::<Typed>().build().unwrap();
    let v = typed.verifier().clone();
    group.bench_function("verify_typed", |b| {
        b.iter(|| v.verify(black_box(&token)).unwrap())
    });
    let other = Authenticator::builder()
        .hmac_secret(b"another-secret-another-secret-another!!")
        .issuer(["https://b"])
        .build()
        .unwrap();
    let multi = Authenticator::by_issuer([other, builder().build().unwrap()]).unwrap();
    let v = multi.verifier().clone();
    group.bench_function("verify_by_issuer_2", |b| {
        b.iter(|| v.verify(black_box(&token)).unwrap())
    });

    let ok = |_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) };
    let mut call = |name: &str, layer: tower_jwt_auth::JwtAuthLayer, header: (&str, String)| {
        let mut svc = ServiceBuilder::new().layer(layer).service_fn(ok);
        group.bench_function(name, |b| {
            b.iter(|| {
                let req = Request::builder()
                    .header(header.0, header.1.as_str())
                    .body(())
                    .unwrap();
                let res =
                    rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() });
                assert_eq!(res.status(), 200);
            })
        });
    };
    let bearer = ("authorization", format!("Bearer {token}"));
    call("layer_plain", value.layer(), bearer.clone());
    call(
        "layer_scope_role_check",
        value
            .layer()
            .require_any_scope(["write", "admin"])
            .require_role("admin")
            .require(|c: &Claims| {
                if c["sub"].is_string() {
                    Ok(())
                } else {
                    Err(tower_jwt_auth::Denied::new())
                }
            }),
        bearer,
    );
    call(
        "layer_cookie_source",
        value
            .layer()
            .token_sources([TokenSource::authorization(), TokenSource::cookie("at")]),
        ("cookie", format!("theme=dark; at={token}; lang=en")),
    );
    group.finish();
}

criterion_group!(benches, bench, bench_options);
criterion_main!(benches);
