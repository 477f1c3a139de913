//! Writes the committed seed inputs into `fuzz/seeds/<target>/`.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --features seedgen --bin gen_seeds
//! ```
//!
//! Seeds are regenerated from the fixture keys; ECDSA signatures are
//! randomized, so ES256/ES384 seeds differ from run to run.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::json;
use tower_jwt_auth_fuzz::{
    b64, valid_tokens, AUTH_ALL, AUTH_STRICT, EC256_PUBLIC, EC384_PUBLIC, ED_PUBLIC, JWKS, NOW,
    decide_route, RSA_PUBLIC, SECRET, SEP,
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
    let claims = json!({ "sub": "user-1", "exp": NOW + 3600, "iat": NOW }).to_string();
    let strict = json!({
        "sub": "user-1", "exp": NOW + 3600, "nbf": NOW - 10, "iat": NOW,
        "iss": "https://issuer.example", "aud": ["api", "x"], "scope": "read admin",
    })
    .to_string();

    // verify_token
    let d = dir(&root, "verify_token");
    let tokens = valid_tokens();
    for (i, t) in tokens.iter().enumerate() {
        // The last two are for the strict authenticator, the rest for AUTH_ALL.
        if i + 2 < tokens.len() {
            AUTH_ALL.verifier().verify(t).expect("valid seed token");
        } else {
            decide_route(t).expect("valid strict seed token");
        }
        write(&d, &format!("valid-{i:02}"), t);
    }
    let hs = &tokens[0];
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

    // import_jwks
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
        json!({"keys": [{"kty": "oct", "k": b64(SECRET), "kid": "h", "alg": "HS512"}]}).to_string(),
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

    // parse_authorization
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
    println!("seeds written to {}", root.display());
}
