//! Finding the raw token in a request.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName, Uri};

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
    /// `Authorization: DPoP <token>` (RFC 9449 §7.1): a token to be used
    /// with the request's DPoP proof, under the same syntax rules as
    /// `Bearer`.
    ///
    /// Where DPoP is off, this counts as no credentials.
    Dpop(&'a str),
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
    let dpop = scheme.eq_ignore_ascii_case(b"dpop");
    if !dpop && !scheme.eq_ignore_ascii_case(b"bearer") {
        // Another scheme (or a bare word): no bearer credentials. "Bearer"
        // followed by a byte that cannot continue a scheme name (a tab, a
        // comma, non-ASCII) is a mangled bearer credential; "BearerToken"
        // or "Bearer-Ext" is another scheme (RFC 9110 §11.1: a token).
        // The same for "DPoP".
        for name in [&b"bearer"[..], b"dpop"] {
            let n = name.len();
            if scheme.len() > n && scheme[..n].eq_ignore_ascii_case(name) && !is_tchar(scheme[n]) {
                return Err(AuthErrorKind::MalformedRequest.into());
            }
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
    Ok(if dpop {
        Credentials::Dpop(token)
    } else {
        Credentials::Bearer(token)
    })
}

/// One place a layer looks for the token.
///
/// By default the token comes from `Authorization: Bearer <token68>` (RFC
/// 6750 §2.1); on a route with [DPoP](crate::dpop::DpopConfig), from `Authorization:
/// DPoP <token68>` (RFC 9449 §7.1) too. A layer can read other places instead, or as well, in an
/// order you choose ([`TokenSource`]): a named cookie, a custom header, a
/// function of your own, and (only when asked for by name, see
/// [`TokenSource::danger_query`]) a query parameter.
///
/// The `Authorization` rules, the strictest reading of the RFC that real
/// clients meet:
/// - the scheme is matched case-insensitively (RFC 9110 §11.1);
/// - another scheme (`Basic ...`) means "no credentials", not an error;
/// - `Bearer` must be followed by one or more spaces and exactly one token68
///   (`A-Z a-z 0-9 - . _ ~ + /` then `=` padding), and nothing else;
/// - `Bearer` alone, two tokens, tabs, other characters, non-ASCII bytes or
///   several `Authorization` headers are a malformed request (400);
/// - a token longer than the limit is rejected before anything is decoded.
///
/// With several sources, every source is read: the first one (in the
/// configured order) that holds a token supplies it, a malformed source is a
/// 400, and two sources holding *different* tokens are a 400 too: the layer
/// never guesses which one the client meant.
///
/// ```
/// use tower_jwt_auth::TokenSource;
///
/// // A browser app sends a cookie, API clients the Authorization header.
/// let sources = [TokenSource::authorization(), TokenSource::cookie("access_token")];
/// # let _ = sources;
/// ```
#[derive(Clone)]
pub struct TokenSource(SourceKind);

type SourceFn = dyn Fn(&HeaderMap, &Uri) -> Option<String> + Send + Sync;

#[derive(Clone)]
enum SourceKind {
    Authorization,
    Cookie(Arc<str>),
    Header(HeaderName),
    Query(Arc<str>),
    Custom(Arc<SourceFn>),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            SourceKind::Authorization => f.write_str("Authorization"),
            SourceKind::Cookie(name) => f.debug_tuple("Cookie").field(name).finish(),
            SourceKind::Header(name) => f.debug_tuple("Header").field(name).finish(),
            SourceKind::Query(name) => f.debug_tuple("Query").field(name).finish(),
            SourceKind::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl TokenSource {
    /// Its RFC 6750 §2 method name, for the metadata's
    /// `bearer_methods_supported` (RFC 9728 §2): `header` or `query`.
    pub(crate) fn bearer_method(&self) -> Option<&'static str> {
        match self.0 {
            SourceKind::Authorization => Some("header"),
            SourceKind::Query(_) => Some("query"),
            _ => None,
        }
    }

    /// The header this source reads the whole token from, if it is one.
    pub(crate) fn header_name(&self) -> Option<&HeaderName> {
        match &self.0 {
            SourceKind::Header(name) => Some(name),
            _ => None,
        }
    }

    /// `Authorization: Bearer <token>` (RFC 6750 §2.1), the default.
    #[must_use]
    pub fn authorization() -> Self {
        Self(SourceKind::Authorization)
    }

    /// The value of the cookie `name` (RFC 6265 §4.2.1), optionally in
    /// double quotes; an empty value counts as no token.
    ///
    /// The same cookie sent
    /// twice with different values is a 400. Pair cookies with `HttpOnly`, `Secure`, `SameSite` and CSRF
    /// protection: a browser sends them on cross-site requests too.
    #[must_use]
    pub fn cookie(name: impl Into<String>) -> Self {
        Self(SourceKind::Cookie(Arc::from(name.into())))
    }

    /// The whole value of the header `name` is the token (e.g.
    /// `X-Access-Token: <token>`), with the same token68 rules as `Bearer`.
    /// Several such headers are a 400.
    #[must_use]
    pub fn header(name: HeaderName) -> Self {
        Self(SourceKind::Header(name))
    }

    /// DANGER: the query parameter `name` (`?access_token=...`, RFC 6750
    /// §2.3).
    ///
    /// URLs end up in access logs, proxy logs, browser history and
    /// `Referer` headers, so a token sent this way leaks to everyone who
    /// reads them; RFC 6750 §5.3, RFC 8725 and RFC 9700 §4.3.2 advise
    /// against it. Use it only where nothing else is possible (browser
    /// WebSocket or `EventSource` APIs that cannot set headers), with
    /// short-lived tokens. The value is taken as it is (no percent-decoding:
    /// a JWT needs none); an empty value counts as no token, the parameter given
    /// twice is a 400.
    #[must_use]
    pub fn danger_query(name: impl Into<String>) -> Self {
        Self(SourceKind::Query(Arc::from(name.into())))
    }

    /// A function of your own that finds the token in the request head;
    /// `None` means "no token here".
    ///
    /// What it returns is checked like any
    /// other token (size limit, then verification).
    ///
    /// ```
    /// use tower_jwt_auth::TokenSource;
    ///
    /// // `X-Api-Token: jwt <token>`
    /// let source = TokenSource::from_fn(|headers, _uri| {
    ///     let value = headers.get("x-api-token")?.to_str().ok()?;
    ///     value.strip_prefix("jwt ").map(str::to_owned)
    /// });
    /// # let _ = source;
    /// ```
    #[must_use]
    pub fn from_fn<F>(f: F) -> Self
    where
        F: Fn(&HeaderMap, &Uri) -> Option<String> + Send + Sync + 'static,
    {
        Self(SourceKind::Custom(Arc::new(f)))
    }

    /// The token this source finds in the request head, if any.
    ///
    /// # Errors
    /// [`AuthErrorKind::MalformedRequest`] for a malformed credential, or the
    /// same source present twice with different values;
    /// [`AuthErrorKind::TokenTooLarge`] past `max_len` bytes.
    pub fn extract<'r>(
        &self,
        headers: &'r HeaderMap,
        uri: &'r Uri,
        max_len: usize,
    ) -> Result<Option<Cow<'r, str>>, AuthError> {
        let found = match &self.0 {
            SourceKind::Authorization => match bearer_token(headers, max_len)? {
                Credentials::Bearer(t) => return Ok(Some(Cow::Borrowed(t))),
                // A DPoP token is not a bearer token: only the DPoP check
                // (on routes with DPoP on) may take it.
                Credentials::None | Credentials::Dpop(_) => return Ok(None),
            },
            SourceKind::Cookie(name) => cookie_value(headers, name)?,
            SourceKind::Header(name) => {
                let mut values = headers.get_all(name).iter();
                let first = values.next();
                if values.next().is_some() {
                    return Err(AuthErrorKind::MalformedRequest.into());
                }
                first.map(|v| trim_ows(v.as_bytes()))
            }
            SourceKind::Query(name) => query_value(uri.query().unwrap_or(""), name)?,
            SourceKind::Custom(f) => {
                return match f(headers, uri) {
                    None => Ok(None),
                    Some(t) if t.len() > max_len => Err(AuthErrorKind::TokenTooLarge.into()),
                    Some(t) => Ok(Some(Cow::Owned(t))),
                };
            }
        };
        match found {
            None => Ok(None),
            Some(v) => checked_token(v, max_len).map(|t| Some(Cow::Borrowed(t))),
        }
    }
}

