//! DPoP (RFC 9449) through the real layer: an axum server on 127.0.0.1, a
//! reqwest client, proofs signed by jsonwebtoken. Each rejection test breaks
//! exactly one thing in a request that is otherwise accepted (see
//! `control_request_is_accepted`).

use crate::common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use common::dpop::*;
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use tower_jwt_auth::{clock::FixedClock, dpop::DpopBound, response::RequestHead};
use tower_jwt_auth::{dpop::DpopConfig, dpop::DpopMode, dpop::MemoryReplayStore};
use tower_jwt_auth::{AuthError, Authenticator, Claims};

const ORIGIN: &str = "https://api.example";

/// An access token bound to `jkt` (or unbound with `None`).
fn access_token(jkt: Option<&str>) -> String {
    let claims = json!({"sub": "alice", "scope": "read", "iat": NOW, "exp": NOW + 3600});
    hs256(&bound_to(claims, jkt))
}

impl Req {
    fn new(key: &ProofKey, path: &'static str, token: String) -> Self {
        Req::with(key, ORIGIN, path, token, NOW)
    }
}

async fn me(claims: Claims, bound: Option<Extension<DpopBound>>) -> Json<Value> {
    Json(json!({
        "claims": claims.as_ref(),
        "jkt": bound.map(|Extension(b)| b.thumbprint().to_owned()),
    }))
}

struct Server {
    addr: SocketAddr,
    clock: Arc<FixedClock>,
}

fn authenticator(config: DpopConfig, clock: &Arc<FixedClock>) -> Authenticator {
    Authenticator::builder()
        .hmac_secret(SECRET)
        .clock(clock.clone())
        .dpop(config)
        .build()
        .expect("build")
}

/// `/me`: DPoP allowed; `/strict`: DPoP required; `/plain`: DPoP off.
async fn server_with(config: DpopConfig) -> Server {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = authenticator(config, &clock);
    let app = Router::new()
        .route("/me", get(me).layer(auth.layer()))
        .route(
            "/strict",
            get(me)
                .post(me)
                .layer(auth.layer().dpop(DpopMode::Required)),
        )
        .route("/plain", get(me).layer(auth.layer().dpop(DpopMode::Off)));
    Server {
        addr: serve(app).await,
        clock,
    }
}

async fn server() -> Server {
    server_with(DpopConfig::new(DpopMode::Allowed).public_url(ORIGIN)).await
}

#[tokio::test]
async fn control_request_is_accepted() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    let req = strict(&key);
    let r = send(s.addr, &key, &req).await;
    assert_eq!(r.status, 200, "{:?}", r.challenges);
    assert_eq!(r.body["claims"]["sub"], "alice");
    assert_eq!(r.body["jkt"], key.jkt);
}

#[tokio::test]
async fn proofs_signed_with_es256_rs256_ps256_and_eddsa_are_accepted() {
    let s = server().await;
    for alg in [
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::EdDSA,
    ] {
        let key = proof_key(alg);
        let req = Req::new(&key, "/me", access_token(Some(&key.jkt)));
        let r = send(s.addr, &key, &req).await;
        assert_eq!(r.status, 200, "{alg:?}: {:?}", r.challenges);
        // The handler is told the request was DPoP-bound, and to which key.
        assert_eq!(r.body["jkt"], key.jkt, "{alg:?}");
    }
}

#[tokio::test]
async fn a_proof_whose_alg_is_the_rfc_9864_name_ed25519_is_accepted_with_an_ed25519_key_only() {
    let s = server().await;
    let key = proof_key(Algorithm::EdDSA);
    let mut req = Req::new(&key, "/strict", access_token(Some(&key.jkt)));
    req.header["alg"] = json!("Ed25519");
    let r = send(s.addr, &key, &req).await;
    assert_eq!(r.status, 200, "{:?}", r.challenges);
    assert_eq!(r.body["jkt"], key.jkt);

    // An EC or RSA proof key whose header says Ed25519: refused.
    for alg in [Algorithm::ES256, Algorithm::RS256] {
        let key = proof_key(alg);
        let mut req = Req::new(&key, "/strict", access_token(Some(&key.jkt)));
        req.header["alg"] = json!("Ed25519");
        assert_invalid_proof(
            &send(s.addr, &key, &req).await,
            &format!("{alg:?} named Ed25519"),
        );
    }
    // Ed448 and the COSE ECDSA names are not accepted.
    for (name, alg) in [("Ed448", Algorithm::EdDSA), ("ESP256", Algorithm::ES256)] {
        let key = proof_key(alg);
        let mut req = Req::new(&key, "/strict", access_token(Some(&key.jkt)));
        req.header["alg"] = json!(name);
        assert_invalid_proof(&send(s.addr, &key, &req).await, name);
    }
}

