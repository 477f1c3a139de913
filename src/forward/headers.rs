//! The claim-to-header mapping ([`ClaimHeaders`]) and what an accepted
//! request carries of it to the upstream: used by the gate and the layer,
//! and by [`ForwardAuth`](super::ForwardAuth).

use crate::error::{AuthError, AuthErrorKind, ConfigError};
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// The default bound of one forwarded header value, in bytes.
const DEFAULT_MAX_VALUE_LEN: usize = 1024;

/// Headers a claim may never be forwarded as: credentials, message framing,
/// hop-by-hop and routing headers, and what proxies set themselves.
const RESERVED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "dpop",
    "dpop-nonce",
    "cookie",
    "set-cookie",
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "te",
    "trailer",
    "connection",
    "keep-alive",
    "upgrade",
    "proxy-connection",
    "expect",
    "forwarded",
    "via",
    "www-authenticate",
];

/// Which claims become which headers for the upstream (Envoy's `claim_to_headers`).
///
/// A claim is named by its top-level member name, or by a JSON pointer
/// (`/realm_access/roles`). Its value becomes the header's value: a string
/// as it is, a number or a boolean as its JSON text, an array of those
/// joined with `,`. An absent or `null` claim sets no header (the client's
/// own copy is removed all the same).
///
/// Every value is checked for header safety; a request whose claim fails a
/// check is refused with 403 (`AuthErrorKind::Forbidden`, as a failed route
/// rule), never forwarded without the header or with a cleaned-up value (an
/// upstream must not mistake the missing header for "anonymous", nor
/// `" admin"` for `"admin"`). Refused:
/// - a control character (CR, LF, NUL, tab, DEL ...), so no header is ever
///   split or injected;
/// - leading or trailing whitespace (proxies and parsers trim it, so the
///   upstream would see another value);
/// - more than the size bound (1024 bytes unless
///   [`max_value_len`](Self::max_value_len) says otherwise);
/// - an object, nested arrays, or an array element containing `,` (the
///   joined list would read differently).
///
/// Non-ASCII UTF-8 is forwarded as its bytes.
#[derive(Debug, Clone)]
pub struct ClaimHeaders {
    claims: Vec<(Arc<str>, HeaderName)>,
    max_len: usize,
}

impl Default for ClaimHeaders {
    fn default() -> Self {
        Self::new()
    }
}

impl ClaimHeaders {
    /// No claim mapped yet; the size bound is 1024 bytes.
    #[must_use]
    pub fn new() -> Self {
        Self {
            claims: Vec::new(),
            max_len: DEFAULT_MAX_VALUE_LEN,
        }
    }

    /// Forwards `claim` as the header `header`.
    ///
    /// # Errors
    /// [`ConfigError::Forward`] for a header name that is not valid, that
    /// is mapped already, or that is reserved: credentials (`Authorization`,
    /// `DPoP`, `Cookie` ...), message framing and hop-by-hop headers
    /// (`Host`, `Content-Length`, `Transfer-Encoding`, `Connection` ...),
    /// `Forwarded`, `Via`, any `X-Forwarded-*` or `X-Original-*`.
    pub fn map(mut self, claim: impl Into<String>, header: &str) -> Result<Self, ConfigError> {
        let name = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| ConfigError::Forward("not a valid header name"))?;
        let lower = name.as_str();
        if RESERVED.contains(&lower)
            || lower.starts_with("x-forwarded-")
            || lower.starts_with("x-original-")
        {
            return Err(ConfigError::Forward(
                "a reserved header (credentials, framing, hop-by-hop, forwarding)",
            ));
        }
        if self.claims.iter().any(|(_, h)| *h == name) {
            return Err(ConfigError::Forward("the header is mapped already"));
        }
        let claim = claim.into();
        if claim.is_empty() {
            return Err(ConfigError::Forward("an empty claim name"));
        }
        self.claims.push((Arc::from(claim), name));
        Ok(self)
    }

    /// Sets the size bound of one header value, in bytes (default 1024).
    #[must_use]
    pub fn max_value_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// The mapped header names.
    pub fn headers(&self) -> impl Iterator<Item = &HeaderName> {
        self.claims.iter().map(|(_, h)| h)
    }

    /// The headers `claims` map to.
    ///
    /// # Errors
    /// [`AuthErrorKind::Forbidden`] when a value fails a safety check.
    pub(crate) fn values(&self, claims: &Value) -> Result<Mapped, AuthError> {
        let mut out = Vec::with_capacity(self.claims.len());
        for (claim, header) in &self.claims {
            let value = if claim.starts_with('/') {
                claims.pointer(claim)
            } else {
                claims.get(&**claim)
            };
            if let Some(v) = self.value(value)? {
                out.push((header.clone(), v));
            }
        }
        Ok(out)
    }

    fn value(&self, value: Option<&Value>) -> Result<Option<HeaderValue>, AuthError> {
        let unsafe_value = || AuthError::new(AuthErrorKind::Forbidden);
        let text = match value {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(items)) => {
                let mut joined = String::new();
                for (i, item) in items.iter().enumerate() {
                    let item = scalar(item).ok_or_else(unsafe_value)?;
                    if item.contains(',') {
                        return Err(unsafe_value());
                    }
                    if i > 0 {
                        joined.push(',');
                    }
                    joined.push_str(&item);
                    if joined.len() > self.max_len {
                        return Err(unsafe_value());
                    }
                }
                joined
            }
            Some(v) => scalar(v).ok_or_else(unsafe_value)?,
        };
        if text.len() > self.max_len || !is_header_safe(&text) {
            return Err(unsafe_value());
        }
        HeaderValue::from_bytes(text.as_bytes())
            .map(Some)
            .map_err(|_| unsafe_value())
    }
}

/// A string, number or boolean as header text; `None` for anything else.
pub(super) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// No control character (C0, DEL, C1), no leading or trailing whitespace
/// (Unicode's, which `str::trim` removes).
pub(super) fn is_header_safe(s: &str) -> bool {
    !s.chars().any(char::is_control) && s.trim() == s
}

/// What a [`Gate`] with forwarding hands an accepted request: the headers
/// to remove and the ones to set.
#[derive(Debug, Clone)]
pub(crate) struct Forwarded {
    pub(crate) strip: Vec<HeaderName>,
    pub(crate) set: Mapped,
}

impl Forwarded {
    /// Removes the credentials and the client's copies, then sets the mapped
    /// headers.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.strip {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
    }
}

/// The headers a request's claims map to.
pub(crate) type Mapped = Vec<(HeaderName, HeaderValue)>;

/// A route's forwarding: the mapping and how the claims type is read.
pub(crate) struct Forwarding<C> {
    pub(crate) headers: ClaimHeaders,
    pub(crate) read: fn(&ClaimHeaders, &C) -> Result<Mapped, AuthError>,
}

impl<C> fmt::Debug for Forwarding<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forwarding")
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}
