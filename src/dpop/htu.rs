//! The `htu` check (RFC 9449 §4.3 item 9): the proof's `htu` must name the
//! request's target URI without query and fragment, compared after RFC 3986
//! §6.2.2 syntax-based and §6.2.3 scheme-based normalization (case of scheme
//! and host, percent-encoding, dot segments, default port, empty path).
//!
//! The origin (scheme and authority) comes from configuration, never from the
//! request's `Host` header: a proof made for another server must not become
//! valid here because the attacker also rewrote `Host`. Forwarded headers
//! (RFC 7239 `Forwarded`, or `X-Forwarded-Proto` / `X-Forwarded-Host`) are
//! read only when the operator said the proxy in front sets them.

use fluent_uri::Uri;
use http::{HeaderMap, Uri as RequestUri};

/// How the public origin of a request is known.
#[derive(Debug, Clone)]
pub(crate) struct PublicUrl {
    /// Normalized `scheme://authority[/prefix]`, without a trailing `/`.
    base: Option<String>,
    trust_forwarded: bool,
}

impl PublicUrl {
    /// `base`: an absolute `http`/`https` URL with no query or fragment;
    /// its path, if any, is a prefix put before every request path (for a
    /// proxy that strips it).
    pub(crate) fn new(base: Option<&str>, trust_forwarded: bool) -> Result<Self, &'static str> {
        let base = match base {
            None if trust_forwarded => None,
            None => return Err("a public URL is required (or trusted forwarded headers)"),
            Some(b) => Some(normalize_base(b)?),
        };
        Ok(Self {
            base,
            trust_forwarded,
        })
    }

    /// Whether a proof's `htu` names this request: equal, once both are
    /// normalized, to the public origin followed by the request's path; for
    /// a request whose path is not known (`None`: a tonic interceptor is
    /// given no URI), any path under the public origin.
    pub(crate) fn matches(&self, htu: &str, uri: Option<&RequestUri>, headers: &HeaderMap) -> bool {
        let Some(htu) = normalize(htu) else {
            return false;
        };
        match uri {
            Some(uri) => self.expected(uri, headers).as_deref() == Some(htu.as_str()),
            None => self.base(headers).is_some_and(|base| {
                htu.strip_prefix(base.as_str())
                    .is_some_and(|path| path.starts_with('/') && !path.contains(['?', '#']))
            }),
        }
    }

    /// The normalized public origin (and path prefix) for this request.
    fn base(&self, headers: &HeaderMap) -> Option<String> {
        let forwarded = if self.trust_forwarded {
            forwarded_origin(headers)
        } else {
            None
        };
        forwarded.or_else(|| self.base.clone())
    }

    /// The normalized URI the proof's `htu` must equal, for this request.
    pub(crate) fn expected(&self, uri: &RequestUri, headers: &HeaderMap) -> Option<String> {
        let base = self.base(headers)?;
        let path = uri.path();
        let path = if path.starts_with('/') { path } else { "/" };
        normalize(&format!("{base}{path}"))
    }
}

/// Normalizes an absolute `http`/`https` URI (RFC 3986 §6.2.2 and §6.2.3);
/// `None` when it is not one. A query or fragment is kept, so an `htu` that
/// carries one never equals a request URI (which has none).
pub(crate) fn normalize(s: &str) -> Option<String> {
    let uri = Uri::parse(s).ok()?;
    let uri = uri.normalize();
    let scheme = uri.scheme().as_str();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = uri.authority()?;
    if authority.host().is_empty() || authority.userinfo().is_some() {
        return None;
    }
    let mut out = uri.as_str().to_owned();
    // RFC 3986 §6.2.3: for http(s), an empty path is equivalent to "/".
    if uri.path().as_str().is_empty() {
        let at = out.find(['?', '#']).unwrap_or(out.len());
        out.insert(at, '/');
    }
    Some(out)
}

fn normalize_base(base: &str) -> Result<String, &'static str> {
    const BAD: &str =
        "the public URL must be an absolute http or https URL without query or fragment";
    let mut n = normalize(base).ok_or(BAD)?;
    if n.contains(['?', '#']) {
        return Err(BAD);
    }
    while n.ends_with('/') {
        n.pop();
    }
    Ok(n)
}

