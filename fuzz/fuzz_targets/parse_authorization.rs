//! `token::parse_authorization` and `token::bearer_token` on arbitrary
//! header values.

#![no_main]

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tower_jwt_auth::parsers::{bearer_token, parse_authorization, Credentials};
use tower_jwt_auth::AuthErrorKind;

const LIMIT: usize = 8192;

fn is_token68(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse_authorization(data, LIMIT);
    match &parsed {
        // The DPoP scheme (RFC 9449 §7.1) carries the same token68.
        Ok(Credentials::Bearer(t) | Credentials::Dpop(t)) => {
            assert!(is_token68(t), "{t:?}");
            assert!(t.len() <= LIMIT);
            // The token is a piece of the value, not a rewrite of it.
            let start = t.as_ptr() as usize - data.as_ptr() as usize;
            assert!(start + t.len() <= data.len());
            // A tighter limit never accepts more.
            let short = parse_authorization(data, 16);
            if t.len() <= 16 {
                assert_eq!(short, parsed);
            } else {
                assert_eq!(
                    short.map_err(|e| e.kind()),
                    Err(AuthErrorKind::TokenTooLarge)
                );
            }
        }
        Ok(Credentials::None) => {}
        Err(e) => {
            assert!(
                matches!(
                    e.kind(),
                    AuthErrorKind::MalformedRequest | AuthErrorKind::TokenTooLarge
                ),
                "{e:?}"
            );
        }
    }

    // Through a header map, as the layer sees it.
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.clone());
        assert_eq!(bearer_token(&headers, LIMIT), parsed);
        // Two Authorization headers are always malformed.
        headers.append(AUTHORIZATION, value);
        assert_eq!(
            bearer_token(&headers, LIMIT).map_err(|e| e.kind()),
            Err(AuthErrorKind::MalformedRequest)
        );
    }
});