/// The token from the first of `sources` that holds one.
///
/// # Errors
/// As [`TokenSource::extract`], and [`AuthErrorKind::MalformedRequest`] when
/// two sources hold different tokens.
pub fn find_token<'r>(
    sources: &[TokenSource],
    headers: &'r HeaderMap,
    uri: &'r Uri,
    max_len: usize,
) -> Result<Option<Cow<'r, str>>, AuthError> {
    match find_credentials(sources, headers, uri, max_len, false)? {
        Found::Bearer(token) => Ok(Some(token)),
        Found::None | Found::Dpop(_) => Ok(None),
    }
}

/// What a request's credentials hold, read once.
#[derive(Debug)]
pub(crate) enum Found<'r> {
    /// No token anywhere.
    None,
    /// A bearer token, from the first source that holds one.
    Bearer(Cow<'r, str>),
    /// `Authorization: DPoP <token>` on a route with DPoP on.
    Dpop(&'r str),
}

/// The request's credentials, every header parsed once: with `dpop`, an
/// `Authorization: DPoP` token (the DPoP scheme comes only in
/// `Authorization`, RFC 9449 §7.1, whatever the sources) wins; else the
/// bearer token of the first of `sources` that holds one, and two sources
/// holding different tokens are a malformed request.
pub(crate) fn find_credentials<'r>(
    sources: &[TokenSource],
    headers: &'r HeaderMap,
    uri: &'r Uri,
    max_len: usize,
    dpop: bool,
) -> Result<Found<'r>, AuthError> {
    let mut authorization: Option<Result<Credentials<'r>, AuthError>> = None;
    let mut parse_authorization = || {
        authorization
            .get_or_insert_with(|| bearer_token(headers, max_len))
            .clone()
    };
    if dpop {
        if let Ok(Credentials::Dpop(token)) = parse_authorization() {
            return Ok(Found::Dpop(token));
        }
    }
    let mut found: Option<Cow<'r, str>> = None;
    for source in sources {
        let token = match &source.0 {
            SourceKind::Authorization => match parse_authorization()? {
                Credentials::Bearer(t) => Some(Cow::Borrowed(t)),
                // A DPoP token is not a bearer token: only the DPoP check
                // (on routes with DPoP on) may take it.
                Credentials::None | Credentials::Dpop(_) => None,
            },
            _ => source.extract(headers, uri, max_len)?,
        };
        if let Some(token) = token {
            match &found {
                Some(first) if *first != token => {
                    return Err(AuthErrorKind::MalformedRequest.into())
                }
                Some(_) => {}
                None => found = Some(token),
            }
        }
    }
    Ok(found.map_or(Found::None, Found::Bearer))
}

