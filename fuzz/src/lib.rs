//! Shared plumbing of the fuzz targets and the seed generator: fixture keys,
//! the authenticators under test, and the input encodings of the
//! "structured" modes (so the seeds and the targets agree on them).

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, Uri};
use tower_jwt_auth::{
    AuthError, AuthErrorKind, Authenticator, Claims, Decision, clock::FixedClock, Gate, keys::Key, keys::KeySet,
};

/// The fixed "now" of every authenticator (seconds since the epoch).
pub const NOW: u64 = 1_800_000_000;

/// The HMAC secret (64 bytes: verifies HS256, HS384 and HS512).
pub const SECRET: &[u8; 64] = b"fuzz-secret-fuzz-secret-fuzz-secret-fuzz-secret-fuzz-secret-0123";

pub const RSA_PUBLIC: &[u8] = include_bytes!("../../tests/fixtures/rsa2048_public.pem");
pub const EC256_PUBLIC: &[u8] = include_bytes!("../../tests/fixtures/ec256_public.pem");
pub const EC384_PUBLIC: &[u8] = include_bytes!("../../tests/fixtures/ec384_public.pem");
pub const ED_PUBLIC: &[u8] = include_bytes!("../../tests/fixtures/ed25519_public.pem");
pub const RSA_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/rsa2048_private.pem");
pub const EC256_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/ec256_private.pem");
pub const EC384_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/ec384_private.pem");
pub const ED_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/ed25519_private.pem");
pub const JWKS: &str = include_str!("../../tests/fixtures/jwks.json");

/// Separator of the structured modes: never part of UTF-8 text (JSON).
pub const SEP: u8 = 0xff;

/// Authenticator A: every key type at once, default rules. The HMAC secret
/// has no `kid`; the PEM keys have the fixture JWK Set's kids.
pub static AUTH_ALL: LazyLock<Authenticator> = LazyLock::new(|| {
    let pem = |pem: &[u8], kid: &str| Key::from_pem(pem).expect("fixture pem").with_kid(kid);
    Authenticator::builder()
        .hmac_secret(SECRET)
        .key(pem(RSA_PUBLIC, "rsa-1"))
        .key(pem(EC256_PUBLIC, "ec256-1"))
        .key(pem(EC384_PUBLIC, "ec384-1"))
        .key(pem(ED_PUBLIC, "ed-1"))
        .clock(FixedClock::new(NOW))
        .build()
        .expect("authenticator A")
});

/// Typed claims of authenticator B.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
pub struct TypedClaims {
    pub sub: String,
    pub scope: Option<String>,
    pub exp: u64,
}

/// Authenticator B: the fixture JWK Set bound to its issuer, typed claims,
/// issuer, audience,
/// `typ` and a required `sub`.
pub static AUTH_STRICT: LazyLock<Authenticator<TypedClaims>> = LazyLock::new(|| {
    Authenticator::builder()
        .claims::<TypedClaims>()
        // Issuer-bound keys: their tokens must carry exactly this `iss`.
        .key_set(
            KeySet::from_jwks_json(JWKS)
                .expect("fixture jwks")
                .with_issuer("https://issuer.example"),
        )
        .issuer(["https://issuer.example"])
        .audience(["api"])
        .require_claim("sub")
        .typ("at+jwt")
        .clock(FixedClock::new(NOW))
        .build()
        .expect("authenticator B")
});

/// A route of authenticator B, with rules of its own.
pub static ROUTE: LazyLock<Gate<TypedClaims>> = LazyLock::new(|| {
    AUTH_STRICT
        .layer()
        .require_scope("admin")
        .audience(["api", "other"])
        .into_gate()
});

/// The route's decision for `token` sent as `Authorization: Bearer`.
pub fn decide_route(token: &str) -> Result<Claims<TypedClaims>, AuthError> {
    let value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| AuthError::new(AuthErrorKind::MalformedRequest))?;
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    match ROUTE.decide(&Method::GET, &Uri::from_static("/"), &headers) {
        Decision::Accept(accepted) => accepted
            .into_claims()
            .ok_or_else(|| AuthError::new(AuthErrorKind::Missing)),
        Decision::Reject(rejection) => Err(rejection.error().clone()),
        Decision::Pending(_) => panic!("no decision waits without remote keys"),
    }
}

/// The algorithm the "signed" mode of `verify_token` signs with.
pub fn signing_alg(selector: u8) -> Algorithm {
    match selector & 7 {
        0 | 4 => Algorithm::HS256,
        1 => Algorithm::HS384,
        2 => Algorithm::HS512,
        3 | 7 => Algorithm::EdDSA,
        5 => Algorithm::ES256,
        _ => Algorithm::RS256,
    }
}

