//! Several issuers in one layer, each with its own keys and rules, through a
//! real axum server. The token's unverified `iss` only picks the issuer; that
//! issuer's keys and rules decide.

use crate::common;

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower_jwt_auth::{Authenticator, Claims, ConfigError};

const A: &str = "https://login.a.example";
const B: &str = "https://idp.b.example";

async fn me(claims: Claims) -> String {
    format!(
        "{} {}",
        claims["iss"].as_str().unwrap_or(""),
        claims["sub"].as_str().unwrap_or("")
    )
}

fn attacker_key() -> EncodingKey {
    common::forge::pem_key("attacker_rsa_private.pem")
}

/// Signed with issuer A's RSA key (kid `rsa-1` when `kid`).
fn by_a(claims: &Value, kid: bool) -> String {
    token(Algorithm::RS256, kid.then_some("rsa-1"), claims)
}

/// Signed with issuer B's RSA key (kid `attacker` when `kid`).
fn by_b(claims: &Value, kid: bool) -> String {
    ensure_provider();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = kid.then(|| "attacker".to_owned());
    common::forge::encode(&h, claims, &attacker_key()).unwrap()
}

/// Issuer A: the fixture JWK Set, audience `api-a`, 60 s leeway.
/// Issuer B: another RSA key set, audience `api-b`, no leeway, `sub` required.
fn two_issuers(jwks: bool) -> Authenticator {
    let a = Authenticator::builder().issuer([A]).audience(["api-a"]);
    let a = if jwks {
        a.jwk_set(&fixture_str("jwks.json")).unwrap()
    } else {
        a.public_key_pem(fixture("rsa2048_public.pem")).unwrap()
    };
    let b = Authenticator::builder()
        .issuer([B])
        .audience(["api-b"])
        .leeway(Duration::ZERO)
        .require_claim("sub");
    let b = if jwks {
        b.jwk_set(&fixture_str("attacker_jwks.json")).unwrap()
    } else {
        b.public_key_pem(fixture("attacker_rsa_public.pem"))
            .unwrap()
    };
    Authenticator::by_issuer([a.build().unwrap(), b.build().unwrap()]).unwrap()
}

async fn start(auth: &Authenticator) -> std::net::SocketAddr {
    serve(Router::new().route("/me", get(me).layer(auth.layer()))).await
}

fn claims(iss: &str, aud: &str) -> Value {
    json!({"iss": iss, "aud": aud, "sub": "u1", "exp": now() + 600})
}

#[tokio::test]
async fn each_issuer_verifies_its_own_tokens() {
    for jwks in [true, false] {
        let addr = start(&two_issuers(jwks)).await;
        let r = fetch_bearer(addr, "/me", &by_a(&claims(A, "api-a"), jwks)).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "https://login.a.example u1")
        );
        let r = fetch_bearer(addr, "/me", &by_b(&claims(B, "api-b"), jwks)).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "https://idp.b.example u1")
        );
    }
}

#[tokio::test]
async fn a_token_signed_by_one_issuer_claiming_another_is_401() {
    for jwks in [true, false] {
        let addr = start(&two_issuers(jwks)).await;
        // A's key, B's name (and B's audience): B's keys refuse it.
        let forged = by_a(&claims(B, "api-b"), jwks);
        let r = fetch_bearer(addr, "/me", &forged).await;
        assert_eq!(r.status, 401, "jwks={jwks}");
        assert!(r.www.contains("invalid_token"), "{}", r.www);
        // And the other way round.
        let forged = by_b(&claims(A, "api-a"), jwks);
        assert_eq!(fetch_bearer(addr, "/me", &forged).await.status, 401);
    }
    // Without kids, the key is chosen by alg within the picked issuer only:
    // A's key never gets a chance to verify a token claiming B.
    let addr = start(&two_issuers(false)).await;
    let forged = by_a(&claims(B, "api-b"), false);
    let r = fetch_bearer(addr, "/me", &forged).await;
    assert!(r.www.contains("signature is invalid"), "{}", r.www);
}

