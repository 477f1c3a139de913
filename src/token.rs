//! Finding the raw token in a request: `Authorization: Bearer <token68>`
//! (RFC 6750 §2.1).
//!
//! The rules, strictest reading of the RFC that real clients meet:
//! - the scheme is matched case-insensitively (RFC 9110 §11.1);
//! - another scheme (`Basic ...`) means "no credentials", not an error;
//! - `Bearer` must be followed by one or more spaces and exactly one token68
//!   (`A-Z a-z 0-9 - . _ ~ + /` then `=` padding), and nothing else;
//! - `Bearer` alone, two tokens, tabs, other characters, non-ASCII bytes or
//!   several `Authorization` headers are a malformed request (400);
//! - a token longer than the limit is rejected before anything is decoded.
//!
//! Tokens are never read from the query string or a form body (RFC 6750
//! §2.2–2.3 allow it; RFC 8725 and RFC 9700 advise against it).
//!
//! ```
//! use http::HeaderMap;
//! use tower_jwt_auth::token::{bearer_token, Credentials};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("authorization", "Bearer abc.def.ghi".parse().unwrap());
//! assert_eq!(bearer_token(&headers, 8192), Ok(Credentials::Bearer("abc.def.ghi")));
//! ```

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::error::{AuthError, AuthErrorKind};

/// Default upper bound on the size of a token, in bytes (8 KiB).
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a request's `Authorization` header holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No `Authorization` header, or one with a scheme other than `Bearer`.
    None,
    /// One well-formed bearer token (not yet verified).
    Bearer(&'a str),
}

/// Extracts the bearer token from `headers`.
///
/// # Errors
/// [`AuthErrorKind::MalformedRequest`] for a malformed `Bearer` credential or
/// several `Authorization` headers; [`AuthErrorKind::TokenTooLarge`] when the
/// token is longer than `max_len` bytes.
pub fn bearer_token(headers: &HeaderMap, max_len: usize) -> Result<Credentials<'_>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(Credentials::None);
    };
    if values.next().is_some() {
        return Err(AuthErrorKind::MalformedRequest.into());
    }
    parse_authorization(value.as_bytes(), max_len)
}

/// Parses one `Authorization` header value.
///
/// # Errors
/// As [`bearer_token`].
pub fn parse_authorization(value: &[u8], max_len: usize) -> Result<Credentials<'_>, AuthError> {
    // Field values carry no leading/trailing whitespace (RFC 9110 §5.5).
    let value = trim_ows(value);
    let scheme_end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        // Another scheme (or a bare word): no bearer credentials. "Bearer"
        // followed by a byte that cannot continue a scheme name (a tab, a
        // comma, non-ASCII) is a mangled bearer credential; "BearerToken"
        // or "Bearer-Ext" is another scheme (RFC 9110 §11.1: a token).
        if scheme.len() > 6 && scheme[..6].eq_ignore_ascii_case(b"bearer") && !is_tchar(scheme[6]) {
            return Err(AuthErrorKind::MalformedRequest.into());
        }
        return Ok(Credentials::None);
    }
    let token = trim_leading_spaces(rest);
    if token.is_empty() {
        return Err(AuthErrorKind::MalformedRequest.into());
    }
    if token.len() > max_len {
        return Err(AuthErrorKind::TokenTooLarge.into());
    }
    if !is_token68(token) {
        return Err(AuthErrorKind::MalformedRequest.into());
    }
    // token68 is ASCII, so this cannot fail; map it anyway rather than unwrap.
    let token = std::str::from_utf8(token).map_err(|_| AuthErrorKind::MalformedRequest)?;
    Ok(Credentials::Bearer(token))
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

fn trim_leading_spaces(mut v: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = v {
        v = rest;
    }
    v
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
/// (RFC 9110 §11.2).
fn is_token68(v: &[u8]) -> bool {
    let body_len = v.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    body_len > 0
        && v[..body_len].iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Result<Credentials<'_>, AuthErrorKind> {
        parse_authorization(v.as_bytes(), 64).map_err(|e| e.kind())
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(parse("Bearer a.b.c"), Ok(Credentials::Bearer("a.b.c")));
        assert_eq!(parse("bearer a.b.c"), Ok(Credentials::Bearer("a.b.c")));
        assert_eq!(parse("BEARER a.b.c"), Ok(Credentials::Bearer("a.b.c")));
        assert_eq!(parse("Bearer   a.b.c "), Ok(Credentials::Bearer("a.b.c")));
    }

    #[test]
    fn other_schemes_are_no_credentials() {
        assert_eq!(parse("Basic dXNlcjpwYXNz"), Ok(Credentials::None));
        assert_eq!(parse("Token abc"), Ok(Credentials::None));
        assert_eq!(parse("BearerToken abc"), Ok(Credentials::None));
        assert_eq!(parse("Bearer-Ext abc"), Ok(Credentials::None));
        assert_eq!(parse("Bearer%20abc"), Ok(Credentials::None));
        assert_eq!(parse(""), Ok(Credentials::None));
    }

    #[test]
    fn malformed_bearer_is_invalid_request() {
        for v in [
            "Bearer",
            "Bearer ",
            "Bearer a.b.c a.b.c",
            "Bearer a.b,c",
            "Bearer\ta.b.c",
            "Bearer a.b.c\tx",
            "Bearer ===",
            "Bearer a=b",
            "Bearer \"a.b.c\"",
            "Bearer,a.b.c",
        ] {
            assert_eq!(parse(v), Err(AuthErrorKind::MalformedRequest), "{v:?}");
        }
    }

    #[test]
    fn token68_padding_is_allowed_only_at_the_end() {
        assert_eq!(parse("Bearer abc=="), Ok(Credentials::Bearer("abc==")));
        assert_eq!(
            parse("Bearer a~+/-_.b"),
            Ok(Credentials::Bearer("a~+/-_.b"))
        );
    }

    #[test]
    fn oversize_token_is_rejected_before_decoding() {
        let long = format!("Bearer {}", "a".repeat(65));
        assert_eq!(parse(&long), Err(AuthErrorKind::TokenTooLarge));
        let ok = format!("Bearer {}", "a".repeat(64));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn non_ascii_bytes_are_malformed() {
        assert_eq!(
            parse_authorization("Bearer a.b.\u{e9}".as_bytes(), 64).map_err(|e| e.kind()),
            Err(AuthErrorKind::MalformedRequest)
        );
    }

    #[test]
    fn several_authorization_headers_are_malformed() {
        let mut h = HeaderMap::new();
        h.append(AUTHORIZATION, "Bearer a.b.c".parse().unwrap());
        h.append(AUTHORIZATION, "Bearer d.e.f".parse().unwrap());
        assert_eq!(
            bearer_token(&h, 64).map_err(|e| e.kind()),
            Err(AuthErrorKind::MalformedRequest)
        );
        assert_eq!(bearer_token(&HeaderMap::new(), 64), Ok(Credentials::None));
    }
}
