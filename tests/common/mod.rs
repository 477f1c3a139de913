//! Shared test plumbing: real servers on 127.0.0.1:0, real HTTP clients, the
//! fixture files, and (module `forge`) tokens signed with the fixture keys
//! (through `TestIssuer`) and those `TestIssuer` cannot mint. Every test
//! binary declares this module once, in its main.rs.
#![allow(dead_code)]

pub mod dpop;
pub mod forge;
#[cfg(feature = "remote")]
pub mod idp;
pub mod logs;
pub mod recorder;
pub mod redis_server;
#[cfg(feature = "remote")]
pub mod tls;

// The tokens signed with the fixture keys (through the fixture
// `TestIssuer`s), under their old names (not every binary uses them).
#[allow(unused_imports)]
pub use forge::{ensure_provider, hs256, raw_token, signing_key, token};

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::Value;

pub const SECRET: &str = "test-secret-test-secret-test-secret!";
pub const NOW: u64 = 1_800_000_000;

/// The wall clock, in seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

pub fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("utf-8 fixture")
}

/// The fixture public PEM that verifies `alg`.
pub fn public_pem(alg: Algorithm) -> Vec<u8> {
    fixture(match alg {
        Algorithm::ES256 => "ec256_public.pem",
        Algorithm::ES384 => "ec384_public.pem",
        Algorithm::EdDSA => "ed25519_public.pem",
        _ => "rsa2048_public.pem",
    })
}

/// The fixture JWK Set kid for `alg`.
pub fn jwks_kid(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ec256-1",
        Algorithm::ES384 => "ec384-1",
        Algorithm::EdDSA => "ed-1",
        _ => "rsa-1",
    }
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token's JSON segment `i` (0: the header, 1: the claims), decoded.
pub fn segment(token: &str, i: usize) -> Value {
    let seg = token.split('.').nth(i).expect("a segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).expect("base64url")).expect("JSON")
}

/// An environment (`name -> value`) holding only `vars`, for the examples'
/// `configure` functions.
pub fn env_of(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |name| map.get(name).cloned()
}

/// Serves `app` on 127.0.0.1 and a free port; the server task ends with the
/// test's runtime.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    addr
}

pub struct Reply {
    pub status: u16,
    pub www: String,
    pub body: String,
}

/// GET `path` with an optional raw `Authorization` value.
pub async fn fetch(addr: SocketAddr, path: &str, authorization: Option<&str>) -> Reply {
    let client = reqwest::Client::new();
    let mut req = client.get(format!("http://{addr}{path}"));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned())
        .unwrap_or_default();
    let body = res.text().await.expect("body");
    Reply { status, www, body }
}

pub async fn fetch_bearer(addr: SocketAddr, path: &str, token: &str) -> Reply {
    fetch(addr, path, Some(&format!("Bearer {token}"))).await
}

/// `base` with `extra`'s members set, a `null` in `extra` removing the member.
pub fn merged(base: &Value, extra: Value) -> Value {
    let mut c = base.clone();
    for (k, v) in extra.as_object().expect("an object") {
        if v.is_null() {
            c.as_object_mut().expect("an object").remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// `tries` concurrent refresh exchanges of `refresh_token`, spread over
/// `issuers` in turn; how many succeeded.
pub async fn refresh_winners(
    issuers: &[tower_jwt_auth::issue::TokenIssuer],
    refresh_token: &str,
    tries: usize,
) -> usize {
    let tasks: Vec<_> = issuers
        .iter()
        .cycle()
        .take(tries)
        .map(|issuer| {
            let (issuer, token) = (issuer.clone(), refresh_token.to_owned());
            tokio::spawn(async move { issuer.refresh(&token).await.is_ok() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    wins
}
