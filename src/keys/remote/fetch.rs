//! HTTP(S) fetches of JWK Sets and OIDC discovery documents, with limits:
//! the client and its transport policy come from `crate::http_client`; a
//! body size limit enforced while reading.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, CACHE_CONTROL};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::RemoteOptions;
use crate::error::{FetchError, FetchErrorKind};
pub(crate) use crate::http_client::parse_url;
use crate::http_client::{build_client, check_url, read_limited, Clients, Shown};

/// Where the keys come from.
pub(crate) enum Source {
    /// A JWK Set URL.
    Jwks(Url),
    /// OIDC discovery: the issuer, its discovery URL, and the `jwks_uri`
    /// once discovered.
    Oidc {
        issuer: String,
        discovery: Url,
        jwks_uri: Mutex<Option<Url>>,
    },
}

impl std::fmt::Debug for Source {
    // URLs without their userinfo.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwks(url) => f
                .debug_tuple("Jwks")
                .field(&Shown(url.as_str()).to_string())
                .finish(),
            Self::Oidc { issuer, .. } => f
                .debug_struct("Oidc")
                .field("issuer", &Shown(issuer).to_string())
                .field("url", &self.display_url())
                .finish(),
        }
    }
}

impl Source {
    /// Discovery at `<issuer>/.well-known/openid-configuration` (OpenID
    /// Connect Discovery 1.0 §4: a trailing `/` of the issuer is dropped).
    pub(crate) fn oidc(issuer: &str, allow_http: bool) -> Result<Self, FetchError> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        parse_url(issuer, allow_http)?;
        Ok(Self::Oidc {
            issuer: issuer.to_owned(),
            discovery: parse_url(&discovery, allow_http)?,
            jwks_uri: Mutex::new(None),
        })
    }

    /// The issuer the keys speak for, with OIDC discovery.
    pub(crate) fn issuer(&self) -> Option<&str> {
        match self {
            Self::Jwks(_) => None,
            Self::Oidc { issuer, .. } => Some(issuer),
        }
    }

    /// The URL to name in messages, without its userinfo: the JWK Set URL
    /// when known, else the discovery URL.
    pub(crate) fn display_url(&self) -> String {
        match self {
            Self::Jwks(url) => Shown(url.as_str()).to_string(),
            Self::Oidc {
                discovery,
                jwks_uri,
                ..
            } => match jwks_uri.lock().ok().and_then(|u| u.clone()) {
                Some(url) => Shown(url.as_str()).to_string(),
                None => Shown(discovery.as_str()).to_string(),
            },
        }
    }
}

/// A fetched JWK Set.
pub(crate) struct Fetched {
    pub(crate) url: Url,
    pub(crate) body: Vec<u8>,
    /// `Cache-Control: max-age`, if the response had one.
    pub(crate) max_age: Option<Duration>,
}

/// The HTTP client and the source it reads.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: Clients,
    pub(crate) source: Source,
    max_body: usize,
    allow_http: bool,
    /// The total timeout, applied per request to a URL fetched with the
    /// application's own client, whose final URL is checked too.
    timeout: Duration,
}

impl Fetcher {
    pub(crate) fn new(source: Source, options: &RemoteOptions) -> Result<Self, FetchError> {
        let http = &options.http;
        let client = build_client(http, http.max_redirects, &source_url(&source))?;
        Ok(Self {
            client,
            source,
            max_body: http.max_body,
            allow_http: http.allow_http,
            timeout: http.timeout,
        })
    }

    /// The JWK Set (after discovery, the first time, for OIDC); counted by
    /// feature `metrics`.
    pub(crate) async fn fetch(&self) -> Result<Fetched, FetchError> {
        let result = self.fetch_unobserved().await;
        crate::observe::key_fetch(result.is_ok());
        result
    }

