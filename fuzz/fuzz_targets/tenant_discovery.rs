//! The discovery documents (feature `remote`), through
//! `tower_jwt_auth::fuzzing` (compiled only under `--cfg fuzzing`):
//! - a multi-tenant issuer's tenant: the tenant id read from a token's
//!   `iss` under an issuer pattern, the tenant's discovery URL, then the
//!   tenant's OpenID Connect discovery document (`issuer`, `jwks_uri`), as
//!   a new tenant's keys are loaded (`fuzzing::tenant_discovery`);
//! - the same document as the RFC 8414 / OIDC metadata that names an
//!   introspection endpoint (`fuzzing::introspection_metadata`).
//!
//! Patterns: `P0` `https://login.example/{tenantid}/v2.0`, `P1`
//! `https://{tenantid}.idp.example`, `P2`
//! `http://127.0.0.1:8080/realms/{tenantid}` (plain HTTP to loopback).
//!
//! Every input is first the document of tenant `t-1` of each pattern, and
//! an `iss` (lossy UTF-8) with an empty document. Then its first byte
//! picks: `mode & 3` the pattern (3: `P0` with `allow_http`), and the rest
//! is `iss SEP document`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_jwt_auth::fuzzing::{introspection_metadata, tenant_discovery};
use tower_jwt_auth::remote::FetchErrorKind;
use tower_jwt_auth_fuzz::SEP;
use url::Url;

const PATTERNS: [&str; 3] = [
    "https://login.example/{tenantid}/v2.0",
    "https://{tenantid}.idp.example",
    "http://127.0.0.1:8080/realms/{tenantid}",
];

fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !t.starts_with('.')
        && !t.ends_with('.')
        && !t.contains("..")
}

fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && url.host_str().is_some_and(|h| {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            h.eq_ignore_ascii_case("localhost")
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

fn check_url(text: &str, allow_http: bool) {
    let url = Url::parse(text).expect("the library's URL parses");
    assert!(
        url.scheme() == "https"
            || (url.scheme() == "http" && (allow_http || is_loopback_http(&url))),
        "{text}"
    );
}

fn check(p: usize, iss: &str, document: &[u8], allow_http: bool) {
    let pattern = PATTERNS[p];
    let found = tenant_discovery(pattern, iss, document, allow_http);
    let doc: Option<Value> = serde_json::from_slice(document).ok();
    if let Some(found) = &found {
        // The tenant id is a plain identifier, and the issuer is `iss`.
        assert!(valid_tenant(&found.tenant), "{found:?}");
        assert_eq!(found.issuer, iss);
        let discovery = Url::parse(&found.discovery_url).expect("discovery URL");
        // The tenant id stays inside its place: it never moves the host or
        // leaves its path segment.
        match p {
            0 => {
                assert_eq!(discovery.host_str(), Some("login.example"), "{found:?}");
                assert_eq!(
                    discovery.path(),
                    format!("/{}/v2.0/.well-known/openid-configuration", found.tenant),
                    "{found:?}"
                );
            }
            1 => {
                let host = discovery.host_str().expect("host");
                assert_eq!(
                    host,
                    format!("{}.idp.example", found.tenant.to_ascii_lowercase()),
                    "{found:?}"
                );
                assert_eq!(discovery.path(), "/.well-known/openid-configuration");
            }
            _ => {
                assert_eq!(discovery.host_str(), Some("127.0.0.1"), "{found:?}");
                assert_eq!(
                    discovery.path(),
                    format!("/realms/{}/.well-known/openid-configuration", found.tenant),
                    "{found:?}"
                );
            }
        }
        match &found.jwks_uri {
            Ok(uri) => {
                // Only a document of exactly this issuer, with a `jwks_uri`
                // under the transport policy.
                let doc = doc.as_ref().expect("an accepted document is JSON");
                assert_eq!(doc["issuer"].as_str(), Some(iss), "{found:?}");
                assert!(doc["jwks_uri"].is_string(), "{found:?}");
                check_url(uri, allow_http);
            }
            Err(kind) => assert!(
                matches!(
                    kind,
                    FetchErrorKind::InvalidDocument
                        | FetchErrorKind::IssuerMismatch
                        | FetchErrorKind::MissingJwksUri
                        | FetchErrorKind::InvalidUrl
                        | FetchErrorKind::InsecureUrl
                ),
                "{kind:?}"
            ),
        }
    }

    // The same document naming an introspection endpoint.
    let issuer = found
        .as_ref()
        .map_or("https://login.example/t-1/v2.0", |f| &f.issuer);
    if let Some(endpoint) = introspection_metadata(issuer, document, allow_http) {
        let doc = doc.as_ref().expect("a document that counts is JSON");
        assert_eq!(doc["issuer"].as_str(), Some(issuer));
        match endpoint {
            Ok(url) => check_url(&url, allow_http),
            Err(kind) => assert!(
                matches!(
                    kind,
                    FetchErrorKind::InvalidUrl | FetchErrorKind::InsecureUrl
                ),
                "{kind:?}"
            ),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for (p, iss) in [
        "https://login.example/t-1/v2.0",
        "https://t-1.idp.example",
        "http://127.0.0.1:8080/realms/t-1",
    ]
    .into_iter()
    .enumerate()
    {
        check(p, iss, data, false);
    }
    let text = String::from_utf8_lossy(data);
    for p in 0..3 {
        check(p, &text, b"", false);
    }

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(2, |&b| b == SEP);
    let iss = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let document = parts.next().unwrap_or_default();
    let (p, allow_http) = match mode & 3 {
        3 => (0, true),
        p => (usize::from(p), false),
    };
    check(p, &iss, document, allow_http);
});
