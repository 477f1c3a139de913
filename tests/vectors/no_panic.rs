//! Property tests: untrusted input never panics, and is always either
//! rejected with an `Err` or given a verdict that is correct.
//!
//! - random bytes / ASCII / token-shaped strings never verify;
//! - valid HS256/RS256/ES256/EdDSA tokens with random mutations (bit flips,
//!   byte deletes/inserts/replaces, truncation, segment swaps and
//!   duplicates, case changes, inserted `.`/`=`/whitespace) never verify once
//!   they differ from the original: base64url decoding is strict (no padding,
//!   no non-zero trailing bits), so every byte of a compact JWS is signed or
//!   is the signature itself (and `segment_trailing_bits_are_strict` checks
//!   every last character of every segment exhaustively);
//! - random JWK Sets (keys typed by `kty` with random material, fully random
//!   members, fixture keys with random edits) never make
//!   `KeySet::from_jwks_json` panic (this includes the all-zero RSA modulus
//!   the `import_jwks` fuzz target found, `fuzz/FINDINGS.md`), and what they
//!   import verifies tokens without panicking;
//! - random `Authorization` values never make `parse_authorization` panic,
//!   and a bearer token it returns is token68 within the size limit.
//!
//! The case counts are kept small for CI (4,500 cases in all, about a second
//! in a debug build); `PROPTEST_CASES=N` runs N cases per property instead. The fuzz targets in
//! `fuzz/` explore the same code paths for much longer.

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use serde_json::{json, Value};
use tower_jwt_auth::parsers::{parse_authorization, Credentials};
use tower_jwt_auth::{clock::FixedClock, keys::Key, keys::KeySet, AuthErrorKind, Authenticator};

const NOW: u64 = 1_800_000_000;
const SECRET: &[u8] = b"no-panic-property-test-secret-0123456789";

const RSA_PUBLIC: &[u8] = include_bytes!("../fixtures/rsa2048_public.pem");
const EC256_PUBLIC: &[u8] = include_bytes!("../fixtures/ec256_public.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../fixtures/ed25519_public.pem");
const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/rsa2048_private.pem");
const EC256_PRIVATE: &[u8] = include_bytes!("../fixtures/ec256_private.pem");
const ED_PRIVATE: &[u8] = include_bytes!("../fixtures/ed25519_private.pem");
const JWKS: &str = include_str!("../fixtures/jwks.json");

/// `cases` per property, unless `PROPTEST_CASES` says otherwise. No file is
/// written on failure (the failing input is in the test output).
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        failure_persistence: None,
        ..Config::with_cases(cases)
    }
}

/// An HMAC secret (no kid) and the fixture RSA, P-256 and Ed25519 keys
/// (with their JWK Set kids), a fixed clock, default rules.
static AUTH: LazyLock<Authenticator> = LazyLock::new(|| {
    let pem = |pem: &[u8], kid: &str| Key::from_pem(pem).expect("fixture pem").with_kid(kid);
    Authenticator::builder()
        .hmac_secret(SECRET)
        .key(pem(RSA_PUBLIC, "rsa-1"))
        .key(pem(EC256_PUBLIC, "ec256-1"))
        .key(pem(ED_PUBLIC, "ed-1"))
        .clock(FixedClock::new(NOW))
        .build()
        .expect("authenticator")
});

/// One valid token per algorithm family. Building `AUTH` first installs a
/// process default crypto provider, which jsonwebtoken's `encode` needs
/// when both backend features are on (`--all-features`).
static TOKENS: LazyLock<Vec<String>> = LazyLock::new(|| {
    LazyLock::force(&AUTH);
    let claims = json!({ "sub": "user-1", "iat": NOW, "exp": NOW + 3600, "scope": "read" });
    let sign = |alg: Algorithm, kid: Option<&str>, key: EncodingKey| {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        let token = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
        AUTH.verifier()
            .verify(&token)
            .expect("a valid token verifies");
        token
    };
    vec![
        sign(Algorithm::HS256, None, EncodingKey::from_secret(SECRET)),
        sign(
            Algorithm::RS256,
            Some("rsa-1"),
            EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("rsa"),
        ),
        sign(
            Algorithm::ES256,
            Some("ec256-1"),
            EncodingKey::from_ec_pem(EC256_PRIVATE).expect("ec"),
        ),
        sign(
            Algorithm::EdDSA,
            Some("ed-1"),
            EncodingKey::from_ed_pem(ED_PRIVATE).expect("ed"),
        ),
    ]
});