/// A non-empty token68 of at most `max_len` bytes.
fn checked_token(v: &[u8], max_len: usize) -> Result<&str, AuthError> {
    if v.is_empty() {
        return Err(AuthErrorKind::MalformedRequest.into());
    }
    if v.len() > max_len {
        return Err(AuthErrorKind::TokenTooLarge.into());
    }
    if !is_token68(v) {
        return Err(AuthErrorKind::MalformedRequest.into());
    }
    std::str::from_utf8(v).map_err(|_| AuthErrorKind::MalformedRequest.into())
}

/// The value of cookie `name` across every `Cookie` header (HTTP/2 may split
/// them), RFC 6265 §4.2.1: `name=value` pairs separated by `;` and a space.
fn cookie_value<'r>(headers: &'r HeaderMap, name: &str) -> Result<Option<&'r [u8]>, AuthError> {
    let mut found: Option<&[u8]> = None;
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let pair = trim_ows(pair);
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if &pair[..eq] != name.as_bytes() {
                continue;
            }
            let mut value = trim_ows(&pair[eq + 1..]);
            // cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
            if let [b'"', inner @ .., b'"'] = value {
                value = inner;
            }
            // A cleared cookie (`name=`) is no token, not a malformed one.
            if value.is_empty() {
                continue;
            }
            match found {
                Some(prev) if prev != value => return Err(AuthErrorKind::MalformedRequest.into()),
                _ => found = Some(value),
            }
        }
    }
    Ok(found)
}

/// The value of query parameter `name` (`a=1&name=value`), not decoded.
fn query_value<'r>(query: &'r str, name: &str) -> Result<Option<&'r [u8]>, AuthError> {
    let mut found: Option<&[u8]> = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != name || value.is_empty() {
            continue;
        }
        if found.is_some() {
            return Err(AuthErrorKind::MalformedRequest.into());
        }
        found = Some(value.as_bytes());
    }
    Ok(found)
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
    // Every byte is looked at (no early exit) and combined without
    // branches, so the loop vectorizes: it runs on every request.
    body_len > 0
        && v[..body_len]
            .iter()
            .fold(true, |ok, &b| ok & is_token68_char(b))
}

/// A token68 character before the padding (RFC 9110 §11.2).
fn is_token68_char(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    letter
        | digit
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
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
    fn dpop_scheme_is_parsed_like_bearer() {
        assert_eq!(parse("DPoP a.b.c"), Ok(Credentials::Dpop("a.b.c")));
        assert_eq!(parse("dpop  a.b.c"), Ok(Credentials::Dpop("a.b.c")));
        assert_eq!(parse("DPoP"), Err(AuthErrorKind::MalformedRequest));
        assert_eq!(parse("DPoP a b"), Err(AuthErrorKind::MalformedRequest));
        assert_eq!(parse("DPoP\ta.b.c"), Err(AuthErrorKind::MalformedRequest));
        assert_eq!(parse("DPoPx a.b.c"), Ok(Credentials::None));
    }

    #[test]
    fn token68_characters_are_exactly_rfc_9110s() {
        for b in 0..=u8::MAX {
            let spec = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_token68_char(b), spec, "byte {b:#04x}");
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