/// A request to `/strict` that is accepted unless a test breaks one thing.
fn strict(key: &ProofKey) -> Req {
    Req::new(key, "/strict", access_token(Some(&key.jkt)))
}

#[tokio::test]
async fn a_proof_with_one_claim_or_header_member_broken_is_rejected() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    type Breaker = Box<dyn Fn(&mut Req)>;
    let drop_header = |member: &'static str| -> Breaker {
        Box::new(move |r| {
            r.header.as_object_mut().unwrap().remove(member);
        })
    };
    let mut cases: Vec<(String, Breaker)> = vec![
        // htm
        (
            "htm POST on GET".into(),
            Box::new(|r| r.claims["htm"] = json!("POST")),
        ),
        (
            "htm lowercase".into(),
            Box::new(|r| r.claims["htm"] = json!("get")),
        ),
        // htu with a query or a fragment
        (
            "htu with query".into(),
            Box::new(|r| r.claims["htu"] = json!(format!("{ORIGIN}/strict?x=1"))),
        ),
        (
            "htu with fragment".into(),
            Box::new(|r| r.claims["htu"] = json!(format!("{ORIGIN}/strict#frag"))),
        ),
        // ath of another token, or none
        (
            "ath of another token".into(),
            Box::new(|r| r.claims["ath"] = json!(ath("another token"))),
        ),
        (
            "no ath".into(),
            Box::new(|r| {
                r.claims.as_object_mut().unwrap().remove("ath");
            }),
        ),
        // Any `d`: the check is on the member's presence, the proof is
        // otherwise valid.
        (
            "private jwk".into(),
            Box::new(|r| r.header["jwk"]["d"] = json!(b64([1u8; 32]))),
        ),
        // typ, jwk and crit in the header
        (
            "typ JWT".into(),
            Box::new(|r| r.header["typ"] = json!("JWT")),
        ),
        ("no typ".into(), drop_header("typ")),
        ("no jwk".into(), drop_header("jwk")),
        (
            "crit".into(),
            Box::new(|r| r.header["crit"] = json!(["exp"])),
        ),
        // two DPoP headers, or none
        ("two DPoP headers".into(), Box::new(|r| r.extra_proofs = 1)),
        ("no DPoP header".into(), Box::new(|r| r.no_proof = true)),
    ];
    // htu of another host or path
    for htu in [
        "https://other.example/strict".to_owned(),
        "http://api.example/strict".to_owned(),
        "https://api.example:8443/strict".to_owned(),
        format!("http://{}/strict", s.addr),
        format!("{ORIGIN}/me"),
        "/strict".to_owned(),
    ] {
        let case = format!("htu {htu}");
        cases.push((case, Box::new(move |r| r.claims["htu"] = json!(htu))));
    }
    for (case, breaker) in cases {
        let mut req = strict(&key);
        breaker(&mut req);
        assert_invalid_proof(&send(s.addr, &key, &req).await, &case);
    }
}

#[tokio::test]
async fn a_proof_not_signed_with_an_asymmetric_key_is_rejected() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    // alg none; an HS256 proof "keyed" with an oct JWK, and one with the EC
    // key's JWK.
    let unsigned: fn(&Req) -> String = Req::unsigned_proof;
    let hmac: fn(&Req) -> String = Req::hmac_proof;
    let hs256 = |jwk: Value| json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk});
    let mut none = strict(&key).header;
    none["alg"] = json!("none");
    for (case, header, proof) in [
        ("alg none", none, unsigned),
        ("HS256, oct jwk", hs256(oct_jwk()), hmac),
        ("HS256, the EC key's jwk", hs256(key.jwk.clone()), hmac),
    ] {
        let mut req = strict(&key);
        req.header = header;
        let proof = proof(&req);
        assert_invalid_proof(&send_proof(s.addr, &req, &proof, false).await, case);
    }
}