/// Asserts that `token` is rejected by both `verify` and `verify_jws`.
fn assert_rejected(token: &str) -> Result<(), TestCaseError> {
    let v = AUTH.verifier();
    let claims = v.verify(token);
    prop_assert!(claims.is_err(), "accepted: {token:?} -> {claims:?}");
    let jws = v.verify_jws(token);
    prop_assert!(jws.is_err(), "verify_jws accepted: {token:?}");
    Ok(())
}

// ---------------------------------------------------------------------------
// Random strings

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn random_bytes_never_verify(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        assert_rejected(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn random_ascii_never_verifies(s in "[ -~]{0,300}") {
        assert_rejected(&s)?;
    }

    #[test]
    fn random_token_shapes_never_verify(
        h in "[A-Za-z0-9_-]{0,80}",
        p in "[A-Za-z0-9_-]{0,80}",
        s in "[A-Za-z0-9_-]{0,120}",
        extra in prop::option::of("[A-Za-z0-9_.-]{0,20}"),
    ) {
        // A header that decodes to JSON now and then, to get past step 2.
        let h = if h.len() % 3 == 0 { URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#) } else { h };
        let token = match extra {
            Some(e) => format!("{h}.{p}.{s}.{e}"),
            None => format!("{h}.{p}.{s}"),
        };
        assert_rejected(&token)?;
    }
}

// ---------------------------------------------------------------------------
// Mutated valid tokens

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    Delete(Index),
    Insert(Index, u8),
    Replace(Index, u8),
    Truncate(Index),
    SwapSegments(Index, Index),
    DuplicateSegment(Index),
    DropSegment(Index),
    ToggleCase(Index),
    InsertChar(Index, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<Index>;
    prop_oneof![
        (idx(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        idx().prop_map(Mutation::Delete),
        (idx(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (idx(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        idx().prop_map(Mutation::Truncate),
        (idx(), idx()).prop_map(|(i, j)| Mutation::SwapSegments(i, j)),
        idx().prop_map(Mutation::DuplicateSegment),
        idx().prop_map(Mutation::DropSegment),
        idx().prop_map(Mutation::ToggleCase),
        (
            idx(),
            prop::sample::select(vec!['.', '=', ' ', '\t', '\n', '\r', '+', '/', '\0'])
        )
            .prop_map(|(i, c)| Mutation::InsertChar(i, c)),
    ]
}

fn segments(token: &[u8]) -> Vec<Vec<u8>> {
    token.split(|&b| b == b'.').map(<[u8]>::to_vec).collect()
}

fn apply(token: &mut Vec<u8>, m: &Mutation) {
    let len = token.len();
    let at = |i: &Index| i.index(len + 1); // insertion point, 0..=len
    match m {
        Mutation::FlipBit(i, b) if len > 0 => token[i.index(len)] ^= 1 << b,
        Mutation::Delete(i) if len > 0 => {
            token.remove(i.index(len));
        }
        Mutation::Insert(i, b) => token.insert(at(i), *b),
        Mutation::Replace(i, b) if len > 0 => token[i.index(len)] = *b,
        Mutation::Truncate(i) => token.truncate(i.index(len.max(1))),
        Mutation::SwapSegments(i, j) => {
            let mut segs = segments(token);
            let (i, j) = (i.index(segs.len()), j.index(segs.len()));
            segs.swap(i, j);
            *token = segs.join(&b'.');
        }
        Mutation::DuplicateSegment(i) => {
            let mut segs = segments(token);
            let i = i.index(segs.len());
            segs.insert(i, segs[i].clone());
            *token = segs.join(&b'.');
        }
        Mutation::DropSegment(i) => {
            let mut segs = segments(token);
            segs.remove(i.index(segs.len()));
            *token = segs.join(&b'.');
        }
        Mutation::ToggleCase(i) if len > 0 => {
            // The first letter at or after i (wrapping), if any.
            let start = i.index(len);
            if let Some(p) = (0..len)
                .map(|k| (start + k) % len)
                .find(|&p| token[p].is_ascii_alphabetic())
            {
                token[p] ^= 0x20;
            }
        }
        Mutation::InsertChar(i, c) => {
            let mut buf = [0u8; 4];
            let at = at(i);
            token.splice(at..at, c.encode_utf8(&mut buf).bytes());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn mutated_tokens_are_rejected(
        which in 0..4usize,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let original = &TOKENS[which];
        let mut bytes = original.clone().into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let mutated = String::from_utf8_lossy(&bytes);
        if mutated == original.as_str() {
            // Mutations that cancel out (a bit flipped twice, a segment
            // swapped with itself): the token is still valid.
            prop_assert!(AUTH.verifier().verify(&mutated).is_ok());
        } else {
            assert_rejected(&mutated)?;
        }
    }
}

/// The last character of a base64url segment carries 2 or 4 bits that are
/// not part of the data. A lenient decoder maps several characters to the
/// same bytes there; the verifier's decoder is strict, so exactly one
/// character (the original) is accepted at the end of each segment.
#[test]
fn segment_trailing_bits_are_strict() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for token in TOKENS.iter() {
        let ends: Vec<usize> = token
            .match_indices('.')
            .map(|(i, _)| i - 1)
            .chain([token.len() - 1])
            .collect();
        for end in ends {
            for &c in ALPHABET {
                let mut bytes = token.clone().into_bytes();
                bytes[end] = c;
                let candidate = String::from_utf8(bytes).expect("ascii");
                let accepted = AUTH.verifier().verify(&candidate).is_ok();
                assert_eq!(accepted, candidate == *token, "{candidate}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Random JWK Sets

const ALG_NAMES: [&str; 17] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "EdDSA", "none", "NONE", "RSA-OAEP", "",
];

/// A member value: usually a base64url string of `bytes`, sometimes a
/// string that is not base64url, sometimes not a string at all.
fn b64_member(bytes: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => bytes.prop_map(|b| Value::String(URL_SAFE_NO_PAD.encode(b))),
        1 => "[A-Za-z0-9_=+/ -]{0,12}".prop_map(Value::String),
        1 => prop_oneof![Just(json!(1)), Just(json!(null)), Just(json!(["AQAB"])), Just(json!({}))],
    ]
}

fn text(options: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(options).prop_map(|s| json!(s)),
        1 => "[A-Za-z0-9-]{0,8}".prop_map(Value::String),
        1 => Just(json!(7)),
    ]
}

/// Key material lengths that matter: RSA moduli around the policy bound,
/// exponents, all-zero moduli, EC coordinates of either curve, Ed25519 keys.
fn material() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..70),
        prop::collection::vec(any::<u8>(), 250..260),
        prop::collection::vec(Just(0u8), 0..4),
        prop::sample::select(vec![32usize, 48, 31, 33, 64])
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
        prop::sample::select(vec![vec![1u8, 0, 1], vec![3], vec![1], vec![2], vec![]]),
    ]
}

fn random_jwk() -> impl Strategy<Value = Value> {
    let member = |s: &'static [&'static str]| prop::option::of(text(s));
    (
        (
            member(&["RSA", "EC", "OKP", "oct", "rsa"]),
            member(&["P-256", "P-384", "P-521", "Ed25519", "X25519", "secp256k1"]),
            member(&ALG_NAMES),
            member(&["sig", "enc", "SIG"]),
            prop::option::of(prop_oneof![
                prop::collection::vec(
                    prop::sample::select(vec!["verify", "sign", "encrypt", "Verify"]),
                    0..3
                )
                .prop_map(|ops| json!(ops)),
                Just(json!("verify")),
            ]),
            prop::option::of(prop_oneof![
                "[a-z0-9-]{0,6}".prop_map(Value::String),
                Just(json!(1))
            ]),
        ),
        (
            prop::option::of(b64_member(material())),
            prop::option::of(b64_member(material())),
            prop::option::of(b64_member(material())),
            prop::option::of(b64_member(material())),
            prop::option::of(b64_member(material())),
            prop::option::of(b64_member(material())),
        ),
    )
        .prop_map(
            |((kty, crv, alg, use_, key_ops, kid), (n, e, x, y, k, d))| {
                let mut jwk = serde_json::Map::new();
                for (name, value) in [
                    ("kty", kty),
                    ("crv", crv),
                    ("alg", alg),
                    ("use", use_),
                    ("key_ops", key_ops),
                    ("kid", kid),
                    ("n", n),
                    ("e", e),
                    ("x", x),
                    ("y", y),
                    ("k", k),
                    ("d", d),
                ] {
                    if let Some(v) = value {
                        jwk.insert(name.to_owned(), v);
                    }
                }
                Value::Object(jwk)
            },
        )
}

/// A fixture JWK (valid) with random members replaced or removed.
fn edited_fixture_jwk() -> impl Strategy<Value = Value> {
    let fixtures: Vec<Value> = serde_json::from_str::<Value>(JWKS).expect("jwks")["keys"]
        .as_array()
        .expect("keys")
        .clone();
    let names = vec![
        "kty", "crv", "alg", "use", "key_ops", "kid", "n", "e", "x", "y", "d",
    ];
    (
        prop::sample::select(fixtures),
        prop::collection::vec(
            (
                prop::sample::select(names),
                prop::option::of(b64_member(material())),
            ),
            0..2,
        ),
    )
        .prop_map(|(mut jwk, edits)| {
            let obj = jwk.as_object_mut().expect("object");
            for (name, value) in edits {
                match value {
                    Some(v) => obj.insert(name.to_owned(), v),
                    None => obj.remove(name),
                };
            }
            jwk
        })
}

/// Members of the fixture JWK Set, decoded: (kty, member name) -> bytes.
fn fixture_member(kid: &str, name: &str) -> Vec<u8> {
    let jwks: Value = serde_json::from_str(JWKS).expect("jwks");
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("fixture kid");
    URL_SAFE_NO_PAD
        .decode(key[name].as_str().expect("member"))
        .expect("base64url")
}

fn bytes_of(len: std::ops::Range<usize>) -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(any::<u8>(), len).boxed()
}

/// A JWK whose members fit its `kty` (so imports get past the shape checks
/// to the key policy: RSA size/exponent/ROCA, EC points, Ed25519 length,
/// HMAC length), with random material and random `alg`/`use`/`key_ops`/`kid`.
fn typed_jwk() -> impl Strategy<Value = Value> {
    let rsa_n = prop_oneof![
        Just(fixture_member("rsa-1", "n")),
        // A 2048-bit random modulus: passes the size policy, verifies nothing.
        bytes_of(256..257).prop_map(|mut n| {
            n[0] |= 0x80;
            n
        }),
        bytes_of(0..70),
        bytes_of(250..260),
        prop::collection::vec(Just(0u8), 0..4),
    ];
    let rsa_e = prop::sample::select(vec![
        vec![1, 0, 1],
        vec![3],
        vec![1],
        vec![2],
        vec![],
        vec![0, 0, 1, 0, 1],
        vec![1; 9],
    ]);
    let rsa = (rsa_n, rsa_e).prop_map(|(n, e)| {
        json!({ "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e) })
    });
    let ec = prop_oneof![
        Just(("P-256", fixture_member("ec256-1", "x"), fixture_member("ec256-1", "y"))),
        Just(("P-384", fixture_member("ec384-1", "x"), fixture_member("ec384-1", "y"))),
        (bytes_of(32..33), bytes_of(32..33)).prop_map(|(x, y)| ("P-256", x, y)),
        (bytes_of(48..49), bytes_of(48..49)).prop_map(|(x, y)| ("P-384", x, y)),
        (bytes_of(31..34), bytes_of(47..50)).prop_map(|(x, y)| ("P-256", x, y)),
        // Swapped curves: the right sizes for the other one.
        Just(("P-256", fixture_member("ec384-1", "x"), fixture_member("ec384-1", "y"))),
        Just(("P-384", fixture_member("ec256-1", "x"), fixture_member("ec256-1", "y"))),
    ]
    .prop_map(|(crv, x, y)| {
        json!({ "kty": "EC", "crv": crv, "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y) })
    });
    let okp = prop_oneof![
        Just(fixture_member("ed-1", "x")),
        bytes_of(32..33),
        bytes_of(0..40),
    ]
    .prop_map(|x| json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(x) }));
    let oct = prop_oneof![bytes_of(28..36), bytes_of(44..70), bytes_of(0..8)]
        .prop_map(|k| json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(k) }));
    let key = prop_oneof![3 => rsa, 3 => ec, 2 => okp, 2 => oct];
    let extras = (
        prop::option::of(prop::sample::select(ALG_NAMES.to_vec())),
        prop::option::of(prop::sample::select(vec!["sig", "enc"])),
        prop::option::of(prop::sample::select(vec![
            vec!["verify"],
            vec!["sign", "verify"],
            vec!["encrypt"],
            vec![],
        ])),
        prop::option::of("[a-z0-9-]{0,3}"),
    );
    (key, extras).prop_map(|(mut jwk, (alg, use_, key_ops, kid))| {
        let obj = jwk.as_object_mut().expect("object");
        if let Some(alg) = alg {
            obj.insert("alg".into(), json!(alg));
        }
        if let Some(use_) = use_ {
            obj.insert("use".into(), json!(use_));
        }
        if let Some(ops) = key_ops {
            obj.insert("key_ops".into(), json!(ops));
        }
        if let Some(kid) = kid {
            obj.insert("kid".into(), json!(kid));
        }
        jwk
    })
}

fn jwk_set() -> impl Strategy<Value = String> {
    let jwk = prop_oneof![
        4 => typed_jwk(),
        2 => random_jwk(),
        2 => edited_fixture_jwk(),
        1 => Just(json!("AQAB")),
    ];
    prop_oneof![
        8 => prop::collection::vec(jwk, 1..4).prop_map(|keys| json!({ "keys": keys }).to_string()),
        1 => Just(r#"{"keys":[]}"#.to_owned()),
        1 => Just(r#"{"keys":{}}"#.to_owned()),
        1 => "[ -~]{0,40}",
    ]
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn random_jwk_sets_never_panic(json in jwk_set()) {
        LazyLock::force(&TOKENS);
        if let Ok(set) = KeySet::from_jwks_json(&json) {
            prop_assert!(!set.is_empty());
            for key in set.iter() {
                prop_assert!(!key.algorithms().is_empty(), "{key:?}");
            }
            // Whatever imported verifies (or refuses) real tokens without panicking.
            if let Ok(auth) = Authenticator::builder()
                .key_set(set)
                .clock(FixedClock::new(NOW))
                .build()
            {
                for token in TOKENS.iter() {
                    let _ = auth.verifier().verify(token);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Authorization header values

fn is_token68(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let pick = |weighted: Vec<(u32, &'static str)>| {
        prop::strategy::Union::new_weighted(
            weighted
                .into_iter()
                .map(|(w, s)| (w, Just(s)))
                .collect::<Vec<_>>(),
        )
    };
    let structured = (
        pick(vec![
            (3, "Bearer"),
            (1, "bearer"),
            (1, "BEARER"),
            (1, "BeArEr"),
            (1, "Basic"),
            (1, "Bearerx"),
            (1, "Bear"),
            (1, ""),
        ]),
        pick(vec![(6, " "), (2, "  "), (1, "\t"), (1, ""), (1, " \t")]),
        // token68: a body, then padding (an `=` inside comes from the suffix).
        ("[A-Za-z0-9._~+/-]{0,40}", "={0,2}").prop_map(|(body, pad)| body + &pad),
        pick(vec![
            (6, ""),
            (1, " "),
            (1, "\t"),
            (1, " x"),
            (1, "=="),
            (1, ","),
            (1, "\u{e9}"),
            (1, " Bearer a"),
            (1, "=a"),
        ]),
        pick(vec![(4, ""), (1, " "), (1, "\t")]),
    )
        .prop_map(|(scheme, sep, token, suffix, lead)| {
            format!("{lead}{scheme}{sep}{token}{suffix}").into_bytes()
        });
    prop_oneof![
        3 => structured,
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => "[ -~]{0,64}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn authorization_values_never_panic(
        value in header_value(),
        limit in prop_oneof![0usize..48, Just(8192usize), Just(8192usize)],
    ) {
        match parse_authorization(&value, limit) {
            Ok(Credentials::Bearer(t) | Credentials::Dpop(t)) => {
                prop_assert!(is_token68(t), "{t:?} from {value:?}");
                prop_assert!(t.len() <= limit, "{t:?} longer than {limit}");
            }
            Ok(Credentials::None) => {}
            Err(e) => prop_assert!(
                matches!(e.kind(), AuthErrorKind::MalformedRequest | AuthErrorKind::TokenTooLarge),
                "{e:?}"
            ),
        }
    }
}