    async fn fetch_unobserved(&self) -> Result<Fetched, FetchError> {
        let url = match &self.source {
            Source::Jwks(url) => url.clone(),
            Source::Oidc {
                issuer,
                discovery,
                jwks_uri,
            } => {
                let known = jwks_uri.lock().ok().and_then(|u| u.clone());
                match known {
                    Some(url) => url,
                    None => {
                        let url = self.discover(issuer, discovery).await?;
                        if let Ok(mut slot) = jwks_uri.lock() {
                            *slot = Some(url.clone());
                        }
                        url
                    }
                }
            }
        };
        self.get(&url).await
    }

    /// Reads the discovery document: its `issuer` must equal `issuer`
    /// exactly (OpenID Connect Discovery 1.0 §4.3), and its `jwks_uri`
    /// passes the same transport policy.
    async fn discover(&self, issuer: &str, discovery: &Url) -> Result<Url, FetchError> {
        let fetched = self.get(discovery).await?;
        let url = read_discovery(&fetched.body, issuer, discovery, self.allow_http)?;
        tracing::info!(
            issuer = %Shown(issuer),
            jwks_uri = %Shown(url.as_str()),
            "oidc discovery done"
        );
        Ok(url)
    }

    /// GET with the limits: 200 only, the body read chunk by chunk and
    /// abandoned as soon as it passes the size limit.
    async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        let own = self.client.is_own(url);
        let mut request = self
            .client
            .for_url(url)
            .get(url.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json");
        if own {
            request = request.timeout(self.timeout);
        }
        let response = request
            .send()
            .await
            .map_err(|e| FetchError::transport(url, e))?;
        if own && check_url(response.url(), self.allow_http).is_err() {
            // The application's client followed a redirect to plain http.
            return Err(FetchError::new(url, FetchErrorKind::Redirect));
        }
        let status = response.status();
        if status != StatusCode::OK {
            return Err(FetchError::new(
                url,
                FetchErrorKind::Status(status.as_u16()),
            ));
        }
        let max_age = max_age(response.headers());
        let final_url = response.url().clone();
        let body = read_limited(response, url, self.max_body).await?;
        Ok(Fetched {
            url: final_url,
            body,
            max_age,
        })
    }
}

/// The `jwks_uri` of the discovery document `body` fetched from
/// `discovery` for `issuer` (a tenant's too): the document is a JSON object
/// (well-formed throughout, unique member names at every depth), its
/// `issuer` is `issuer` exactly, and the `jwks_uri` passes the transport
/// policy.
pub(crate) fn read_discovery(
    body: &[u8],
    issuer: &str,
    discovery: &Url,
    allow_http: bool,
) -> Result<Url, FetchError> {
    #[derive(Deserialize)]
    struct Document {
        issuer: Option<String>,
        jwks_uri: Option<String>,
    }
    let invalid = || FetchError::new(discovery, FetchErrorKind::InvalidDocument);
    // The whole text first: deserializing `Document` straight from the
    // bytes skipped the members it does not name without checking them
    // (invalid UTF-8 in their strings passed), and took a JSON array for
    // the two fields (fuzz/FINDINGS.md 2).
    let doc = crate::jws::parse_object(body).map_err(|_| invalid())?;
    let doc: Document =
        serde_json::from_value(serde_json::Value::Object(doc)).map_err(|_| invalid())?;
    if doc.issuer.as_deref() != Some(issuer) {
        return Err(FetchError::new(discovery, FetchErrorKind::IssuerMismatch));
    }
    let jwks_uri = doc
        .jwks_uri
        .ok_or_else(|| FetchError::new(discovery, FetchErrorKind::MissingJwksUri))?;
    parse_url(&jwks_uri, allow_http)
}

fn source_url(source: &Source) -> Url {
    match source {
        Source::Jwks(url) => url.clone(),
        Source::Oidc { discovery, .. } => discovery.clone(),
    }
}