#[tokio::test]
async fn htu_is_compared_after_rfc3986_normalization() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    for htu in [
        "HTTPS://API.Example:443/strict",
        "https://api.example/./x/../strict",
        "https://api.example/%73trict",
    ] {
        let mut req = strict(&key);
        req.claims["htu"] = json!(htu);
        let r = send(s.addr, &key, &req).await;
        assert_eq!(r.status, 200, "{htu}: {:?}", r.challenges);
    }
}

#[tokio::test]
async fn iat_too_old_or_too_new_is_rejected_at_the_window_edge() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    // 60 s window + 60 s default leeway, each way.
    for (iat, ok) in [
        (NOW - 120, true),
        (NOW - 121, false),
        (NOW + 120, true),
        (NOW + 121, false),
        (NOW - 3600, false),
    ] {
        let mut req = strict(&key);
        req.claims["iat"] = json!(iat);
        let r = send(s.addr, &key, &req).await;
        if ok {
            assert_eq!(r.status, 200, "iat {iat}: {:?}", r.challenges);
        } else {
            assert_invalid_proof(&r, &format!("iat {iat}"));
        }
    }
    let mut req = strict(&key);
    req.claims["iat"] = json!(format!("{NOW}"));
    assert_invalid_proof(&send(s.addr, &key, &req).await, "iat as a string");
}

#[tokio::test]
async fn replayed_jti_is_rejected() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    let req = strict(&key);
    let proof = req.proof(&key);
    assert_eq!(send_proof(s.addr, &req, &proof, false).await.status, 200);
    assert_invalid_proof(&send_proof(s.addr, &req, &proof, false).await, "replay");
    // The same jti in a new proof (new signature) is a replay too.
    assert_invalid_proof(&send(s.addr, &key, &req).await, "same jti, new proof");
    // Still refused at the last second the proof's iat is acceptable.
    s.clock.set(NOW + 120);
    assert_invalid_proof(
        &send_proof(s.addr, &req, &proof, false).await,
        "late replay",
    );
}

#[tokio::test]
async fn token_bound_to_another_key_is_rejected() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    let other = proof_key(Algorithm::EdDSA);
    // A stolen token bound to `other`, presented with the thief's own proof.
    let req = Req::new(&key, "/strict", access_token(Some(&other.jkt)));
    let r = send(s.addr, &key, &req).await;
    assert_refused(&r, "DPoP error=\"invalid_token\"", "bound to another key");
    // An unbound token cannot be used with DPoP either.
    let req = Req::new(&key, "/strict", access_token(None));
    let r = send(s.addr, &key, &req).await;
    assert_refused(&r, "DPoP error=\"invalid_token\"", "unbound");
}

#[cfg(feature = "rust-crypto")]
#[tokio::test]
async fn proof_key_under_policy_is_rejected() {
    let s = server().await;
    let private = common::forge::pem_key("rsa1024_private.pem");
    let public = fixture_str("jwks_rsa1024.json");
    let jwk: Value = serde_json::from_str::<Value>(&public).unwrap()["keys"][0].clone();
    let jkt = tower_jwt_auth::dpop::jwk_thumbprint(jwk.as_object().unwrap()).unwrap();
    let req = Req::new(
        &ProofKey {
            alg: Algorithm::RS256,
            private: common::forge::secret_key(b"unused"),
            jwk: jwk.clone(),
            jkt: jkt.clone(),
        },
        "/strict",
        access_token(Some(&jkt)),
    );
    let message = req.signing_input();
    let signer = (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.signer_factory)(
        &Algorithm::RS256,
        &private,
    )
    .expect("a RustCrypto RS256 signer");
    let signature = signature::Signer::try_sign(&*signer, message.as_bytes()).expect("sign");
    let proof = format!("{message}.{}", b64(signature));
    assert_invalid_proof(
        &send_proof(s.addr, &req, &proof, false).await,
        "rsa 1024 proof key",
    );
}

