//! `Verifier::verify`, a route's `Gate::decide` and `verify_jws` on arbitrary tokens.
//!
//! Every input is first verified as it is (lossy UTF-8). Then its first byte
//! picks a structured mode for the rest (`SEP` = 0xff separates parts):
//! - `mode & 3 == 0`: nothing more;
//! - `1`: `p0 SEP p1 SEP ...`: each part base64url-encoded, joined by `.`
//!   (reaches header JSON, key selection, JWE/part-count checks);
//! - `2`: `header SEP payload`: encoded and *validly signed* with the
//!   algorithm `signing_alg(mode >> 2)` (reaches the claims rules);
//! - `3`: `i_hi i_lo x header SEP payload`: signed as in mode 2, then the
//!   byte at `i` is XORed with `x`: a changed token must be rejected.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::{AuthError, AuthErrorKind, response::Challenge};
use tower_jwt_auth_fuzz::{alg_name, b64, sign, signing_alg, AUTH_ALL, AUTH_STRICT, decide_route, SEP};

/// Checks every way to verify `token`; returns whether authenticator A
/// accepted it, with its claims.
fn check(token: &str) -> Option<serde_json::Value> {
    let a = AUTH_ALL.verifier();
    let claims = a.verify(token);
    let jws = a.verify_jws(token);
    if claims.is_ok() {
        assert!(
            jws.is_ok(),
            "verify accepted what verify_jws rejected: {token:?}"
        );
    }
    if let Ok(payload) = &jws {
        // A JWS that verifies has exactly three segments; the payload returned
        // is the decoded second one.
        let segments: Vec<&str> = token.split('.').collect();
        assert_eq!(segments.len(), 3, "{token:?}");
        assert_eq!(b64(payload), segments[1], "{token:?}");
    }
    for e in [claims.as_ref().err(), jws.as_ref().err()]
        .into_iter()
        .flatten()
    {
        check_error(e);
    }

    let b = AUTH_STRICT.verifier();
    if let Err(e) = b.verify(token) {
        check_error(&e);
    }
    match decide_route(token) {
        Ok(c) => assert!(c
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .any(|s| s == "admin")),
        Err(e) => check_error(&e),
    }
    claims.ok().map(|c| c.as_ref().clone())
}

/// Every rejection renders as an RFC 6750 response (the layer relies on it).
fn check_error(e: &AuthError) {
    let _ = e.to_string();
    if e.kind() != AuthErrorKind::KeySourceUnavailable {
        assert!(!Challenge::bearer(Some("fuzz")).www_authenticate(e).is_empty(), "{e:?}");
        assert!(!Challenge::bearer(None).www_authenticate(e).is_empty(), "{e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    check(&String::from_utf8_lossy(data));

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode & 3 {
        0 => {}
        1 => {
            let token = rest
                .split(|&b| b == SEP)
                .map(b64)
                .collect::<Vec<_>>()
                .join(".");
            check(&token);
        }
        2 => {
            let mut parts = rest.splitn(2, |&b| b == SEP);
            let header = parts.next().unwrap_or_default();
            let payload = parts.next().unwrap_or_default();
            let alg = signing_alg(mode >> 2);
            let token = sign(header, payload, alg);
            if let Some(claims) = check(&token) {
                // No algorithm confusion: what verified is what was signed.
                let header: serde_json::Value = serde_json::from_slice(header).expect("header");
                assert_eq!(header["alg"], alg_name(alg), "{token}");
                assert!(
                    claims.get("exp").is_some_and(serde_json::Value::is_number),
                    "{token}"
                );
            }
        }
        _ => {
            let [hi, lo, x, rest @ ..] = rest else {
                return;
            };
            let mut parts = rest.splitn(2, |&b| b == SEP);
            let header = parts.next().unwrap_or_default();
            let payload = parts.next().unwrap_or_default();
            let alg = signing_alg(mode >> 2);
            let original = sign(header, payload, alg);
            let mut bytes = original.clone().into_bytes();
            let i = usize::from(u16::from_be_bytes([*hi, *lo])) % bytes.len();
            bytes[i] ^= x;
            let Ok(tampered) = String::from_utf8(bytes) else {
                return;
            };
            if tampered != original {
                let a = AUTH_ALL.verifier();
                assert!(
                    a.verify_jws(&tampered).is_err(),
                    "tampered token accepted: {original} -> {tampered}"
                );
                assert!(
                    a.verify(&tampered).is_err(),
                    "tampered token accepted: {original} -> {tampered}"
                );
                let b = AUTH_STRICT.verifier();
                assert!(
                    b.verify(&tampered).is_err(),
                    "tampered token accepted: {original} -> {tampered}"
                );
            }
        }
    }
});