/// `Cache-Control: max-age=N` (RFC 9111 §5.2.2.1); `no-store`/`no-cache`
/// count as 0 (the caller clamps to its minimum).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
            if name.eq_ignore_ascii_case("max-age") {
                if let Ok(secs) = arg.trim_matches('"').parse::<u64>() {
                    found = Some(Duration::from_secs(secs));
                }
            } else if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache")
            {
                return Some(Duration::ZERO);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discovery_document_is_a_well_formed_json_object() {
        let discovery = Url::parse("https://idp.example/.well-known/openid-configuration").unwrap();
        let read = |body: &[u8]| {
            read_discovery(body, "https://idp.example", &discovery, false)
                .map_err(|e| e.kind().clone())
        };
        let ok =
            br#"{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys","x":"y"}"#;
        assert_eq!(read(ok).unwrap().as_str(), "https://idp.example/keys");
        // Found by the tenant_discovery fuzz target: invalid UTF-8 in a
        // member the reader does not use.
        let mut bad_utf8 = ok.to_vec();
        let at = bad_utf8.len() - 3;
        bad_utf8[at] = 0xff;
        assert_eq!(read(&bad_utf8), Err(FetchErrorKind::InvalidDocument));
        // The two fields as a JSON array, a duplicate member, any depth.
        for bad in [
            &br#"["https://idp.example","https://idp.example/keys"]"#[..],
            br#"{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys","x":1,"x":2}"#,
            br#"{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys","x":{"a":1,"a":1}}"#,
            br#"{"issuer":"https://idp.example","jwks_uri":"https://idp.example/keys"} x"#,
        ] {
            assert_eq!(read(bad), Err(FetchErrorKind::InvalidDocument), "{bad:?}");
        }
        assert_eq!(
            read(br#"{"issuer":"https://idp.example/","jwks_uri":"https://idp.example/keys"}"#),
            Err(FetchErrorKind::IssuerMismatch)
        );
        assert_eq!(
            read(br#"{"issuer":"https://idp.example","jwks_uri":null}"#),
            Err(FetchErrorKind::MissingJwksUri)
        );
    }

    #[test]
    fn plain_http_only_to_loopback_unless_opted_in() {
        for ok in [
            "https://idp.example/certs",
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:1/jwks",
            "http://localhost/jwks",
        ] {
            assert!(parse_url(ok, false).is_ok(), "{ok}");
        }
        for refused in [
            "http://idp.example/certs",
            "http://10.0.0.1/jwks",
            "http://localhost.evil.example/jwks",
        ] {
            assert_eq!(
                parse_url(refused, false).unwrap_err().kind(),
                &FetchErrorKind::InsecureUrl,
                "{refused}"
            );
            assert!(parse_url(refused, true).is_ok());
        }
        for bad in ["file:///etc/passwd", "ftp://x/y", "not a url"] {
            assert_eq!(
                parse_url(bad, true).unwrap_err().kind(),
                &FetchErrorKind::InvalidUrl
            );
        }
    }

    #[test]
    fn discovery_url_drops_a_trailing_slash() {
        let Source::Oidc { discovery, .. } =
            Source::oidc("https://idp.example/realms/a/", false).unwrap()
        else {
            panic!("oidc source")
        };
        assert_eq!(
            discovery.as_str(),
            "https://idp.example/realms/a/.well-known/openid-configuration"
        );
    }

    #[test]
    fn cache_control_max_age_is_read() {
        let mut h = HeaderMap::new();
        assert_eq!(max_age(&h), None);
        h.insert(CACHE_CONTROL, "public, max-age=300".parse().unwrap());
        assert_eq!(max_age(&h), Some(Duration::from_secs(300)));
        h.insert(CACHE_CONTROL, "no-store".parse().unwrap());
        assert_eq!(max_age(&h), Some(Duration::ZERO));
        h.insert(CACHE_CONTROL, "max-age=abc".parse().unwrap());
        assert_eq!(max_age(&h), None);
    }
}