#[tokio::test]
async fn bound_token_as_bearer_is_rejected_on_every_route() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    let token = access_token(Some(&key.jkt));
    // DPoP allowed: invalid_token on the Bearer challenge, DPoP offered.
    let r = fetch_bearer(s.addr, "/me", &token).await;
    assert_eq!(r.status, 401);
    assert!(
        r.www.starts_with("Bearer error=\"invalid_token\""),
        "{}",
        r.www
    );
    // DPoP off: the binding still holds.
    let r = fetch_bearer(s.addr, "/plain", &token).await;
    assert_eq!(r.status, 401);
    assert!(
        r.www.starts_with("Bearer error=\"invalid_token\""),
        "{}",
        r.www
    );
    // DPoP required: a DPoP challenge only.
    let mut req = Req::new(&key, "/strict", token);
    req.scheme = "Bearer";
    let r = send(s.addr, &key, &req).await;
    assert_refused(&r, "DPoP error=\"invalid_token\"", "Bearer on /strict");
    assert_eq!(r.challenges.len(), 1, "{:?}", r.challenges);
}

#[tokio::test]
async fn challenges_name_both_schemes_when_both_are_allowed() {
    let s = server().await;
    let r = send_raw(s.addr, "/me", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.challenges[0], "Bearer");
    assert!(
        r.challenges[1].starts_with("DPoP algs="),
        "{:?}",
        r.challenges
    );
    assert_algs(&r.challenges[1]);
    // An unbound token still works as Bearer where DPoP is only allowed...
    let token = access_token(None);
    let r = send_raw(s.addr, "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["jkt"].is_null(),
        "a bearer request is not DPoP-bound"
    );
    // ...not where it is required.
    let r = send_raw(s.addr, "/strict", Some(&format!("Bearer {token}"))).await;
    assert_refused(
        &r,
        "DPoP error=\"invalid_token\"",
        "unbound Bearer on /strict",
    );
    assert_eq!(r.challenges.len(), 1);
    let r = send_raw(s.addr, "/strict", None).await;
    assert_eq!(r.challenges, vec![r.challenges[0].clone()]);
    assert!(
        r.challenges[0].starts_with("DPoP algs="),
        "{:?}",
        r.challenges
    );
    // Where DPoP is off, the DPoP scheme is no credentials.
    let r = send_raw(s.addr, "/plain", Some(&format!("DPoP {token}"))).await;
    assert_eq!((r.status, r.challenges), (401, vec!["Bearer".to_owned()]));
}

