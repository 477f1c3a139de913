//! SPIFFE: trust bundles (`KeySet::from_spiffe_bundle_json`, the builder's
//! `spiffe_bundle`) on arbitrary input, JWT-SVIDs verified with whatever
//! keys they accept, and SPIFFE IDs (`rules::SpiffeIds::admits`, a
//! JWT-SVID's `sub`).
//!
//! Every input is tried as a bundle (lossy UTF-8). Then its first byte
//! picks a structured mode for the rest:
//! - `mode & 3 == 0`: nothing more;
//! - `1`: a structured JWK as in `import_jwks` mode 3 (`kty SEP crv SEP alg
//!   SEP a SEP b [SEP kid]`) with `use: jwt-svid`, in a bundle with
//!   `spiffe_sequence` (reaches the key checks under the bundle's rules);
//! - `2`: the rest (lossy UTF-8) is a SPIFFE ID: `admits` under several
//!   rules, and a JWT-SVID with that `sub` signed by a fixture key
//!   (`(mode >> 2) & 3`: ES256, ES384, RS256, PS256) verified with the
//!   fixture bundle and the rules of trust domain `example.org`, prefix
//!   `/ns/prod`;
//! - `3`: the rest is a bundle, used through the builder with SPIFFE rules.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::keys::{Algorithm, KeySet};
use tower_jwt_auth::rules::SpiffeIds;
use tower_jwt_auth::{clock::FixedClock, Authenticator};
use tower_jwt_auth_fuzz::{spiffe_bundle, structured_jwk, svid, NOW, SVID_AUD};

const ALGS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::PS256,
];

/// JWT-SVIDs of every fixture key, and plain tokens: verified with each
/// imported bundle.
static TOKENS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut t: Vec<String> = ALGS
        .iter()
        .chain([&Algorithm::EdDSA])
        .map(|&alg| svid(alg, "spiffe://example.org/ns/prod/sa/web"))
        .collect();
    t.extend(tower_jwt_auth_fuzz::valid_tokens());
    t
});

fn rules() -> SpiffeIds {
    SpiffeIds::trust_domain("example.org").path_prefix("/ns/prod")
}

/// The fixture bundle with the SPIFFE rules.
static AUTH_SVID: LazyLock<Authenticator> = LazyLock::new(|| {
    Authenticator::builder()
        .spiffe_bundle(&spiffe_bundle())
        .expect("fixture bundle")
        .spiffe(rules())
        .audience([SVID_AUD])
        .clock(FixedClock::new(NOW))
        .build()
        .expect("svid authenticator")
});

static ID_RULES: LazyLock<Vec<SpiffeIds>> = LazyLock::new(|| {
    vec![
        rules(),
        SpiffeIds::trust_domain("example.org"),
        SpiffeIds::trust_domain("example.org").path_prefix("/"),
        SpiffeIds::trust_domain("td-1.example").path_prefix("/a/b/"),
    ]
});

fn with_bundle(json: &str) {
    if let Ok(set) = KeySet::from_spiffe_bundle_json(json) {
        assert!(!set.is_empty());
        for key in set.iter() {
            let algs = key.algorithms();
            assert!(!algs.is_empty(), "{key:?}");
            assert!(
                !algs
                    .iter()
                    .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)),
                "a secret key from a bundle: {key:?}"
            );
        }
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

fn with_builder(json: &str) {
    let Ok(builder) = Authenticator::builder().spiffe_bundle(json) else {
        return;
    };
    let Ok(auth) = builder
        .spiffe(rules())
        .audience([SVID_AUD])
        .clock(FixedClock::new(NOW))
        .build()
    else {
        return;
    };
    for token in TOKENS.iter() {
        if let Ok(claims) = auth.verifier().verify(token) {
            let sub = claims["sub"].as_str().expect("an accepted SVID has a sub");
            assert!(rules().admits(sub), "{sub}");
        }
    }
}

fn with_id(id: &str, alg: Algorithm) {
    for rules in ID_RULES.iter() {
        if rules.admits(id) {
            // A SPIFFE ID: `spiffe://`, the trust domain, a path of
            // non-empty segments, no query, fragment or dot segments.
            let rest = id.strip_prefix("spiffe://").expect("scheme");
            let (domain, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            assert!(domain == "example.org" || domain == "td-1.example", "{id}");
            assert!(!id.contains(['?', '#']), "{id}");
            let segments = path.strip_prefix('/').expect("a path");
            for segment in segments.split('/') {
                assert!(
                    !segment.is_empty() && segment != "." && segment != "..",
                    "{id}"
                );
                assert!(
                    segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')),
                    "{id}"
                );
            }
        }
    }
    let token = svid(alg, id);
    if let Ok(claims) = AUTH_SVID.verifier().verify(&token) {
        assert_eq!(claims["sub"], id);
        assert!(rules().admits(id), "{id}");
        assert!(id.starts_with("spiffe://example.org/ns/prod"), "{id}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    with_bundle(&text);

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode & 3 {
        0 => {}
        1 => {
            let mut set: serde_json::Value =
                serde_json::from_str(&structured_jwk(rest)).expect("structured jwk");
            set["keys"][0]["use"] = "jwt-svid".into();
            set["spiffe_sequence"] = 7.into();
            with_bundle(&set.to_string());
        }
        2 => with_id(
            &String::from_utf8_lossy(rest),
            ALGS[usize::from(mode >> 2) & 3],
        ),
        _ => with_builder(&String::from_utf8_lossy(rest)),
    }
});