#[tokio::test]
async fn unknown_missing_or_mistyped_iss_is_401() {
    let addr = start(&two_issuers(true)).await;
    for bad in [
        claims("https://evil.example", "api-a"),
        json!({"aud": "api-a", "sub": "u1", "exp": now() + 600}),
        json!({"iss": [A], "aud": "api-a", "sub": "u1", "exp": now() + 600}),
        json!({"iss": null, "aud": "api-a", "sub": "u1", "exp": now() + 600}),
    ] {
        let r = fetch_bearer(addr, "/me", &by_a(&bad, true)).await;
        assert_eq!(r.status, 401, "{bad}");
        assert!(r.www.contains("invalid_token"), "{bad}: {}", r.www);
    }
    // `iss` twice: which one would pick? Neither: malformed.
    let twice = format!(
        r#"{{"iss":"{B}","iss":"{A}","aud":"api-a","sub":"u1","exp":{}}}"#,
        now() + 600
    );
    let t = raw_token(
        r#"{"alg":"RS256","kid":"rsa-1"}"#,
        &twice,
        Algorithm::RS256,
        &signing_key(Algorithm::RS256),
    );
    let r = fetch_bearer(addr, "/me", &t).await;
    assert!(r.www.contains("malformed"), "{}", r.www);
    let r = fetch(addr, "/me", None).await;
    assert_eq!((r.status, r.www.as_str()), (401, "Bearer"));
    let r = fetch_bearer(addr, "/me", "a.b.c.d.e").await;
    assert!(r.www.contains("encrypted"), "{}", r.www);
    let r = fetch_bearer(addr, "/me", "not-a-jwt").await;
    assert!(r.www.contains("malformed"), "{}", r.www);
}

#[tokio::test]
async fn each_issuer_keeps_its_own_rules() {
    let addr = start(&two_issuers(true)).await;
    // Audience: A's audience does not open B, nor B's A.
    assert_eq!(
        fetch_bearer(addr, "/me", &by_a(&claims(A, "api-b"), true))
            .await
            .status,
        401
    );
    assert_eq!(
        fetch_bearer(addr, "/me", &by_b(&claims(B, "api-a"), true))
            .await
            .status,
        401
    );
    // Leeway: 30 s past exp passes A (60 s leeway), not B (none).
    let late =
        |iss: &str, aud: &str| json!({"iss": iss, "aud": aud, "sub": "u", "exp": now() - 30});
    assert_eq!(
        fetch_bearer(addr, "/me", &by_a(&late(A, "api-a"), true))
            .await
            .status,
        200
    );
    let r = fetch_bearer(addr, "/me", &by_b(&late(B, "api-b"), true)).await;
    assert!(r.www.contains("expired"), "{}", r.www);
    // Required claims: B requires `sub`, A does not.
    let no_sub = |iss: &str, aud: &str| json!({"iss": iss, "aud": aud, "exp": now() + 600});
    assert_eq!(
        fetch_bearer(addr, "/me", &by_a(&no_sub(A, "api-a"), true))
            .await
            .status,
        200
    );
    let r = fetch_bearer(addr, "/me", &by_b(&no_sub(B, "api-b"), true)).await;
    assert!(r.www.contains("required claim"), "{}", r.www);
}

#[tokio::test]
async fn route_rules_apply_whichever_issuer_signed() {
    let auth = two_issuers(true);
    let app = Router::new()
        .route("/admin", get(me).layer(auth.layer().require_scope("admin")))
        .route(
            "/optional",
            get(|c: Option<Claims>| async move { format!("{}", c.is_some()) })
                .layer(auth.optional()),
        );
    let addr = serve(app).await;
    let admin_b = merged(&claims(B, "api-b"), json!({"scope": "admin"}));
    assert_eq!(
        fetch_bearer(addr, "/admin", &by_b(&admin_b, true))
            .await
            .status,
        200
    );
    let r = fetch_bearer(addr, "/admin", &by_a(&claims(A, "api-a"), true)).await;
    assert_eq!(r.status, 403);
    assert_eq!(fetch(addr, "/optional", None).await.body, "false");
    let forged = by_a(&claims(B, "api-b"), true);
    assert_eq!(fetch_bearer(addr, "/optional", &forged).await.status, 401);
}