#[tokio::test]
async fn nonce_round_trip() {
    let config = DpopConfig::new(DpopMode::Allowed)
        .public_url(ORIGIN)
        .nonces(Duration::from_secs(400));
    let s = server_with(config).await;
    let key = proof_key(Algorithm::ES256);
    let token = access_token(Some(&key.jkt));
    // 1. No nonce: 401 use_dpop_nonce, and one in DPoP-Nonce.
    let req = Req::new(&key, "/strict", token.clone());
    let r = send(s.addr, &key, &req).await;
    assert_refused(&r, "DPoP error=\"use_dpop_nonce\"", "no nonce");
    let nonce = r.nonce.expect("a DPoP-Nonce header");
    // 2. With it: accepted, no new nonce needed yet.
    let mut req = Req::new(&key, "/strict", token.clone());
    req.claims["nonce"] = json!(nonce);
    let r = send(s.addr, &key, &req).await;
    assert_eq!(r.status, 200, "{:?}", r.challenges);
    assert_eq!(r.nonce, None);
    // 3. Past half its life: still accepted, and the next one is handed out.
    s.clock.set(NOW + 250);
    let mut req = Req::new(&key, "/strict", token.clone());
    req.claims["nonce"] = json!(nonce);
    req.claims["iat"] = json!(NOW + 250);
    let r = send(s.addr, &key, &req).await;
    assert_eq!(r.status, 200, "{:?}", r.challenges);
    let next = r.nonce.expect("a fresh nonce on success");
    assert_ne!(next, nonce);
    // 4. Expired: use_dpop_nonce again; a forged one too.
    s.clock.set(NOW + 500);
    for stale in [nonce.as_str(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let mut req = Req::new(&key, "/strict", token.clone());
        req.claims["nonce"] = json!(stale);
        req.claims["iat"] = json!(NOW + 500);
        let r = send(s.addr, &key, &req).await;
        assert_refused(&r, "DPoP error=\"use_dpop_nonce\"", stale);
        assert!(r.nonce.is_some());
    }
    let mut req = Req::new(&key, "/strict", token);
    req.claims["nonce"] = json!(next);
    req.claims["iat"] = json!(NOW + 500);
    assert_eq!(send(s.addr, &key, &req).await.status, 200);
}

/// A custom responder's `use_dpop_nonce` 401 still hands out the nonce and
/// the DPoP challenge (the layer completes it); sent raw, it has neither.
#[tokio::test]
async fn a_custom_responders_use_dpop_nonce_401_carries_the_nonce() {
    let config = DpopConfig::new(DpopMode::Required)
        .public_url(ORIGIN)
        .nonces(Duration::from_secs(400));
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = authenticator(config, &clock);
    let json = |e: &AuthError, _: &RequestHead<'_>| {
        let body = json!({"error": e.kind().error_code()});
        (e.status(), Json(body)).into_response()
    };
    let app = Router::new()
        .route("/json", get(me).layer(auth.layer().on_error(json)))
        .route("/raw", get(me).layer(auth.layer().on_error_raw(json)));
    let addr = serve(app).await;
    let key = proof_key(Algorithm::ES256);
    let token = access_token(Some(&key.jkt));
    let r = send(addr, &key, &Req::new(&key, "/json", token.clone())).await;
    assert_refused(&r, "DPoP error=\"use_dpop_nonce\"", "custom responder");
    assert_eq!(r.body, json!({"error": "use_dpop_nonce"}));
    let nonce = r.nonce.expect("a DPoP-Nonce header");
    // The nonce handed out works.
    let mut req = Req::new(&key, "/json", token.clone());
    req.claims["nonce"] = json!(nonce);
    assert_eq!(send(addr, &key, &req).await.status, 200);
    let r = send(addr, &key, &Req::new(&key, "/raw", token)).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body, json!({"error": "use_dpop_nonce"}));
    assert_eq!((r.nonce, r.challenges), (None, vec![]));
}

#[tokio::test]
async fn two_instances_sharing_a_replay_store_refuse_a_replay_across_them() {
    let store = Arc::new(MemoryReplayStore::default());
    let config = || {
        DpopConfig::new(DpopMode::Required)
            .public_url(ORIGIN)
            .replay_store(store.clone())
    };
    let a = server_with(config()).await;
    let b = server_with(config()).await;
    let key = proof_key(Algorithm::ES256);
    let req = Req::new(&key, "/me", access_token(Some(&key.jkt)));
    let proof = req.proof(&key);
    assert_eq!(send_proof(a.addr, &req, &proof, false).await.status, 200);
    assert_invalid_proof(
        &send_proof(b.addr, &req, &proof, false).await,
        "replay on b",
    );
    // Without the shared store, b would have accepted it.
    let c = server_with(DpopConfig::new(DpopMode::Required).public_url(ORIGIN)).await;
    assert_eq!(send_proof(c.addr, &req, &proof, false).await.status, 200);
}

#[tokio::test]
async fn grpc_calls_get_unauthenticated() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    let mut req = strict(&key);
    req.method = "POST";
    // htm stays GET: a broken proof.
    let r = send_proof(s.addr, &req, &req.proof(&key), true).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.grpc_status.as_deref(), Some("16"));
}

#[test]
fn dpop_config_refuses_symmetric_algorithms_and_no_public_url() {
    let clock = Arc::new(FixedClock::new(NOW));
    let build = |c: DpopConfig| {
        Authenticator::builder()
            .hmac_secret(SECRET)
            .clock(clock.clone())
            .dpop(c)
            .build()
            .err()
            .map(|e| e.to_string())
    };
    let on = || DpopConfig::new(DpopMode::Required).public_url(ORIGIN);
    assert!(build(on()).is_none());
    assert!(build(on().algorithms([Algorithm::ES256, Algorithm::HS256])).is_some());
    assert!(build(DpopConfig::new(DpopMode::Required)).is_some());
    assert!(build(on().public_url("api.example")).is_some());
    assert!(build(on().replay_window(Duration::from_secs(10))).is_some());
    assert!(build(on().nonces(Duration::from_secs(60)).nonce_key([1u8; 8])).is_some());
}