/// The private key for `alg` (fixture keys, and [`SECRET`] for HMAC).
pub fn encoding_key(alg: Algorithm) -> &'static EncodingKey {
    static HMAC: LazyLock<EncodingKey> = LazyLock::new(|| EncodingKey::from_secret(SECRET));
    static RSA: LazyLock<EncodingKey> =
        LazyLock::new(|| EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("rsa"));
    static EC256: LazyLock<EncodingKey> =
        LazyLock::new(|| EncodingKey::from_ec_pem(EC256_PRIVATE).expect("ec256"));
    static EC384: LazyLock<EncodingKey> =
        LazyLock::new(|| EncodingKey::from_ec_pem(EC384_PRIVATE).expect("ec384"));
    static ED: LazyLock<EncodingKey> =
        LazyLock::new(|| EncodingKey::from_ed_pem(ED_PRIVATE).expect("ed25519"));
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => &HMAC,
        Algorithm::ES256 => &EC256,
        Algorithm::ES384 => &EC384,
        Algorithm::EdDSA => &ED,
        _ => &RSA,
    }
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload` (each base64url-encoded) signed with `alg`.
pub fn sign(header: &[u8], payload: &[u8], alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), encoding_key(alg), alg).expect("sign");
    format!("{message}.{sig}")
}

/// A compact JWS from JSON texts.
pub fn token(alg: Algorithm, kid: Option<&str>, typ: Option<&str>, claims: &Value) -> String {
    let mut header = serde_json::json!({ "alg": alg_name(alg) });
    if let Some(kid) = kid {
        header["kid"] = kid.into();
    }
    if let Some(typ) = typ {
        header["typ"] = typ.into();
    }
    sign(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        alg,
    )
}

pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
}

/// The structured JWK of `import_jwks` mode 3: `kty SEP crv SEP alg SEP a
/// SEP b [SEP kid]`, where `a` and `b` are raw bytes that become the
/// base64url members (`n`/`x`/`k` and `e`/`y`).
pub fn structured_jwk(data: &[u8]) -> String {
    let mut parts = data.split(|&b| b == SEP);
    let mut text = || {
        parts
            .next()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    };
    let (kty, crv, alg) = (text(), text(), text());
    let (a, b) = (parts.next(), parts.next());
    let kid = parts
        .next()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut jwk = serde_json::Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            jwk.insert(k.to_owned(), Value::String(v));
        }
    };
    put("kty", kty);
    put("crv", crv.filter(|s| !s.is_empty()));
    put("alg", alg.filter(|s| !s.is_empty()));
    put("kid", kid);
    if let Some(a) = a {
        let a = b64(a);
        put("n", Some(a.clone()));
        put("x", Some(a.clone()));
        put("k", Some(a));
    }
    if let Some(b) = b {
        let b = b64(b);
        put("e", Some(b.clone()));
        put("y", Some(b));
    }
    serde_json::json!({ "keys": [Value::Object(jwk)] }).to_string()
}

/// A PEM document around `der` with `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::engine::general_purpose::STANDARD;
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The PEM labels `import_jwks` mode 1 wraps DER in.
pub const PEM_LABELS: [&str; 4] = [
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "PRIVATE KEY",
    "EC PRIVATE KEY",
];

/// Valid tokens with every key of [`AUTH_ALL`], and one for [`AUTH_STRICT`].
pub fn valid_tokens() -> Vec<String> {
    let claims = serde_json::json!({ "sub": "user-1", "exp": NOW + 3600, "iat": NOW });
    let mut out = vec![
        token(Algorithm::HS256, None, None, &claims),
        token(Algorithm::HS384, None, Some("JWT"), &claims),
        token(Algorithm::HS512, None, None, &claims),
        token(Algorithm::RS256, Some("rsa-1"), None, &claims),
        token(Algorithm::PS256, Some("rsa-1"), None, &claims),
        token(Algorithm::ES256, Some("ec256-1"), None, &claims),
        token(Algorithm::ES384, Some("ec384-1"), None, &claims),
        token(Algorithm::EdDSA, Some("ed-1"), None, &claims),
    ];
    let strict = serde_json::json!({
        "sub": "user-1", "exp": NOW + 3600, "nbf": NOW - 10, "iat": NOW,
        "iss": "https://issuer.example", "aud": ["api", "x"], "scope": "read admin",
    });
    out.push(token(
        Algorithm::ES256,
        Some("ec256-1"),
        Some("at+jwt"),
        &strict,
    ));
    out.push(token(
        Algorithm::EdDSA,
        Some("ed-1"),
        Some("application/at+jwt"),
        &strict,
    ));
    out
}

