//! The demo server's DPoP behaviour (`DPOP=allowed|required`): examples/serve.rs's own
//! configuration and router with `DPOP` and `PUBLIC_URL`, served on
//! 127.0.0.1 and driven over real HTTP with proofs signed by jsonwebtoken.

use crate::common;

#[allow(dead_code)]
#[path = "../../examples/serve.rs"]
mod serve;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::dpop::*;
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

/// serve with `vars` (plus `JWT_SECRET`) on a port bound first, so that the
/// default `PUBLIC_URL` (`http://` + `BIND`) is the address clients use.
async fn start(vars: &[(&str, &str)]) -> (SocketAddr, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.insert("JWT_SECRET".into(), SECRET.into());
    env.insert("BIND".into(), addr.to_string());
    let origin = env
        .get("PUBLIC_URL")
        .cloned()
        .unwrap_or_else(|| format!("http://{addr}"));
    let env = move |name: &str| env.get(name).cloned();
    let config = serve::configure(&env).await.expect("configure");
    let app = serve::app(&config);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, origin)
}

fn bound_token(jkt: Option<&str>) -> (String, Value) {
    let n = now();
    let claims = json!({"sub": "u1", "scope": "read admin", "iat": n, "exp": n + 600});
    let claims = bound_to(claims, jkt);
    (hs256(&claims), claims)
}

#[tokio::test]
async fn dpop_required_accepts_a_correct_proof_and_rejects_each_broken_one() {
    let (addr, origin) = start(&[("DPOP", "required")]).await;
    let key = proof_key(Algorithm::ES256);
    let other = proof_key(Algorithm::EdDSA);
    let (token, claims) = bound_token(Some(&key.jkt));
    let t = now();
    let good = || Req::with(&key, &origin, "/me", token.clone(), t);

    // A correct proof: /me returns the token's claims, as with Bearer.
    let req = good();
    let proof = req.proof(&key);
    let r = send_proof(addr, &req, &proof, false).await;
    assert_eq!(r.status, 200, "{:?}", r.challenges);
    assert_eq!(r.body, claims);
    // /admin too (the scope rule still applies).
    let mut admin = good();
    admin.path = "/admin";
    admin.claims["htu"] = json!(format!("{origin}/admin"));
    assert_eq!(send(addr, &key, &admin).await.status, 200);

    // A replayed proof is a broken proof.
    assert_invalid_proof(&send_proof(addr, &req, &proof, false).await, "replay");

    type Breaker = Box<dyn Fn(&mut Req)>;
    let broken: Vec<(&str, Breaker)> = vec![
        ("wrong htm", Box::new(|r| r.claims["htm"] = json!("POST"))),
        (
            "htu with query",
            Box::new(move |r| {
                let htu = format!("{}?a=1", r.claims["htu"].as_str().unwrap());
                r.claims["htu"] = json!(htu)
            }),
        ),
        (
            "other host",
            Box::new(|r| r.claims["htu"] = json!("http://other.example/me")),
        ),
        (
            "iat too old",
            Box::new(move |r| r.claims["iat"] = json!(t - 600)),
        ),
        (
            "iat too new",
            Box::new(move |r| r.claims["iat"] = json!(t + 600)),
        ),
        (
            "wrong ath",
            Box::new(|r| r.claims["ath"] = json!(b64([0u8; 32]))),
        ),
        ("typ JWT", Box::new(|r| r.header["typ"] = json!("JWT"))),
        (
            "private jwk",
            Box::new(|r| r.header["jwk"]["d"] = json!(b64([1u8; 32]))),
        ),
        ("two DPoP headers", Box::new(|r| r.extra_proofs = 1)),
        ("no DPoP header", Box::new(|r| r.no_proof = true)),
    ];
    for (what, breaker) in broken {
        let mut req = good();
        breaker(&mut req);
        assert_invalid_proof(&send(addr, &key, &req).await, what);
    }

    // alg none and an HMAC proof.
    let mut req = good();
    req.header["alg"] = json!("none");
    let none = req.unsigned_proof();
    assert_invalid_proof(&send_proof(addr, &req, &none, false).await, "alg none");
    let mut req = good();
    req.header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": oct_jwk()});
    let hmac = req.hmac_proof();
    assert_invalid_proof(&send_proof(addr, &req, &hmac, false).await, "HS256 proof");

    // A token bound to another key: invalid_token on the DPoP challenge.
    let (stolen, _) = bound_token(Some(&other.jkt));
    let req = Req::with(&key, &origin, "/me", stolen, t);
    let r = send(addr, &key, &req).await;
    assert_refused(&r, "DPoP error=\"invalid_token\"", "bound to another key");

    // Bearer gets a DPoP challenge.
    let r = send_raw(addr, "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.challenges.len(), 1);
    assert!(r.challenges[0].starts_with("DPoP "), "{:?}", r.challenges);
    // /optional stays optional.
    let r = send_raw(addr, "/optional", None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"claims": null})));
}

#[tokio::test]
async fn dpop_allowed_takes_unbound_bearer_tokens_but_not_bound_ones() {
    let (addr, origin) = start(&[("DPOP", "allowed")]).await;
    let key = proof_key(Algorithm::PS256);
    let (unbound, claims) = bound_token(None);
    let r = send_raw(addr, "/me", Some(&format!("Bearer {unbound}"))).await;
    assert_eq!((r.status, r.body), (200, claims));
    let (bound, claims) = bound_token(Some(&key.jkt));
    let r = send_raw(addr, "/me", Some(&format!("Bearer {bound}"))).await;
    assert_refused(
        &r,
        "Bearer error=\"invalid_token\"",
        "a bound token as Bearer",
    );
    let req = Req::with(&key, &origin, "/me", bound, now());
    let r = send(addr, &key, &req).await;
    assert_eq!((r.status, r.body), (200, claims));
}

#[tokio::test]
async fn public_url_sets_the_htu_origin() {
    let (addr, origin) =
        start(&[("DPOP", "required"), ("PUBLIC_URL", "https://api.example")]).await;
    assert_eq!(origin, "https://api.example");
    let key = proof_key(Algorithm::ES256);
    let (token, _) = bound_token(Some(&key.jkt));
    let req = Req::with(&key, &origin, "/me", token.clone(), now());
    assert_eq!(send(addr, &key, &req).await.status, 200);
    // The address the server listens on is not its public URL.
    let req = Req::with(&key, &format!("http://{addr}"), "/me", token, now());
    assert_invalid_proof(&send(addr, &key, &req).await, "htu of the bind address");
}

#[tokio::test]
async fn an_unknown_dpop_value_stops_the_start() {
    let env = |name: &str| match name {
        "JWT_SECRET" => Some(SECRET.to_owned()),
        "DPOP" => Some("yes".to_owned()),
        _ => None,
    };
    let err = serve::configure(&env).await.err().expect("an error");
    assert!(err.contains("DPOP"), "{err}");
    let env = |name: &str| match name {
        "JWT_SECRET" => Some(SECRET.to_owned()),
        "DPOP" => Some("required".to_owned()),
        "PUBLIC_URL" => Some("not a url".to_owned()),
        _ => None,
    };
    let err = serve::configure(&env).await.err().expect("an error");
    assert!(err.contains("public URL"), "{err}");
}
