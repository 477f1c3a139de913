//! One named test per known attack on JWT verifiers, each through the real
//! layer: an axum server on 127.0.0.1 and a real HTTP client. Each test says
//! what jsonwebtoken alone would do where that differs (RFC 8725 is the
//! catalogue).

use crate::common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower_jwt_auth::{
    clock::FixedClock, keys::KeyError, keys::KeySet, Authenticator, AuthenticatorBuilder, Claims,
    ConfigError,
};

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

fn claims() -> Value {
    json!({"sub": "victim", "scope": "read", "iat": NOW, "exp": NOW + 600})
}

fn payload() -> String {
    claims().to_string()
}

/// Serves `/me` behind `builder`'s authenticator, with the fixed clock.
async fn server(builder: AuthenticatorBuilder) -> SocketAddr {
    let auth = builder.clock(FixedClock::new(NOW)).build().unwrap();
    serve(Router::new().route("/me", get(me).layer(auth.layer()))).await
}

/// A server trusting the fixture JWK Set (RSA, P-256, P-384, Ed25519).
async fn jwks_server() -> SocketAddr {
    server(
        Authenticator::builder()
            .jwk_set(&fixture_str("jwks.json"))
            .unwrap(),
    )
    .await
}

/// A server trusting an HMAC secret *and* the fixture JWK Set: HS256 is in
/// the allow-list, so only the per-key binding stops an HS256 token that
/// names a public key.
async fn mixed_server() -> SocketAddr {
    let builder = Authenticator::builder().hmac_secret(SECRET);
    server(builder.jwk_set(&fixture_str("jwks.json")).unwrap()).await
}

/// A server trusting one HMAC secret.
async fn hmac_server() -> SocketAddr {
    server(Authenticator::builder().hmac_secret(SECRET)).await
}

fn hs() -> EncodingKey {
    common::forge::secret_key(SECRET.as_bytes())
}

/// The attack fails: 401 `invalid_token` whose description contains `why`.
async fn rejected(addr: SocketAddr, token: &str, why: &str) {
    let r = fetch_bearer(addr, "/me", token).await;
    assert_eq!(
        r.status, 401,
        "{why}: accepted or wrong status; body {}",
        r.body
    );
    assert!(
        r.www.contains("error=\"invalid_token\""),
        "{why}: {}",
        r.www
    );
    assert!(r.www.contains(why), "expected {why:?} in {}", r.www);
    assert!(!r.body.contains(token), "the body echoes the token");
}

fn segments(t: &str) -> (String, String, String) {
    let mut it = t.split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

#[tokio::test]
async fn alg_none_is_rejected_in_every_spelling() {
    let addr = hmac_server().await;
    let p = b64(payload());
    let good = hs256(&claims());
    let (_, _, sig) = segments(&good);
    for alg in ["none", "None", "NONE", "nOnE", "none ", " none"] {
        let h = b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        // Unsigned, and with a leftover valid signature (signature stripping).
        rejected(addr, &format!("{h}.{p}."), "algorithm is not allowed").await;
        rejected(addr, &format!("{h}.{p}.{sig}"), "algorithm is not allowed").await;
    }
}

#[tokio::test]
async fn public_key_bytes_used_as_an_hmac_secret_are_rejected() {
    // The classic confusion: the server holds a public key; the attacker signs
    // HS256 with that public key's bytes as the secret.
    let jwks: Value = serde_json::from_str(&fixture_str("jwks.json")).unwrap();
    let public_only = jwks_server().await;
    let mixed = mixed_server().await;
    for (kid, pem) in [
        ("rsa-1", "rsa2048_public.pem"),
        ("ec256-1", "ec256_public.pem"),
    ] {
        let pem = fixture(pem);
        let jwk_text = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .to_string();
        for secret in [pem.clone(), jwk_text.into_bytes()] {
            let sign = |kid: Option<&str>| {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = kid.map(str::to_owned);
                common::forge::encode(&header, &claims(), &common::forge::secret_key(&secret))
                    .unwrap()
            };
            // Public keys only: HS256 is not even in the allow-list.
            rejected(public_only, &sign(Some(kid)), "algorithm is not allowed").await;
            rejected(public_only, &sign(None), "algorithm is not allowed").await;
            // HS256 allowed (an HMAC secret is configured too): the token
            // names the public key, which may not verify HS256.
            rejected(mixed, &sign(Some(kid)), "algorithm is not allowed").await;
            // Without a kid it goes to the only HMAC key, the real secret.
            rejected(mixed, &sign(None), "signature is invalid").await;
        }
    }
}

/// A JWK Set server that counts its hits: the verifier must never call it.
async fn counting_jwks_server(hits: Arc<AtomicUsize>) -> SocketAddr {
    let body = fixture_str("attacker_jwks.json");
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            async move { body }
        }),
    );
    serve(app).await
}