// ---------------------------------------------------------------- DPoP

/// The request URL every DPoP proof is for (`public_url` + the path).
pub const DPOP_HTU: &str = "https://api.example/resource";
/// The request's path and query, as `Gate::decide` gets it.
pub const DPOP_PATH: &str = "/resource?page=2";

/// A replay store that has never seen a proof: the fuzzer may send a valid
/// proof many times, and each decision depends on that input alone.
#[derive(Debug)]
pub struct NeverSeen;

impl tower_jwt_auth::dpop::ReplayStore for NeverSeen {
    fn insert_new(
        &self,
        _key: &[u8; 32],
        _expires_at: u64,
        _now: u64,
    ) -> Result<bool, tower_jwt_auth::dpop::ReplayStoreError> {
        Ok(true)
    }
}

fn dpop_authenticator(config: tower_jwt_auth::dpop::DpopConfig) -> Authenticator {
    Authenticator::builder()
        .hmac_secret(SECRET)
        .dpop(config.public_url("https://api.example").replay_store(NeverSeen))
        .clock(FixedClock::new(NOW))
        .build()
        .expect("dpop authenticator")
}

/// DPoP required; no server nonces.
pub static DPOP_GATE: LazyLock<Gate> = LazyLock::new(|| {
    use tower_jwt_auth::dpop::{DpopConfig, DpopMode};
    dpop_authenticator(DpopConfig::new(DpopMode::Required)).layer().into_gate()
});

/// DPoP or Bearer, with server nonces (fixed nonce key).
pub static DPOP_NONCE_GATE: LazyLock<Gate> = LazyLock::new(|| {
    use std::time::Duration;
    use tower_jwt_auth::dpop::{DpopConfig, DpopMode};
    dpop_authenticator(
        DpopConfig::new(DpopMode::Allowed)
            .nonces(Duration::from_secs(300))
            .nonce_key([7u8; 32]),
    )
    .layer()
    .into_gate()
});

/// The proof keys: the fixture keys (JWK form from `jwks.json`) and the
/// algorithm each signs proofs with.
pub const DPOP_KEYS: [(Algorithm, usize); 4] = [
    (Algorithm::ES256, 1),
    (Algorithm::ES384, 2),
    (Algorithm::EdDSA, 3),
    (Algorithm::PS256, 0),
];

/// The public JWK of proof key `k` (public members only).
pub fn dpop_jwk(k: usize) -> serde_json::Map<String, Value> {
    let set: Value = serde_json::from_str(JWKS).expect("fixture jwks");
    let mut jwk = set["keys"][DPOP_KEYS[k % 4].1]
        .as_object()
        .expect("jwk")
        .clone();
    jwk.retain(|name, _| matches!(name.as_str(), "kty" | "crv" | "x" | "y" | "n" | "e"));
    jwk
}

/// RFC 7638 thumbprint of proof key `k`.
pub fn dpop_jkt(k: usize) -> String {
    tower_jwt_auth::dpop::jwk_thumbprint(&dpop_jwk(k)).expect("thumbprint")
}

/// An access token (HS256, [`SECRET`]) bound to proof key `k` (`cnf.jkt`).
pub fn dpop_access_token(k: usize) -> &'static str {
    static TOKENS: LazyLock<Vec<String>> = LazyLock::new(|| {
        (0..4)
            .map(|k| {
                let claims = serde_json::json!({
                    "sub": "client-1", "exp": NOW + 3600, "iat": NOW,
                    "cnf": { "jkt": dpop_jkt(k) },
                });
                token(Algorithm::HS256, None, None, &claims)
            })
            .collect()
    });
    &TOKENS[k % 4]
}

/// `ath`: base64url(SHA-256(token)), computed here independently of the
/// crate.
pub fn dpop_ath(token: &str) -> String {
    use sha2::Digest as _;
    b64(sha2::Sha256::digest(token.as_bytes()))
}

/// The nonce [`DPOP_NONCE_GATE`] hands out (its clock is fixed, so it stays
/// fresh): asked for with a proof that has none.
pub fn dpop_nonce() -> &'static str {
    static NONCE: LazyLock<String> = LazyLock::new(|| {
        let proof = dpop_proof(0, b"{}", b"{}", true, true, &Method::GET, None);
        let Decision::Reject(r) = dpop_decide(&DPOP_NONCE_GATE, &Method::GET, dpop_access_token(0), proof.as_bytes())
        else {
            panic!("a proof without a nonce is refused");
        };
        let nonce = r.challenge().dpop_nonce().expect("a nonce is offered");
        nonce.to_str().expect("nonce is text").to_owned()
    });
    &NONCE
}