/// The verified-token cache re-checks the binding on every hit: a bound
/// token accepted with its proof (and so cached) is still refused as a
/// bearer token, and with another key's proof, while its own proofs keep
/// working.
#[tokio::test]
async fn the_binding_is_checked_again_when_the_token_comes_from_the_cache() {
    let s = server().await;
    let key = proof_key(Algorithm::ES256);
    let other = proof_key(Algorithm::EdDSA);
    let token = access_token(Some(&key.jkt));
    let ok = |r: &DpopReply| r.status == 200;
    assert!(ok(&send(
        s.addr,
        &key,
        &Req::new(&key, "/me", token.clone())
    )
    .await));
    assert!(ok(&send(
        s.addr,
        &key,
        &Req::new(&key, "/me", token.clone())
    )
    .await));

    let r = fetch_bearer(s.addr, "/me", &token).await;
    assert_eq!(r.status, 401);
    assert!(
        r.www.starts_with("Bearer error=\"invalid_token\""),
        "{}",
        r.www
    );
    let r = send(s.addr, &other, &Req::new(&other, "/me", token.clone())).await;
    assert_eq!(r.status, 401, "{:?}", r.challenges);

    let r = send(s.addr, &key, &Req::new(&key, "/me", token.clone())).await;
    assert_eq!(r.status, 200, "{:?}", r.challenges);
    assert_eq!(r.body["jkt"], key.jkt);
}

/// Issue 17, finding 9a: an `iat` window and a leeway too large to add
/// (`Duration::MAX`) neither panic at build nor on a request: the sum
/// saturates, so any `iat` passes, as configured.
#[tokio::test]
async fn huge_iat_window_and_leeway_saturate_instead_of_overflowing() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .clock(clock.clone())
        .leeway(Duration::MAX)
        .dpop(
            DpopConfig::new(DpopMode::Allowed)
                .public_url(ORIGIN)
                .iat_window(Duration::MAX),
        )
        .build()
        .expect("build");
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;
    let key = proof_key(Algorithm::ES256);
    for iat in [1, NOW, NOW + 1_000_000_000] {
        let req = Req::with(&key, ORIGIN, "/me", access_token(Some(&key.jkt)), iat);
        let r = send(addr, &key, &req).await;
        assert_eq!(r.status, 200, "iat {iat}: {:?}", r.challenges);
    }
}

/// Request rules on a DPoP route: GET needs `read`, POST `write`, checked
/// after the proof in the same sequence, a token from the cache included.
#[tokio::test]
async fn a_dpop_request_gets_the_rule_of_its_method_from_the_cache_too() {
    let clock = Arc::new(FixedClock::new(NOW));
    let auth = authenticator(
        DpopConfig::new(DpopMode::Allowed).public_url(ORIGIN),
        &clock,
    );
    let layer = auth
        .layer()
        .require_scope_for([http::Method::GET], "read")
        .require_scope_for([http::Method::POST], "write");
    let app = Router::new().route("/items", get(me).post(me).layer(layer));
    let addr = serve(app).await;
    let key = proof_key(Algorithm::ES256);
    let token = access_token(Some(&key.jkt)); // scope "read"
    let post = || {
        let mut req = Req::new(&key, "/items", token.clone());
        req.method = "POST";
        req.claims["htm"] = json!("POST");
        req
    };
    let r = send(addr, &key, &Req::new(&key, "/items", token.clone())).await;
    assert_eq!(r.status, 200, "GET with read: {:?}", r.challenges);
    assert_eq!(auth.verifier().cache_stats().unwrap().entries, 1);
    for _ in 0..2 {
        let r = send(addr, &key, &post()).await;
        assert_eq!(r.status, 403, "POST with read, from the cache");
        assert!(
            r.challenges.iter().any(|c| c.starts_with("DPoP ")
                && c.contains(r#"error="insufficient_scope""#)
                && c.contains(r#"scope="write""#)),
            "{:?}",
            r.challenges
        );
    }
}