#[tokio::test]
async fn jku_x5u_jwk_and_x5c_headers_are_ignored() {
    let addr = jwks_server().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let evil = counting_jwks_server(hits.clone()).await;
    let attacker = common::forge::pem_key("attacker_rsa_private.pem");
    let attacker_jwk: Value = serde_json::from_str(&fixture_str("attacker_jwks.json")).unwrap();
    let attacker_jwk = attacker_jwk["keys"][0].to_string();
    let url = format!("http://{evil}/jwks.json");
    for header in [
        format!(r#"{{"alg":"RS256","kid":"attacker","jku":"{url}"}}"#),
        format!(r#"{{"alg":"RS256","kid":"attacker","x5u":"{url}"}}"#),
        format!(r#"{{"alg":"RS256","kid":"attacker","jwk":{attacker_jwk}}}"#),
        format!(r#"{{"alg":"RS256","jwk":{attacker_jwk}}}"#),
        r#"{"alg":"RS256","kid":"attacker","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}"#.to_owned(),
    ] {
        let t = raw_token(&header, &payload(), Algorithm::RS256, &attacker);
        let r = fetch_bearer(addr, "/me", &t).await;
        assert_eq!(r.status, 401, "{header}");
        assert!(r.www.contains("invalid_token"), "{header}: {}", r.www);
    }
    // The same header naming the real kid: the signature must still be ours.
    let t = raw_token(
        &format!(r#"{{"alg":"RS256","kid":"rsa-1","jku":"{url}"}}"#),
        &payload(),
        Algorithm::RS256,
        &attacker,
    );
    rejected(addr, &t, "signature is invalid").await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the verifier fetched a URL from a token"
    );
}

#[tokio::test]
async fn hostile_kid_values_select_no_key() {
    // Signed with an empty key and with a guessable one: what a kid pointing
    // at /dev/null or at an injected SQL row would yield on a naive server.
    // Keys here are a map lookup, so a hostile kid names no key; the token
    // then falls to the single kid-less key of its alg (the real secret),
    // whose signature check it fails. RS256 with a hostile kid: no key.
    let addr = mixed_server().await;
    let attacker = common::forge::pem_key("attacker_rsa_private.pem");
    for kid in [
        "../../../../../../dev/null".to_owned(),
        "/proc/self/environ".to_owned(),
        "' UNION SELECT 'secret' --".to_owned(),
        "rsa-1\u{0}".to_owned(),
        "k".repeat(5000),
    ] {
        let short = &kid[..kid.len().min(40)];
        for secret in [&b""[..], b"secret"] {
            let t = raw_token(
                &json!({"alg": "HS256", "kid": kid}).to_string(),
                &payload(),
                Algorithm::HS256,
                &common::forge::secret_key(secret),
            );
            let r = fetch_bearer(addr, "/me", &t).await;
            assert_eq!(r.status, 401, "kid {short:?}");
            assert!(
                r.www.contains("signature is invalid"),
                "kid {short:?}: {}",
                r.www
            );
        }
        let t = raw_token(
            &json!({"alg": "RS256", "kid": kid}).to_string(),
            &payload(),
            Algorithm::RS256,
            &attacker,
        );
        let r = fetch_bearer(addr, "/me", &t).await;
        assert!(
            r.www.contains("no key matches the token"),
            "kid {short:?}: {}",
            r.www
        );
    }
}

#[tokio::test]
async fn unknown_crit_and_empty_crit_are_rejected() {
    let addr = hmac_server().await;
    for header in [
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"HS256","crit":["http://example.invalid/ext"],"http://example.invalid/ext":true}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":"b64"}"#,
    ] {
        let t = raw_token(header, &payload(), Algorithm::HS256, &hs());
        rejected(addr, &t, "unsupported feature").await;
    }
}

#[tokio::test]
async fn unencoded_payload_b64_false_is_rejected() {
    // RFC 7797: with b64:false the signature covers the raw payload, so a
    // verifier that ignores the header checks the wrong bytes.
    let addr = hmac_server().await;
    let header = r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#;
    let raw = payload();
    let message = format!("{}.{raw}", b64(header));
    let sig = common::forge::sign(message.as_bytes(), &hs(), Algorithm::HS256).unwrap();
    // Detached form (empty payload segment) and attached-encoded form.
    rejected(
        addr,
        &format!("{}..{sig}", b64(header)),
        "unsupported feature",
    )
    .await;
    let t = raw_token(header, &raw, Algorithm::HS256, &hs());
    rejected(addr, &t, "unsupported feature").await;
}

#[tokio::test]
async fn enc_header_on_a_jws_is_rejected() {
    let addr = hmac_server().await;
    let t = raw_token(
        r#"{"alg":"HS256","enc":"A256GCM"}"#,
        &payload(),
        Algorithm::HS256,
        &hs(),
    );
    rejected(addr, &t, "encrypted tokens are not accepted").await;
}

#[tokio::test]
async fn jwe_with_five_segments_is_rejected() {
    let addr = hmac_server().await;
    let h = b64(r#"{"alg":"dir","enc":"A256GCM"}"#);
    let t = format!(
        "{h}..{}.{}.{}",
        b64([1u8; 12]),
        b64(payload()),
        b64([2u8; 16])
    );
    rejected(addr, &t, "encrypted tokens are not accepted").await;
}

#[tokio::test]
async fn nested_jwt_is_rejected() {
    // RFC 7519 §5.2 cty "JWT": the payload is another JWT, not a claims set.
    let addr = hmac_server().await;
    let inner = hs256(&claims());
    let t = raw_token(
        r#"{"alg":"HS256","cty":"JWT"}"#,
        &inner,
        Algorithm::HS256,
        &hs(),
    );
    rejected(addr, &t, "the token is malformed").await;
}

#[tokio::test]
async fn oversize_header_payload_or_signature_is_rejected_before_decoding() {
    let addr = hmac_server().await;
    let (h, p, s) = segments(&hs256(&claims()));
    let big = "A".repeat(9000);
    for t in [
        format!("{big}.{p}.{s}"),
        format!("{h}.{big}.{s}"),
        format!("{h}.{p}.{big}"),
    ] {
        rejected(addr, &t, "the token is too large").await;
    }
    // Within the limit, a big but valid token is fine.
    let padded = hs256(&json!({"exp": NOW + 600, "pad": "x".repeat(5000)}));
    assert_eq!(fetch_bearer(addr, "/me", &padded).await.status, 200);
}

#[tokio::test]
async fn deeply_nested_json_is_rejected_without_overflowing_the_stack() {
    let addr = hmac_server().await;
    let deep = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
    let payload = format!(r#"{{"exp":{},"x":{deep}}}"#, NOW + 600);
    let t = raw_token(r#"{"alg":"HS256"}"#, &payload, Algorithm::HS256, &hs());
    rejected(addr, &t, "the token is malformed").await;
    let header = format!(r#"{{"alg":"HS256","x":{deep}}}"#);
    let t = raw_token(&header, &self::payload(), Algorithm::HS256, &hs());
    rejected(addr, &t, "the token is malformed").await;
}

#[tokio::test]
async fn duplicate_member_names_are_rejected() {
    let addr = hmac_server().await;
    // Claims: a parser keeping the first `sub` and one keeping the last
    // disagree about who this is.
    let dup_claims = format!(r#"{{"sub":"victim","exp":{},"sub":"admin"}}"#, NOW + 600);
    let t = raw_token(r#"{"alg":"HS256"}"#, &dup_claims, Algorithm::HS256, &hs());
    rejected(addr, &t, "the token is malformed").await;
    // Nested: the roles a handler authorizes on.
    let nested = format!(
        r#"{{"sub":"victim","exp":{},"realm_access":{{"roles":["user"],"roles":["admin"]}}}}"#,
        NOW + 600
    );
    let t = raw_token(r#"{"alg":"HS256"}"#, &nested, Algorithm::HS256, &hs());
    rejected(addr, &t, "the token is malformed").await;
    // Header: `alg` twice.
    let t = raw_token(
        r#"{"alg":"none","alg":"HS256"}"#,
        &payload(),
        Algorithm::HS256,
        &hs(),
    );
    rejected(addr, &t, "the token is malformed").await;
}

#[tokio::test]
async fn exp_of_the_wrong_type_or_range_is_rejected() {
    let addr = hmac_server().await;
    for exp in [
        json!((NOW + 600).to_string()),
        json!(-1),
        json!(u64::MAX),
        json!(1e300),
        json!([NOW + 600]),
    ] {
        let t = hs256(&json!({"sub": "s", "exp": exp}));
        rejected(addr, &t, "the token has an invalid claim").await;
    }
    // `"exp": null` is no expiry: the required claim is missing.
    let t = hs256(&json!({"sub": "s", "exp": null}));
    rejected(addr, &t, "the token lacks a required claim").await;
    // 1e400 does not even parse as a JSON number here.
    let t = raw_token(
        r#"{"alg":"HS256"}"#,
        r#"{"exp":1e400}"#,
        Algorithm::HS256,
        &hs(),
    );
    rejected(addr, &t, "the token is malformed").await;
    // A fractional NumericDate is legal (RFC 7519 §2) and compared exactly.
    let ok = hs256(&json!({"exp": NOW as f64 + 0.5}));
    assert_eq!(fetch_bearer(addr, "/me", &ok).await.status, 200);
    let past = hs256(&json!({"exp": NOW as f64 - 60.5}));
    rejected(addr, &past, "the token has expired").await;
}

#[tokio::test]
async fn iss_as_array_and_aud_of_the_wrong_type_are_rejected() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .issuer(["https://i"])
        .audience(["api"])
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;
    let base = json!({"iss": "https://i", "aud": "api", "exp": NOW + 600});
    assert_eq!(fetch_bearer(addr, "/me", &hs256(&base)).await.status, 200);
    for (name, value) in [
        ("iss", json!(["https://i"])),
        ("iss", json!({"value": "https://i"})),
        ("aud", json!(1)),
        ("aud", json!({"api": true})),
        ("aud", json!(["api", 1])),
        ("sub", json!(["x"])),
    ] {
        let mut c = base.clone();
        c[name] = value;
        rejected(addr, &hs256(&c), "the token has an invalid claim").await;
    }
}

#[tokio::test]
async fn nbf_and_iat_in_the_future_are_rejected() {
    let addr = hmac_server().await;
    let nbf = hs256(&json!({"exp": NOW + 7200, "nbf": NOW + 3600}));
    rejected(addr, &nbf, "the token is not valid yet").await;
    let iat = hs256(&json!({"exp": NOW + 7200, "iat": NOW + 3600}));
    rejected(addr, &iat, "the token was issued in the future").await;
}

#[tokio::test]
async fn empty_truncated_and_bit_flipped_signatures_are_rejected() {
    let addr = jwks_server().await;
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let t = token(alg, Some(jwks_kid(alg)), &claims());
        let (h, p, s) = segments(&t);
        rejected(addr, &format!("{h}.{p}."), "signature is invalid").await;
        rejected(
            addr,
            &format!("{h}.{p}.{}", &s[..s.len() / 2]),
            "signature is invalid",
        )
        .await;
        let mut sig =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &s).unwrap();
        for bit in [0, sig.len() * 4, sig.len() * 8 - 1] {
            sig[bit / 8] ^= 1 << (bit % 8);
            rejected(
                addr,
                &format!("{h}.{p}.{}", b64(&sig)),
                "signature is invalid",
            )
            .await;
            sig[bit / 8] ^= 1 << (bit % 8);
        }
        // And a flipped payload bit under the original signature.
        let mut body = b64(payload()).into_bytes();
        body[3] ^= 0x01;
        let flipped = format!("{h}.{}.{s}", String::from_utf8(body).unwrap());
        assert_eq!(fetch_bearer(addr, "/me", &flipped).await.status, 401);
    }
}

#[tokio::test]
async fn ecdsa_psychic_signature_r_s_zero_is_rejected() {
    // CVE-2022-21449: Java accepted r = s = 0 for any message and key.
    let addr = jwks_server().await;
    for (alg, kid, len) in [
        (Algorithm::ES256, "ec256-1", 64),
        (Algorithm::ES384, "ec384-1", 96),
    ] {
        let h = b64(json!({"alg": alg, "kid": kid}).to_string());
        let p = b64(payload());
        rejected(
            addr,
            &format!("{h}.{p}.{}", b64(vec![0u8; len])),
            "signature is invalid",
        )
        .await;
        // r = s = n (the group order) for P-256 reduces to zero as well.
        if alg == Algorithm::ES256 {
            let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
            let sig = [n.clone(), n].concat();
            rejected(
                addr,
                &format!("{h}.{p}.{}", b64(sig)),
                "signature is invalid",
            )
            .await;
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn weak_rsa_and_short_hmac_keys_in_a_jwk_set_are_refused() {
    for (jwks, expected) in [
        (fixture_str("jwks_rsa512.json"), KeyError::RsaTooSmall { bits: 512 }),
        (fixture_str("jwks_rsa1024.json"), KeyError::RsaTooSmall { bits: 1024 }),
        (
            r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#.to_owned(),
            KeyError::HmacTooShort { len: 6 },
        ),
        (
            r#"{"keys":[{"kty":"oct","kid":"h","alg":"HS512","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#.to_owned(),
            KeyError::HmacTooShort { len: 32 },
        ),
    ] {
        assert_eq!(KeySet::from_jwks_json(&jwks).unwrap_err(), expected);
        let err = Authenticator::builder().jwk_set(&jwks).unwrap_err();
        assert!(matches!(err, ConfigError::Key(ref e) if *e == expected), "{err}");
    }
    // And the weak key's tokens never verify, since there is no server.
    let pem = Authenticator::builder().public_key_pem(fixture("rsa512_public.pem"));
    assert!(pem.is_err());
}

#[tokio::test]
async fn oct_key_mixed_into_an_asymmetric_jwk_set_is_refused() {
    // A symmetric key hidden in a set of public keys would let anyone who can
    // read the set (it is public) sign HS256 tokens.
    let mut jwks: Value = serde_json::from_str(&fixture_str("jwks.json")).unwrap();
    jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "oct", "kid": "hmac", "k": b64(SECRET)}));
    let err = KeySet::from_jwks_json(&jwks.to_string()).unwrap_err();
    assert_eq!(err, KeyError::MixedKeySet);
    // A set of only `oct` keys, configured locally, serves HS* and nothing else.
    let set = KeySet::from_jwks_json(
        &json!({"keys": [{"kty": "oct", "kid": "hmac", "k": b64(SECRET)}]}).to_string(),
    )
    .unwrap();
    let auth = Authenticator::builder()
        .key_set(set)
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;
    assert_eq!(
        fetch_bearer(
            addr,
            "/me",
            &token(Algorithm::HS256, Some("hmac"), &claims())
        )
        .await
        .status,
        200
    );
    rejected(
        addr,
        &token(Algorithm::RS256, Some("hmac"), &claims()),
        "algorithm is not allowed",
    )
    .await;
}

#[tokio::test]
async fn two_bearer_tokens_are_a_malformed_request() {
    let addr = hmac_server().await;
    let t = hs256(&claims());
    for value in [
        format!("Bearer {t} {t}"),
        format!("Bearer {t}, Bearer {t}"),
        format!("Bearer {t},{t}"),
    ] {
        let r = fetch(addr, "/me", Some(&value)).await;
        assert_eq!(r.status, 400, "{value}");
        assert!(r.www.contains("invalid_request"));
    }
    // Two Authorization headers, one of them valid: still malformed.
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/me"))
        .header("authorization", format!("Bearer {t}"))
        .header("authorization", "Bearer x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn whitespace_and_non_ascii_tricks_in_the_header_are_rejected() {
    let addr = hmac_server().await;
    let t = hs256(&claims());
    for (value, status) in [
        (format!("Bearer\t{t}"), 400),
        (format!("Bearer {t}\tx"), 400),
        (format!("Bearer\u{a0}{t}"), 400),
        (format!("Bearer {t}\u{200b}"), 400),
        (format!("B\u{0435}arer {t}"), 401),
        (format!("Bearer%20{t}"), 401),
        (format!("Bearer {}", t.replace('.', "\u{2024}")), 400),
    ] {
        let r = reqwest::Client::new()
            .get(format!("http://{addr}/me"))
            .header(
                "authorization",
                reqwest::header::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{value:?}");
    }
    // Extra spaces between scheme and token and around the value are legal.
    let r = fetch(addr, "/me", Some(&format!("bearer    {t}  "))).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn token_in_the_query_string_is_ignored() {
    let addr = hmac_server().await;
    let t = hs256(&claims());
    for path in [format!("/me?access_token={t}"), format!("/me?token={t}")] {
        let r = fetch(addr, &path, None).await;
        assert_eq!((r.status, r.www.as_str()), (401, "Bearer"), "{path}");
    }
}

#[tokio::test]
async fn kid_of_an_rsa_key_with_an_hmac_alg_is_rejected() {
    // Confusion through kid: the token names the RSA key but claims HS256,
    // on a server where HS256 is allowed (it also holds an HMAC secret).
    let addr = mixed_server().await;
    let t = raw_token(
        r#"{"alg":"HS256","kid":"rsa-1"}"#,
        &payload(),
        Algorithm::HS256,
        &common::forge::secret_key(fixture("rsa2048_public.pem")),
    );
    rejected(addr, &t, "algorithm is not allowed").await;
    // Sanity: the same server accepts a real HS256 token and a real RS256 one.
    assert_eq!(
        fetch_bearer(addr, "/me", &hs256(&claims())).await.status,
        200
    );
    let rs = token(Algorithm::RS256, Some("rsa-1"), &claims());
    assert_eq!(fetch_bearer(addr, "/me", &rs).await.status, 200);
}

#[tokio::test]
async fn one_issuers_key_cannot_mint_tokens_for_another_issuer() {
    // Two issuers in one authenticator: an internal HMAC secret and an
    // identity provider's RSA key. Bound to their issuers, whoever holds the
    // internal secret cannot sign as the identity provider.
    let idp = KeySet::from_jwks_json(&fixture_str("jwks.json"))
        .unwrap()
        .with_issuer("https://idp");
    let auth = Authenticator::builder()
        .key(
            tower_jwt_auth::keys::Key::hmac(SECRET)
                .unwrap()
                .with_issuer("internal"),
        )
        .key_set(idp)
        .issuer(["internal", "https://idp"])
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;
    let as_idp = json!({"iss": "https://idp", "sub": "alice", "exp": NOW + 600});
    rejected(addr, &hs256(&as_idp), "issuer is not accepted").await;
    let rs = token(Algorithm::RS256, Some("rsa-1"), &as_idp);
    assert_eq!(fetch_bearer(addr, "/me", &rs).await.status, 200);
    let internal = json!({"iss": "internal", "sub": "job", "exp": NOW + 600});
    assert_eq!(
        fetch_bearer(addr, "/me", &hs256(&internal)).await.status,
        200
    );
    rejected(
        addr,
        &token(Algorithm::RS256, Some("rsa-1"), &internal),
        "issuer is not accepted",
    )
    .await;
}

/// Issue 17, finding 4: a token bound by a confirmation method this crate
/// does not check (RFC 8705 mTLS `x5t#S256`, RFC 7800 `jwk`, any other
/// `cnf` member) is refused as a bearer token: accepting it would drop the
/// binding its issuer asked for. An application that checks the binding
/// itself (e.g. its TLS terminator compares the client certificate) opts in
/// per member.
#[tokio::test]
async fn tokens_bound_by_an_unchecked_confirmation_method_are_refused() {
    let x5t = merged(
        &claims(),
        json!({"cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}),
    );
    let jwk = merged(
        &claims(),
        json!({"cnf": {"jwk": {"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRjcSbwFlQs0qXH8sgXvHZW1_1Rf3bjRfn6ChpY"}}}),
    );
    let other = merged(&claims(), json!({"cnf": {"kid": "some-key"}}));
    let addr = hmac_server().await;
    for (case, c) in [("x5t#S256", &x5t), ("jwk", &jwk), ("other", &other)] {
        let token = hs256(c);
        let r = fetch_bearer(addr, "/me", &token).await;
        assert_eq!(r.status, 401, "cnf.{case}: {}", r.body);
        assert!(
            r.www.contains("error=\"invalid_token\""),
            "cnf.{case}: {}",
            r.www
        );
    }

    // Opted in for x5t#S256 (checked elsewhere): accepted; jwk still not.
    let opted = server(
        Authenticator::builder()
            .hmac_secret(SECRET)
            .danger_accept_unverified_confirmation(["x5t#S256"]),
    )
    .await;
    let r = fetch_bearer(opted, "/me", &hs256(&x5t)).await;
    assert_eq!(r.status, 200, "{}", r.www);
    let r = fetch_bearer(opted, "/me", &hs256(&jwk)).await;
    assert_eq!(r.status, 401, "{}", r.www);
    // An unbound token is unaffected either way.
    assert_eq!(
        fetch_bearer(addr, "/me", &hs256(&claims())).await.status,
        200
    );
    assert_eq!(
        fetch_bearer(opted, "/me", &hs256(&claims())).await.status,
        200
    );
}
