//! The RFC 7662 introspection answer (feature `remote`): arbitrary bytes as
//! the endpoint's answer for an opaque token, read and cached by the
//! authenticator's introspector (`fuzzing::introspection_answer`, compiled
//! only under `--cfg fuzzing`), then the token through `Gate::decide`,
//! which meets the cached answer: the claim rules, typed claims, scopes.
//!
//! Two authenticators, introspection only (no keys), `FixedClock` at `NOW`:
//! - **A**: claims as `serde_json::Value`, default rules;
//! - **B**: typed claims (`TypedClaims`), `iss`, `aud`, required `sub`, and
//!   a route requiring scope `admin`.
//!
//! Before each answer the token's cached answer is reset to
//! `{"active":false}`, so an answer that is not read (or not cached: its
//! `exp` has passed) leaves the token inactive, never a former answer.
//!
//! Every input is the answer as it is. Then, when its first byte is
//! `0x01`, the rest as a JSON object with what it lacks of `active: true`,
//! `exp: NOW + 60`, `iss`, `aud` and `sub` added (reaches the rules).

#![no_main]

use std::sync::LazyLock;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::fuzzing::introspection_answer;
use tower_jwt_auth::remote::Introspection;
use tower_jwt_auth::{clock::FixedClock, AuthErrorKind, Authenticator, Decision, Gate};
use tower_jwt_auth_fuzz::{TypedClaims, NOW};

/// Not a JWS: introspected even when an authenticator has keys.
const TOKEN: &str = "opaque-token-1";

fn endpoint() -> Introspection {
    Introspection::endpoint("https://as.example/introspect")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

static AUTH_A: LazyLock<Authenticator> = LazyLock::new(|| {
    block_on(
        Authenticator::builder()
            .introspection(endpoint())
            .clock(FixedClock::new(NOW))
            .build_async(),
    )
    .expect("authenticator A")
});
static GATE_A: LazyLock<Gate> = LazyLock::new(|| AUTH_A.layer().into_gate());

static AUTH_B: LazyLock<Authenticator<TypedClaims>> = LazyLock::new(|| {
    block_on(
        Authenticator::builder()
            .claims::<TypedClaims>()
            .introspection(endpoint())
            .issuer(["https://issuer.example"])
            .audience(["api"])
            .require_claim("sub")
            .clock(FixedClock::new(NOW))
            .build_async(),
    )
    .expect("authenticator B")
});
static GATE_B: LazyLock<Gate<TypedClaims>> =
    LazyLock::new(|| AUTH_B.layer().require_scope("admin").into_gate());

fn decide<C: Send + Sync + 'static>(gate: &Gate<C>) -> Decision<C> {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {TOKEN}")).expect("header"),
    );
    gate.decide(&Method::GET, &Uri::from_static("/"), &headers)
}

/// `exp` as the cache reads it: floored, and only when it is a number.
fn exp_of(body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("exp")?.as_f64().map(|e| e as u64)
}

/// Checks one authenticator; returns the accepted claims' `scope`, if any.
fn check<C: Send + Sync + 'static>(
    auth: &Authenticator<C>,
    gate: &Gate<C>,
    body: &[u8],
    accepted: impl Fn(&C),
) {
    assert_eq!(
        introspection_answer(auth, TOKEN, br#"{"active":false}"#),
        Some(false)
    );
    let read = introspection_answer(auth, TOKEN, body);
    match decide(gate) {
        Decision::Accept(a) => {
            assert_eq!(read, Some(true), "accepted without an active answer");
            // Never cached past `exp`.
            if let Some(exp) = exp_of(body) {
                assert!(exp > NOW, "accepted an answer expired at {exp}");
            }
            let v: Value = serde_json::from_slice(body).expect("an accepted answer is JSON");
            assert_eq!(v["active"], Value::Bool(true));
            accepted(&**a.claims().expect("claims"));
        }
        Decision::Reject(r) => {
            let e = r.error();
            let _ = e.to_string();
            assert!(!r.challenge().www_authenticate(e).is_empty(), "{e:?}");
            if read != Some(true) {
                assert_eq!(e.kind(), AuthErrorKind::InactiveToken, "{read:?}");
            }
        }
        Decision::Pending(_) => panic!("a cached answer decides at once"),
    }
}

fn check_both(body: &[u8]) {
    check(&AUTH_A, &GATE_A, body, |_| {});
    check(&AUTH_B, &GATE_B, body, |c: &TypedClaims| {
        assert!(c
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .any(|s| s == "admin"));
    });
}

fuzz_target!(|data: &[u8]| {
    check_both(data);
    if let Some((1, rest)) = data.split_first() {
        if let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(rest) {
            for (name, value) in [
                ("active", Value::Bool(true)),
                ("exp", Value::from(NOW + 60)),
                ("iss", Value::from("https://issuer.example")),
                ("aud", Value::from("api")),
                ("sub", Value::from("user-1")),
            ] {
                map.entry(name).or_insert(value);
            }
            check_both(&serde_json::to_vec(&map).expect("json"));
        }
    }
});