#[test]
fn configuration_errors() {
    let build = |iss: Option<&str>| {
        let b = Authenticator::builder().hmac_secret(SECRET);
        match iss {
            Some(i) => b.issuer([i]).build().unwrap(),
            None => b.build().unwrap(),
        }
    };
    assert!(matches!(
        Authenticator::by_issuer([build(Some(A)), build(None)]),
        Err(ConfigError::IssuerRequired)
    ));
    match Authenticator::by_issuer([build(Some(A)), build(Some(A))]) {
        Err(ConfigError::DuplicateIssuer { issuer }) => assert_eq!(issuer, A),
        other => panic!("{other:?}"),
    }
    let none: [Authenticator; 0] = [];
    assert!(matches!(
        Authenticator::by_issuer(none),
        Err(ConfigError::EmptyList { .. })
    ));
    // A combined authenticator can itself be combined further.
    let ab = Authenticator::by_issuer([build(Some(A)), build(Some(B))]).unwrap();
    let abc = Authenticator::by_issuer([ab, build(Some("https://c"))]).unwrap();
    let t = hs256(&json!({"iss": "https://c", "exp": now() + 60}));
    assert!(abc.verifier().verify(&t).is_ok());
    let t = hs256(&json!({"iss": A, "exp": now() + 60}));
    assert!(abc.verifier().verify(&t).is_ok());
}

/// One issuer with local keys, one whose keys come from a JWKS URL (a real
/// HTTP endpoint on 127.0.0.1): the remote issuer's unknown `kid` refetches
/// only its own set, and cross-issuer forgeries still fail.
#[cfg(feature = "remote")]
#[tokio::test]
async fn a_local_and_a_remote_issuer_in_one_layer() {
    use common::idp::{jwk, quick, Idp};

    let idp = Idp::start(vec![jwk("ec256-1")]).await;

    // Issuer A: local RSA key. Issuer B: remote set (EC keys).
    let a = Authenticator::builder()
        .issuer([A])
        .public_key_pem(fixture("rsa2048_public.pem"))
        .unwrap()
        .build()
        .unwrap();
    let b = idp
        .builder(quick())
        .issuer([B])
        .build_async()
        .await
        .unwrap();
    let auth = Authenticator::by_issuer([a, b]).unwrap();
    let addr = start(&auth).await;
    assert_eq!(idp.hits(), 1, "fetched once at build");

    let claims_of = |iss: &str| json!({"iss": iss, "sub": "u1", "exp": now() + 600});
    let r = fetch_bearer(addr, "/me", &by_a(&claims_of(A), false)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "https://login.a.example u1")
    );
    let b_token = token(Algorithm::ES256, Some("ec256-1"), &claims_of(B));
    let r = fetch_bearer(addr, "/me", &b_token).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "https://idp.b.example u1")
    );

    // B publishes a new key: a token naming it is accepted after one
    // refetch of B's set (A has no remote set to refetch).
    idp.set(|b| b.keys = vec![jwk("ec256-1"), jwk("ed-1")]);
    let new_kid = token(Algorithm::EdDSA, Some("ed-1"), &claims_of(B));
    assert_eq!(fetch_bearer(addr, "/me", &new_kid).await.status, 200);
    assert_eq!(idp.hits(), 2, "one refetch");

    // A's key claiming B: B's remote set has no such key, 401.
    let forged = by_a(&claims_of(B), true);
    assert_eq!(fetch_bearer(addr, "/me", &forged).await.status, 401);
    // B's key claiming A: A's local keys refuse it (no EC key there), 401.
    let forged = token(Algorithm::ES256, Some("ec256-1"), &claims_of(A));
    assert_eq!(fetch_bearer(addr, "/me", &forged).await.status, 401);
}