/// The origin a trusted proxy reports: the last `Forwarded` element's
/// `proto` and `host` (the proxy nearest to us appends last), else the last
/// `X-Forwarded-Proto` and `X-Forwarded-Host` values. `None` when absent or
/// malformed.
fn forwarded_origin(headers: &HeaderMap) -> Option<String> {
    let last = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
    };
    let (proto, host) = if let Some(element) = last("forwarded") {
        let mut proto = None;
        let mut host = None;
        for pair in element.split(';') {
            let (k, v) = pair.split_once('=')?;
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "proto" => proto = Some(v),
                "host" => host = Some(v),
                _ => {}
            }
        }
        (proto?, host?)
    } else {
        (last("x-forwarded-proto")?, last("x-forwarded-host")?)
    };
    let proto = proto.to_ascii_lowercase();
    if proto != "http" && proto != "https" {
        return None;
    }
    // The host must be a bare authority: nothing that would change the path.
    if host.is_empty() || host.contains(['/', '?', '#', '@', '\\', ' ']) {
        return None;
    }
    let origin = normalize_base(&format!("{proto}://{host}")).ok()?;
    Some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_and_scheme_based_normalization() {
        let n = |s| normalize(s).unwrap();
        assert_eq!(
            n("HTTPS://Server.Example.COM/a"),
            "https://server.example.com/a"
        );
        assert_eq!(
            n("https://server.example.com:443/a"),
            "https://server.example.com/a"
        );
        assert_eq!(
            n("http://server.example.com:80/a"),
            "http://server.example.com/a"
        );
        assert_eq!(n("http://h:8080"), "http://h:8080/");
        assert_eq!(n("https://h/a/./b/../c"), "https://h/a/c");
        assert_eq!(n("https://h/%7euser/%41"), "https://h/~user/A");
        assert_eq!(n("https://h/a%2fb"), "https://h/a%2Fb");
        assert_eq!(n("https://h/a?x=1"), "https://h/a?x=1");
        assert_eq!(n("https://h?x=1"), "https://h/?x=1");
    }

    #[test]
    fn only_absolute_http_uris_without_userinfo_are_accepted() {
        for bad in [
            "/a",
            "ftp://h/a",
            "https:///a",
            "https://u@h/a",
            "not a uri",
            "",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn expected_htu_joins_the_configured_origin_and_the_request_path() {
        let p = PublicUrl::new(Some("https://API.example:443/"), false).unwrap();
        let uri: RequestUri = "/me?x=1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", "evil.example".parse().unwrap());
        h.insert("x-forwarded-host", "evil.example".parse().unwrap());
        h.insert("x-forwarded-proto", "http".parse().unwrap());
        assert_eq!(p.expected(&uri, &h).unwrap(), "https://api.example/me");
        let p = PublicUrl::new(Some("https://api.example/v1/"), false).unwrap();
        assert_eq!(p.expected(&uri, &h).unwrap(), "https://api.example/v1/me");
    }

    #[test]
    fn forwarded_headers_only_when_trusted() {
        let p = PublicUrl::new(Some("https://api.example"), true).unwrap();
        let uri: RequestUri = "/me".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(p.expected(&uri, &h).unwrap(), "https://api.example/me");
        h.insert("x-forwarded-host", "a.example, B.example".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(p.expected(&uri, &h).unwrap(), "https://b.example/me");
        h.insert(
            "forwarded",
            "for=1.2.3.4;proto=http;host=c.example:8080"
                .parse()
                .unwrap(),
        );
        assert_eq!(p.expected(&uri, &h).unwrap(), "http://c.example:8080/me");
        // A malformed report falls back to the configured URL.
        h.insert("forwarded", "proto=https;host=\"x/y\"".parse().unwrap());
        assert_eq!(p.expected(&uri, &h).unwrap(), "https://api.example/me");
        let only_forwarded = PublicUrl::new(None, true).unwrap();
        assert_eq!(only_forwarded.expected(&uri, &h), None);
    }

    #[test]
    fn a_public_url_is_required_unless_forwarded_headers_are_trusted() {
        assert!(PublicUrl::new(None, false).is_err());
        assert!(PublicUrl::new(None, true).is_ok());
        assert!(PublicUrl::new(Some("https://h/?q"), false).is_err());
        assert!(PublicUrl::new(Some("h.example"), false).is_err());
    }
}
