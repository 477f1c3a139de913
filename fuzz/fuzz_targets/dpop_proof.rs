//! The DPoP proof (RFC 9449 §4.3) through `Gate::decide`: `Authorization:
//! DPoP <token>` with an access token bound to a fixture key, and `DPoP:
//! <proof>`. Two gates: DPoP required (no nonces), and DPoP allowed with
//! server nonces. Replay is off (a store that has seen nothing), so every
//! decision depends on the input alone.
//!
//! Every input is first sent as the `DPoP` header value itself (bytes that
//! are no header value: their lossy text without control characters).
//! Then its first byte picks a structured mode for the rest (`SEP` = 0xff
//! separates parts); `k = (mode >> 2) & 3` picks the proof key (ES256,
//! ES384, EdDSA, PS256) and the access token bound to it:
//! - `mode & 3 == 0`: nothing more;
//! - `1`: `p0 SEP p1 SEP ...`: each part base64url-encoded, joined by `.`
//!   (reaches the header JSON, `typ`/`alg`/`jwk` checks, key import);
//! - `2`: `header SEP payload`, *validly signed* with key `k`; bit 4 adds
//!   what the header lacks of `typ`, `alg`, `jwk`; bit 5 what the payload
//!   lacks of `jti`, `htm`, `htu`, `iat`, `ath` (and the gate's current
//!   `nonce`); bit 6: method POST, else GET; bit 7: the nonce gate
//!   (reaches the claims checks, `htu` normalization, nonces, binding);
//! - `3`: as 2, but sent with the access token of another key: never
//!   accepted (the token's `cnf.jkt` names a different key).

#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::{Decision, Gate};
use tower_jwt_auth_fuzz::{
    b64, dpop_access_token, dpop_ath, dpop_decide, dpop_header, dpop_jkt, dpop_nonce, dpop_proof,
    DPOP_GATE, DPOP_NONCE_GATE, NOW, SEP,
};

/// The decision on `proof` (as `dpop_header` sends it); returns whether it
/// was accepted. `k`: the key the access token is bound to.
fn check(gate: &Gate, method: &Method, k: usize, proof: &[u8]) -> bool {
    let token = dpop_access_token(k);
    // What the gate gets: `proof` itself, or (when it is no header value)
    // its text without control characters.
    let sent = dpop_header(proof);
    match dpop_decide(gate, method, token, sent.as_bytes()) {
        Decision::Accept(accepted) => {
            // Bound to the token's key, and the proof says what it must.
            let bound = accepted.dpop_bound().expect("a DPoP acceptance is bound");
            assert_eq!(bound.thumbprint(), dpop_jkt(k));
            let text = std::str::from_utf8(sent.as_bytes()).expect("an accepted proof is text");
            let parts: Vec<&str> = text.split('.').collect();
            assert_eq!(parts.len(), 3, "{text}");
            let payload = base64_decode(parts[1]).expect("payload is base64url");
            let claims: Value = serde_json::from_slice(&payload).expect("payload is JSON");
            assert_eq!(claims["htm"], method.as_str(), "{claims}");
            assert_eq!(claims["ath"], dpop_ath(token), "{claims}");
            let iat = claims["iat"].as_f64().expect("numeric iat");
            // Default window 60 s each way, plus the default leeway 60 s.
            assert!((iat - NOW as f64).abs() <= 121.0, "{claims}");
            let jti = claims["jti"].as_str().expect("jti");
            assert!(!jti.is_empty() && jti.len() <= 256, "{claims}");
            true
        }
        Decision::Reject(rejection) => {
            // Every refusal renders (WWW-Authenticate with `algs`, nonce).
            let e = rejection.error();
            let _ = e.to_string();
            assert!(
                !rejection.challenge().www_authenticate(e).is_empty(),
                "{e:?}"
            );
            let _ = rejection.to_response::<()>(method, &http::HeaderMap::new());
            false
        }
        Decision::Pending(_) => {
            panic!("no decision waits: no remote keys, the store answers at once")
        }
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

fuzz_target!(|data: &[u8]| {
    check(&DPOP_GATE, &Method::GET, 0, data);
    check(&DPOP_NONCE_GATE, &Method::GET, 0, data);

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let k = usize::from(mode >> 2) & 3;
    match mode & 3 {
        0 => {}
        1 => {
            let proof = rest
                .split(|&b| b == SEP)
                .map(b64)
                .collect::<Vec<_>>()
                .join(".");
            check(&DPOP_GATE, &Method::GET, k, proof.as_bytes());
        }
        m => {
            let mut parts = rest.splitn(2, |&b| b == SEP);
            let header = parts.next().unwrap_or_default();
            let payload = parts.next().unwrap_or_default();
            let method = if mode & 0x40 != 0 {
                Method::POST
            } else {
                Method::GET
            };
            let (gate, nonce) = if mode & 0x80 != 0 {
                (&*DPOP_NONCE_GATE, Some(dpop_nonce()))
            } else {
                (&*DPOP_GATE, None)
            };
            let proof = dpop_proof(
                k,
                header,
                payload,
                mode & 0x10 != 0,
                mode & 0x20 != 0,
                &method,
                nonce,
            );
            if m == 2 {
                check(gate, &method, k, proof.as_bytes());
            } else {
                let other = (k + 1) & 3;
                assert!(
                    !check(gate, &method, other, proof.as_bytes()),
                    "a proof by key {k} accepted for a token bound to key {other}: {proof}"
                );
            }
        }
    }
});