/// A proof signed with key `k`, from `header` and `payload` JSON texts;
/// when `fill_header`/`fill_payload` and the text is a JSON object, the
/// members a valid proof needs are added where missing (`typ`, `alg`,
/// `jwk`; `jti`, `htm`, `htu`, `iat`, `ath` for `dpop_access_token(k)`,
/// and `nonce` when given).
pub fn dpop_proof(
    k: usize,
    header: &[u8],
    payload: &[u8],
    fill_header: bool,
    fill_payload: bool,
    method: &Method,
    nonce: Option<&str>,
) -> String {
    let alg = DPOP_KEYS[k % 4].0;
    let fill = |text: &[u8], on: bool, members: &dyn Fn() -> Vec<(&'static str, Value)>| {
        match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(mut map)) if on => {
                for (name, value) in members() {
                    map.entry(name).or_insert(value);
                }
                serde_json::to_vec(&map).expect("json")
            }
            _ => text.to_vec(),
        }
    };
    let header = fill(header, fill_header, &|| {
        vec![
            ("typ", Value::from("dpop+jwt")),
            ("alg", Value::from(alg_name(alg))),
            ("jwk", Value::Object(dpop_jwk(k))),
        ]
    });
    let payload = fill(payload, fill_payload, &|| {
        let mut m = vec![
            ("jti", Value::from("proof-1")),
            ("htm", Value::from(method.as_str())),
            ("htu", Value::from(DPOP_HTU)),
            ("iat", Value::from(NOW)),
            ("ath", Value::from(dpop_ath(dpop_access_token(k)))),
        ];
        if let Some(nonce) = nonce {
            m.push(("nonce", Value::from(nonce)));
        }
        m
    });
    sign(&header, &payload, alg)
}

/// The `DPoP` header value `dpop_decide` sends for `proof`: the bytes as
/// they are when they are a header value, else their lossy UTF-8 text
/// without control characters. Checks on an accepted proof read this
/// value, not the input.
pub fn dpop_header(proof: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(proof).unwrap_or_else(|_| {
        let text: String = String::from_utf8_lossy(proof)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        HeaderValue::from_str(&text).expect("no control characters")
    })
}

/// `gate`'s decision on `method DPOP_PATH` with `Authorization: DPoP
/// <token>` and `DPoP: <proof>`; a proof that is no header value is sent
/// as the bytes' lossy text with control characters dropped.
pub fn dpop_decide(gate: &Gate, method: &Method, token: &str, proof: &[u8]) -> Decision {
    let value = dpop_header(proof);
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("DPoP {token}")).expect("token is a header value"),
    );
    headers.insert("dpop", value);
    gate.decide(method, &Uri::from_static(DPOP_PATH), &headers)
}

// ---------------------------------------------------------------- SPIFFE

/// The SPIFFE audience of the JWT-SVIDs the fuzz targets verify.
pub const SVID_AUD: &str = "spiffe://example.org/ns/prod/sa/api";

/// The fixture `jwks.json` as a SPIFFE trust bundle: every key `use:
/// jwt-svid` (the Ed25519 key too, which JWT-SVID algorithms exclude).
pub fn spiffe_bundle() -> String {
    let mut set: Value = serde_json::from_str(JWKS).expect("fixture jwks");
    for key in set["keys"].as_array_mut().expect("keys") {
        key["use"] = "jwt-svid".into();
        key.as_object_mut().expect("jwk").remove("key_ops");
    }
    set["spiffe_sequence"] = 1.into();
    set["spiffe_refresh_hint"] = 300.into();
    set.to_string()
}

/// A JWT-SVID signed with `alg`'s fixture key (kid from the fixture set)
/// for `sub`.
pub fn svid(alg: Algorithm, sub: &str) -> String {
    let kid = match alg {
        Algorithm::ES256 => "ec256-1",
        Algorithm::ES384 => "ec384-1",
        Algorithm::EdDSA => "ed-1",
        _ => "rsa-1",
    };
    let claims = serde_json::json!({ "sub": sub, "aud": [SVID_AUD], "exp": NOW + 300, "iat": NOW });
    token(alg, Some(kid), Some("JWT"), &claims)
}
