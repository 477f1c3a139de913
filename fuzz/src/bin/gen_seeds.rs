//! Writes the committed seed inputs into `fuzz/seeds/<target>/`.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --features seedgen --bin gen_seeds [TARGET...]
//! ```
//!
//! With target names, only those targets' seeds are rewritten.
//!
//! Seeds are regenerated from the fixture keys; ECDSA signatures are
//! randomized, so ES256/ES384 seeds differ from run to run.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::json;
use tower_jwt_auth_fuzz::{
    b64, decide_route, valid_tokens, AUTH_ALL, EC256_PUBLIC, EC384_PUBLIC, ED_PUBLIC, JWKS, NOW,
    RSA_PUBLIC, SECRET, SEP,
};

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&SEP)
}

fn with_mode(mode: u8, rest: impl AsRef<[u8]>) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(rest.as_ref());
    v
}

fn pem_der(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).expect("pem is text");
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("pem body")
}

fn dir(root: &Path, target: &str) -> PathBuf {
    let d = root.join(target);
    if d.exists() {
        std::fs::remove_dir_all(&d).expect("clean seeds");
    }
    std::fs::create_dir_all(&d).expect("mkdir seeds");
    d
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let only: Vec<String> = std::env::args().skip(1).collect();
    let want = |target: &str| only.is_empty() || only.iter().any(|t| t == target);
    let claims = json!({ "sub": "user-1", "exp": NOW + 3600, "iat": NOW }).to_string();
    let strict = json!({
        "sub": "user-1", "exp": NOW + 3600, "nbf": NOW - 10, "iat": NOW,
        "iss": "https://issuer.example", "aud": ["api", "x"], "scope": "read admin",
    })
    .to_string();

    let tokens = valid_tokens();
    let hs = &tokens[0];
    if want("verify_token") {
        let d = dir(&root, "verify_token");
        for (i, t) in tokens.iter().enumerate() {
            // The last two are for the strict authenticator, the rest for AUTH_ALL.
            if i + 2 < tokens.len() {
                AUTH_ALL.verifier().verify(t).expect("valid seed token");
            } else {
                decide_route(t).expect("valid strict seed token");
            }
            write(&d, &format!("valid-{i:02}"), t);
        }
        let segs: Vec<Vec<u8>> = hs
            .split('.')
            .map(|s| URL_SAFE_NO_PAD.decode(s).expect("segment"))
            .collect();
        write(
            &d,
            "parts-valid-hs256",
            with_mode(1, cat(&[&segs[0], &segs[1], &segs[2]])),
        );
        write(
            &d,
            "parts-jwe",
            with_mode(
                1,
                cat(&[
                    br#"{"alg":"dir","enc":"A128GCM"}"#,
                    b"",
                    b"iv",
                    b"ct",
                    b"tag",
                ]),
            ),
        );
        write(
            &d,
            "parts-none",
            with_mode(1, cat(&[br#"{"alg":"none"}"#, claims.as_bytes(), b""])),
        );
        let headers: [(u8, &str); 8] = [
            (0, r#"{"alg":"HS256","typ":"JWT"}"#),
            (1, r#"{"alg":"HS384"}"#),
            (2, r#"{"alg":"HS512","kid":"nope"}"#),
            (3, r#"{"alg":"EdDSA","kid":"ed-1"}"#),
            (4, r#"{"alg":"HS256","crit":["exp"]}"#),
            (5, r#"{"alg":"ES256","kid":"ec256-1"}"#),
            (6, r#"{"alg":"RS256","kid":"rsa-1","b64":true}"#),
            (7, r#"{"alg":"EdDSA"}"#),
        ];
        for (sel, header) in headers {
            let mode = 2 | (sel << 2);
            write(
                &d,
                &format!("signed-{sel}"),
                with_mode(mode, cat(&[header.as_bytes(), claims.as_bytes()])),
            );
            let mode = 3 | (sel << 2);
            let mut rest = vec![0, 7 * sel, 1 << (sel % 6)];
            rest.extend(cat(&[header.as_bytes(), claims.as_bytes()]));
            write(&d, &format!("tamper-{sel}"), with_mode(mode, rest));
        }
        let strict_header = r#"{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}"#;
        write(
            &d,
            "signed-strict",
            with_mode(
                2 | (3 << 2),
                cat(&[strict_header.as_bytes(), strict.as_bytes()]),
            ),
        );
        for (i, payload) in [
            r#"{"exp":"1800003600"}"#,
            r#"{"exp":1e400}"#,
            r#"{"exp":1800003600,"exp":1}"#,
            r#"{"exp":1800003600,"aud":[1]}"#,
            r#"[1800003600]"#,
        ]
        .iter()
        .enumerate()
        {
            write(
                &d,
                &format!("signed-claims-{i}"),
                with_mode(2, cat(&[br#"{"alg":"HS256"}"#, payload.as_bytes()])),
            );
        }
    }

    if want("import_jwks") {
        let d = dir(&root, "import_jwks");
        write(&d, "jwks", JWKS);
        write(
            &d,
            "jwks-rsa1024",
            include_str!("../../../tests/fixtures/jwks_rsa1024.json"),
        );
        write(
            &d,
            "jwks-oct",
            json!({"keys": [{"kty": "oct", "k": b64(SECRET), "kid": "h", "alg": "HS512"}]})
                .to_string(),
        );
        write(
            &d,
            "jwks-skipped",
            r#"{"keys":[{"kty":"OKP","crv":"X25519","x":"AAAA"},{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","key_ops":["encrypt"],"x":"AA","y":"AA"}]}"#,
        );
        for (name, pem) in [
            ("rsa", RSA_PUBLIC),
            ("ec256", EC256_PUBLIC),
            ("ec384", EC384_PUBLIC),
            ("ed", ED_PUBLIC),
        ] {
            write(&d, &format!("pem-{name}"), pem);
            let der = pem_der(pem);
            write(&d, &format!("der-{name}"), with_mode(1, &der));
            if name == "rsa" {
                // SPKI of a 2048-bit key: a 24-byte prefix, then the PKCS#1 RSAPublicKey.
                write(&d, "der-rsa-pkcs1", with_mode(1 | (1 << 2), &der[24..]));
            }
        }
        write(&d, "builder-jwks", with_mode(2, JWKS));
        let jwks: serde_json::Value = serde_json::from_str(JWKS).expect("jwks");
        for (i, k) in jwks["keys"].as_array().expect("keys").iter().enumerate() {
            let s = |n: &str| k[n].as_str().unwrap_or("").as_bytes().to_vec();
            let raw = |n: &str| {
                URL_SAFE_NO_PAD
                    .decode(k[n].as_str().unwrap_or(""))
                    .expect("b64 member")
            };
            let (a, b) = match k["kty"].as_str() {
                Some("RSA") => (raw("n"), raw("e")),
                Some("EC") => (raw("x"), raw("y")),
                _ => (raw("x"), Vec::new()),
            };
            let alg: &[u8] = match i {
                0 => b"RS256",
                1 => b"ES256",
                _ => b"",
            };
            write(
                &d,
                &format!("jwk-{i}"),
                with_mode(3, cat(&[&s("kty"), &s("crv"), alg, &a, &b, &s("kid")])),
            );
        }
        write(
            &d,
            "jwk-oct",
            with_mode(3, cat(&[b"oct", b"", b"HS256", SECRET, b"", b"h"])),
        );
    }

    if want("parse_authorization") {
        let d = dir(&root, "parse_authorization");
        for (i, v) in [
            format!("Bearer {hs}"),
            "bearer a.b.c".into(),
            "BEARER a~+/-_.b==".into(),
            "Bearer   abc ".into(),
            "Basic dXNlcjpwYXNz".into(),
            "Bearer".into(),
            "Bearer\ta.b.c".into(),
            "Bearer a.b.c d".into(),
            "Bearerx abc".into(),
            "Bearer a=b".into(),
            String::new(),
        ]
        .iter()
        .enumerate()
        {
            write(&d, &format!("auth-{i:02}"), v);
        }
    }

    if want("dpop_proof") {
        dpop_proof_seeds(&dir(&root, "dpop_proof"));
    }
    if want("introspection_answer") {
        introspection_answer_seeds(&dir(&root, "introspection_answer"));
    }
    if want("spiffe_bundle") {
        spiffe_bundle_seeds(&dir(&root, "spiffe_bundle"));
    }
    if want("tenant_discovery") {
        tenant_discovery_seeds(&dir(&root, "tenant_discovery"));
    }
    println!("seeds written to {}", root.display());
}

fn dpop_proof_seeds(d: &Path) {
    use http::Method;
    use tower_jwt_auth::Decision;
    use tower_jwt_auth_fuzz::{
        dpop_access_token, dpop_decide, dpop_nonce, dpop_proof, DPOP_GATE, DPOP_HTU,
        DPOP_NONCE_GATE,
    };
    let accepted = |gate, method: &Method, k: usize, proof: &str| {
        matches!(
            dpop_decide(gate, method, dpop_access_token(k), proof.as_bytes()),
            Decision::Accept(_)
        )
    };
    // Raw: valid proofs of key 0 (the raw mode's token), for each gate.
    let get = Method::GET;
    let valid = dpop_proof(0, b"{}", b"{}", true, true, &get, None);
    assert!(accepted(&DPOP_GATE, &get, 0, &valid), "valid seed proof");
    write(d, "raw-valid", &valid);
    // The same with a form feed in the payload: no header value, so the
    // harness sends it without the byte, and it is accepted (FINDINGS 3).
    let dot = valid.find('.').expect("three segments") + 1;
    let mut with_control = valid.as_bytes().to_vec();
    with_control.insert(dot, 0x0c);
    write(d, "raw-valid-control-byte", with_control);
    let with_nonce = dpop_proof(0, b"{}", b"{}", true, true, &get, Some(dpop_nonce()));
    assert!(
        accepted(&DPOP_NONCE_GATE, &get, 0, &with_nonce),
        "valid seed proof with nonce"
    );
    write(d, "raw-valid-nonce", &with_nonce);
    // Parts: a valid proof's decoded segments.
    let segs: Vec<Vec<u8>> = valid
        .split('.')
        .map(|s| URL_SAFE_NO_PAD.decode(s).expect("segment"))
        .collect();
    write(
        d,
        "parts-valid",
        with_mode(1, cat(&[&segs[0], &segs[1], &segs[2]])),
    );
    write(
        d,
        "parts-private-jwk",
        with_mode(
            1,
            cat(&[
                br#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}}"#,
                b"{}",
                b"sig",
            ]),
        ),
    );
    // Signed, everything filled in, for each key, method and gate.
    for k in 0..4u8 {
        for (bits, name) in [(0x30, "get"), (0x70, "post"), (0xb0, "nonce")] {
            let mode = 2 | (k << 2) | bits;
            write(
                d,
                &format!("signed-{k}-{name}"),
                with_mode(mode, cat(&[b"{}", b"{}"])),
            );
        }
        write(
            d,
            &format!("signed-{k}-other-token"),
            with_mode(3 | (k << 2) | 0x30, cat(&[b"{}", b"{}"])),
        );
    }
    // Signed, with members the fuzzer changes.
    for (i, (header, payload)) in [
        (
            r#"{"typ":"application/DPoP+JWT"}"#,
            r#"{"htu":"https://API.example:443/./resource"}"#,
        ),
        (r#"{"alg":"Ed25519"}"#, r#"{"iat":1800000120.9}"#),
        (
            r#"{"crit":["b64"]}"#,
            r#"{"htu":"https://api.example/resource?page=2"}"#,
        ),
        (r#"{"typ":"jwt"}"#, r#"{"htm":"get","jti":""}"#),
        (r#"{}"#, r#"{"nonce":"x","ath":"","iat":"1800000000"}"#),
    ]
    .iter()
    .enumerate()
    {
        write(
            d,
            &format!("signed-edit-{i}"),
            with_mode(
                2 | 0x30 | ((i as u8 & 3) << 2),
                cat(&[header.as_bytes(), payload.as_bytes()]),
            ),
        );
    }
    write(
        d,
        "signed-unfilled",
        with_mode(
            2,
            cat(&[
                br#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"fA9ylB6xDbbFnkRoYUq9JLpJ1hPcZdALARFKxxc2wdY","y":"o8LhECzSK_THLa5pDp7xYwGaMqmJyelaRqIrtuQEwT8"}}"#,
                json!({"jti": "j", "htm": "GET", "htu": DPOP_HTU, "iat": NOW, "ath": "x"})
                    .to_string()
                    .as_bytes(),
            ]),
        ),
    );
}

fn introspection_answer_seeds(d: &Path) {
    let answers = [
        json!({"active": true, "sub": "user-1", "exp": NOW + 60, "iss": "https://issuer.example",
               "aud": "api", "scope": "read admin", "client_id": "c"}),
        json!({"active": true, "sub": "user-1", "exp": NOW - 1}),
        json!({"active": true, "exp": (NOW as f64) + 0.5}),
        json!({"active": false}),
        json!({"active": "true", "sub": "user-1"}),
        json!({"active": 1}),
        json!({"sub": "user-1"}),
        json!({"active": true, "aud": ["api", "x"], "scope": "admin", "sub": "s", "exp": 1e300,
               "cnf": {"jkt": "abc"}, "nbf": NOW + 100}),
    ];
    for (i, a) in answers.iter().enumerate() {
        write(d, &format!("answer-{i}"), a.to_string());
    }
    write(d, "answer-dup", r#"{"active":true,"active":false}"#);
    write(d, "answer-array", "[true]");
    write(d, "fill-empty", with_mode(1, "{}"));
    write(d, "fill-scope", with_mode(1, r#"{"scope":"admin read"}"#));
    write(
        d,
        "fill-inactive",
        with_mode(1, r#"{"active":null,"exp":1}"#),
    );
}

fn spiffe_bundle_seeds(d: &Path) {
    use tower_jwt_auth_fuzz::spiffe_bundle;
    write(d, "bundle", spiffe_bundle());
    write(d, "bundle-jwks", JWKS);
    write(
        d,
        "bundle-mixed",
        r#"{"spiffe_sequence":2,"keys":[{"use":"x509-svid","kty":"EC","crv":"P-256","x":"fA9ylB6xDbbFnkRoYUq9JLpJ1hPcZdALARFKxxc2wdY","y":"o8LhECzSK_THLa5pDp7xYwGaMqmJyelaRqIrtuQEwT8","x5c":["AA=="]},{"use":"jwt-svid","kty":"oct","k":"AAAA"}]}"#,
    );
    let jwks: serde_json::Value = serde_json::from_str(JWKS).expect("jwks");
    for (i, k) in jwks["keys"].as_array().expect("keys").iter().enumerate() {
        let s = |n: &str| k[n].as_str().unwrap_or("").as_bytes().to_vec();
        let raw = |n: &str| {
            URL_SAFE_NO_PAD
                .decode(k[n].as_str().unwrap_or(""))
                .expect("b64 member")
        };
        let (a, b) = match k["kty"].as_str() {
            Some("RSA") => (raw("n"), raw("e")),
            Some("EC") => (raw("x"), raw("y")),
            _ => (raw("x"), Vec::new()),
        };
        write(
            d,
            &format!("jwk-{i}"),
            with_mode(1, cat(&[&s("kty"), &s("crv"), b"", &a, &b, &s("kid")])),
        );
    }
    for (i, id) in [
        "spiffe://example.org/ns/prod/sa/web",
        "spiffe://example.org/ns/prod",
        "spiffe://example.org/ns/production",
        "spiffe://example.org/ns/prod/../x",
        "spiffe://EXAMPLE.org/ns/prod/sa/web",
        "spiffe://example.org",
        "spiffe://td-1.example/a/b/c",
        "spiffe://example.org/ns/prod/sa/web?x#y",
    ]
    .iter()
    .enumerate()
    {
        write(
            d,
            &format!("id-{i}"),
            with_mode(2 | ((i as u8 & 3) << 2), id),
        );
    }
    write(d, "builder-bundle", with_mode(3, spiffe_bundle()));
}

fn tenant_discovery_seeds(d: &Path) {
    let doc = |issuer: &str| {
        json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys"),
               "introspection_endpoint": format!("{issuer}/introspect")})
        .to_string()
    };
    write(d, "doc-p0", doc("https://login.example/t-1/v2.0"));
    write(d, "doc-p1", doc("https://t-1.idp.example"));
    write(d, "doc-p2", doc("http://127.0.0.1:8080/realms/t-1"));
    write(
        d,
        "doc-http-jwks",
        json!({"issuer": "https://login.example/t-1/v2.0", "jwks_uri": "http://idp.example/keys"})
            .to_string(),
    );
    write(
        d,
        "doc-no-jwks",
        json!({"issuer": "https://login.example/t-1/v2.0"}).to_string(),
    );
    for (i, (mode, iss, issuer_in_doc)) in [
        (
            0u8,
            "https://login.example/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            None,
        ),
        (0, "https://login.example/a/b/v2.0", None),
        (0, "https://login.example/../v2.0", None),
        (1, "https://Tenant.A.idp.example", None),
        (1, "https://evil.example#.idp.example", None),
        (2, "http://127.0.0.1:8080/realms/master", None),
        (
            3,
            "https://login.example/t-2/v2.0",
            Some("https://login.example/t-2/v2.0/"),
        ),
    ]
    .iter()
    .enumerate()
    {
        let document = doc(issuer_in_doc.unwrap_or(iss));
        write(
            d,
            &format!("iss-{i}"),
            with_mode(*mode, cat(&[iss.as_bytes(), document.as_bytes()])),
        );
    }
}
