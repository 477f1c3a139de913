//! What DPoP (RFC 9449) adds to a request, in one run:
//!
//!     cargo bench --bench dpop
//!
//! A whole `JwtAuth` call around a no-op service, no network, with the same
//! ES256 access token verifier: `Bearer` (the baseline), then `DPoP` with an
//! ES256 proof and with an EdDSA proof (proof parsing, key import, signature,
//! `htm`/`htu`/`iat`/`ath` checks, the RFC 7638 thumbprint against
//! `cnf.jkt`, the in-memory replay store), and with server nonces on too.
//! Every iteration sends a fresh proof (a new `jti`, or the replay store
//! would refuse it); signing it is the client's work and is done outside the
//! timed part (`iter_batched`). Last, the thumbprint alone.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{Request, Response};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_jwt_auth::Authenticator;
use tower_jwt_auth::{dpop::jwk_thumbprint, dpop::DpopConfig, dpop::DpopMode};

const ORIGIN: &str = "https://api.example";
const PATH: &str = "/me";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A client's proof key and its public JWK.
struct ProofKey {
    alg: Algorithm,
    private: EncodingKey,
    jwk: Jwk,
    jkt: String,
}

fn proof_key(alg: Algorithm, pem: &str) -> ProofKey {
    let private = match alg {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&fixture(pem)).unwrap(),
        _ => EncodingKey::from_ec_pem(&fixture(pem)).unwrap(),
    };
    let jwk = Jwk::from_encoding_key(&private, alg).unwrap();
    let value = serde_json::to_value(&jwk).unwrap();
    let jkt = jwk_thumbprint(value.as_object().unwrap()).unwrap();
    ProofKey {
        alg,
        private,
        jwk,
        jkt,
    }
}

/// A fresh proof for `GET /me` with `token`.
fn proof(key: &ProofKey, token: &str, nonce: Option<&str>) -> String {
    use sha2::Digest as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static JTI: AtomicU64 = AtomicU64::new(0);

    let mut header = Header::new(key.alg);
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(key.jwk.clone());
    let ath = base64_url(&sha2::Sha256::digest(token.as_bytes()));
    let mut claims = json!({
        "jti": format!("bench-{}", JTI.fetch_add(1, Ordering::Relaxed)),
        "htm": "GET",
        "htu": format!("{ORIGIN}{PATH}"),
        "iat": jsonwebtoken::get_current_timestamp(),
        "ath": ath,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = Value::from(nonce);
    }
    encode(&header, &claims, &key.private).unwrap()
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn access_token(enc: &EncodingKey, jkt: Option<&str>) -> String {
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let mut claims = json!({"sub": "user-1", "scope": "read write", "iat": exp - 3600, "exp": exp});
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({ "jkt": jkt });
    }
    encode(&Header::new(Algorithm::ES256), &claims, enc).unwrap()
}

fn authenticator(nonces: bool) -> Authenticator {
    let mut config = DpopConfig::new(DpopMode::Allowed).public_url(ORIGIN);
    if nonces {
        config = config.nonces(Duration::from_secs(300));
    }
    Authenticator::builder()
        .public_key_pem(fixture("ec256_public.pem"))
        .unwrap()
        .dpop(config)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let issuer = EncodingKey::from_ec_pem(&fixture("ec256_private.pem")).unwrap();
    let es256 = proof_key(Algorithm::ES256, "ec256_private.pem");
    let eddsa = proof_key(Algorithm::EdDSA, "ed25519_private.pem");

    let mut group = c.benchmark_group("dpop_layer_ES256_token");
    let auth = authenticator(false);
    let mut svc = ServiceBuilder::new()
        .layer(auth.layer())
        .service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let mut call = |req: Request<()>| {
        rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() })
    };

    let bearer = format!("Bearer {}", access_token(&issuer, None));
    group.bench_function("bearer", |b| {
        b.iter(|| {
            let req = Request::get(PATH)
                .header("authorization", bearer.as_str())
                .body(())
                .unwrap();
            assert_eq!(call(req).status(), 200);
        })
    });

    for key in [&es256, &eddsa] {
        let token = access_token(&issuer, Some(&key.jkt));
        let authorization = format!("DPoP {token}");
        group.bench_function(format!("dpop_{:?}_proof", key.alg), |b| {
            b.iter_batched(
                || {
                    Request::get(PATH)
                        .header("authorization", authorization.as_str())
                        .header("dpop", proof(key, &token, None))
                        .body(())
                        .unwrap()
                },
                |req| assert_eq!(call(req).status(), 200),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    // Nonces on: each proof carries a server nonce (fetched once from a
    // 401 `use_dpop_nonce`), checked by an HMAC.
    let mut group = c.benchmark_group("dpop_layer_ES256_token_nonces");
    let auth = authenticator(true);
    let mut svc = ServiceBuilder::new()
        .layer(auth.layer())
        .service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let token = access_token(&issuer, Some(&es256.jkt));
    let authorization = format!("DPoP {token}");
    let first = Request::get(PATH)
        .header("authorization", authorization.as_str())
        .header("dpop", proof(&es256, &token, None))
        .body(())
        .unwrap();
    let res = rt.block_on(async { svc.ready().await.unwrap().call(first).await.unwrap() });
    assert_eq!(res.status(), 401);
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    group.bench_function("dpop_ES256_proof_nonce", |b| {
        b.iter_batched(
            || {
                Request::get(PATH)
                    .header("authorization", authorization.as_str())
                    .header("dpop", proof(&es256, &token, Some(&nonce)))
                    .body(())
                    .unwrap()
            },
            |req| {
                let res =
                    rt.block_on(async { svc.ready().await.unwrap().call(req).await.unwrap() });
                assert_eq!(res.status(), 200);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let jwk = serde_json::to_value(&es256.jwk).unwrap();
    let jwk = jwk.as_object().unwrap();
    c.bench_function("jwk_thumbprint_EC_P256", |b| {
        b.iter(|| jwk_thumbprint(black_box(jwk)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
