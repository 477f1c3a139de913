//! MCP Streamable HTTP endpoints: scopes per JSON-RPC method and per tool,
//! prompt or resource ([`McpScopes`]).
//!
//! One Streamable HTTP endpoint carries every tool, so a route's
//! [`require_scope`](crate::JwtAuthLayer::require_scope) cannot tell
//! `tools/call` of `search` from `tools/call` of `delete_repo`.
//! [`McpScopes`] is a tower layer placed *inside* the
//! [`JwtAuthLayer`](crate::JwtAuthLayer): it reads the JSON-RPC message of
//! each `POST` (up to a size bound), checks the SEP-2243 `Mcp-Method` and
//! `Mcp-Name` headers against it, requires the scopes listed for its method
//! and for the tool, prompt or resource it names, and hands the body on
//! byte for byte.
//!
//! ```
//! use axum::{routing::post, Router};
//! use tower_jwt_auth::{mcp::McpScopes, Authenticator};
//!
//! # async fn mcp() {}
//! let auth = Authenticator::builder()
//!     .hmac_secret("a secret of at least thirty-two bytes")
//!     .resource("https://api.example/mcp")
//!     .build()?;
//! let read = auth.layer().require_scope("mcp:read");      // every message
//! let tools = McpScopes::new()
//!     .tool("search", ["mcp:read"])
//!     .tool("delete_repo", ["mcp:admin"]);                  // 403 scope="mcp:admin"
//! let metadata = auth
//!     .resource_metadata()
//!     .expect("a resource is configured")
//!     .with_scopes_of(&read)
//!     .with_scopes(tools.scopes());
//! let app: Router = Router::new()
//!     .route("/mcp", post(mcp))
//!     .layer(tools)                                       // inside
//!     .layer(read)                                        // outside: the token first
//!     .merge(metadata.router());
//! assert_eq!(
//!     metadata.document()["scopes_supported"],
//!     serde_json::json!(["mcp:admin", "mcp:read"])
//! );
//! # let _ = app;
//! # Ok::<(), tower_jwt_auth::ConfigError>(())
//! ```
//!
//! What each request gets:
//!
//! | request | answer |
//! |---|---|
//! | not `POST` (the `GET` event stream, `DELETE` of a session) | passed on, no body read |
//! | body over [`max_body`](McpScopes::max_body) (default 1 MiB) | 413 |
//! | body that is not one JSON-RPC 2.0 object (invalid JSON, a duplicate member name, a batch `[...]`, no `"jsonrpc": "2.0"`) | 400 |
//! | `Mcp-Method` or `Mcp-Name` that disagrees with the body, is sent twice or is not valid | 400 |
//! | `MCP-Protocol-Version` 2026-07-28 or later without `Mcp-Method` (or without `Mcp-Name` for a method that names something) | 400 |
//! | `tools/call`, `prompts/get`, `resources/read`, `resources/subscribe`, `resources/unsubscribe` without a string `params.name` / `params.uri` | 400 |
//! | a token without every scope the call needs | 403 `insufficient_scope`, `scope="<the scopes this call needs>"`, `resource_metadata` |
//! | no [`JwtAuthLayer`](crate::JwtAuthLayer) outside it, or one decoding claims other than `serde_json::Value` | 500 |
//! | no token, on an [`optional`](crate::Authenticator::optional) route, for a call that needs scopes | 401 with the route's challenge |
//!
//! Batches: the MCP revisions since 2025-06-18 have none, and judging one
//! would mean judging every member, so a batch is refused (400). Client
//! notifications and JSON-RPC responses (no `id`, or no `method`) pass with
//! what the outer layer required, plus their method's scopes when listed.
//! The 400, 413 and 500 answers have an empty body and
//! `Cache-Control: no-store`; the 403 is the crate's RFC 6750 response
//! (the challenge of the route that let the request in: realm and
//! `resource_metadata`), logged and counted like any rejection.
//!
//! That 403 is always the default response: a responder given to
//! [`JwtAuthLayer::on_error`](crate::JwtAuthLayer::on_error) shapes the outer
//! layer's rejections only, and the challenge is `Bearer` even for a DPoP
//! request (the route's plain challenge).
//!
//! Scopes are read from the `scope` claim (space-separated), and from `scp`
//! after [`scp_claim(true)`](McpScopes::scp_claim), as
//! [`AuthenticatorBuilder::scp_claim`](crate::AuthenticatorBuilder::scp_claim)
//! does; the claims must be the default `serde_json::Value`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::{AuthMarker, Claims};
use crate::error::{is_scope_token, AuthError, AuthErrorKind};
use crate::response::Rejection;
use crate::route_rules::Grants;

/// The default bound on a JSON-RPC body: 1 MiB.
const DEFAULT_MAX_BODY: usize = 1 << 20;

/// The SEP-2243 header mirroring the JSON-RPC `method`.
const MCP_METHOD: &str = "mcp-method";
/// The SEP-2243 header mirroring the tool or prompt name, or resource URI.
const MCP_NAME: &str = "mcp-name";
/// The negotiated MCP revision.
const MCP_PROTOCOL_VERSION: &str = "mcp-protocol-version";
/// The first MCP revision whose clients must send `Mcp-Method` / `Mcp-Name`.
const STANDARD_HEADERS: &str = "2026-07-28";

/// Per-method and per-name scopes of an MCP Streamable HTTP endpoint: a
/// tower [`Layer`] placed inside the [`JwtAuthLayer`](crate::JwtAuthLayer).
///
/// See the [module](self) for what each request gets. A call needs the
/// scopes of its method ([`method`](Self::method)) and, for `tools/call`,
/// `prompts/get` and `resources/read` / `subscribe` / `unsubscribe`, those
/// of the name it calls ([`tool`](Self::tool), [`prompt`](Self::prompt),
/// [`resource`](Self::resource)); all of them, besides what the outer layer
/// requires of every request.
///
/// Defaults an operator can rely on: a method not listed needs nothing
/// more than the outer layer's scopes (`initialize`, `ping`, `tools/list`
/// stay open to every valid token); a tool, prompt or resource *not
/// listed* is refused (403 `insufficient_scope`, no `scope`: no scope
/// grants it), unless [`unlisted`](Self::unlisted) names the scopes such a
/// name needs. A new tool therefore stays unreachable until it is given
/// scopes. Scopes are RFC 6749 scope tokens (no space, no `"` or `\`): one
/// that is not is never granted, and is left out of challenges and of
/// [`scopes`](Self::scopes). Cheap to clone.
#[derive(Clone)]
pub struct McpScopes {
    table: Arc<Table>,
}

#[derive(Clone, Default)]
struct Table {
    methods: HashMap<String, Vec<String>>,
    tools: HashMap<String, Vec<String>>,
    prompts: HashMap<String, Vec<String>>,
    resources: HashMap<String, Vec<String>>,
    /// The scopes of a name not listed; `None`: refused.
    unlisted: Option<Vec<String>>,
    max_body: usize,
    scp: bool,
}

impl fmt::Debug for McpScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.table;
        f.debug_struct("McpScopes")
            .field("methods", &t.methods)
            .field("tools", &t.tools)
            .field("prompts", &t.prompts)
            .field("resources", &t.resources)
            .field("unlisted", &t.unlisted)
            .field("max_body", &t.max_body)
            .field("scp", &t.scp)
            .finish()
    }
}

impl Default for McpScopes {
    fn default() -> Self {
        Self::new()
    }
}

fn strings<I, S>(scopes: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    scopes.into_iter().map(Into::into).collect()
}

impl McpScopes {
    /// No scopes listed, a 1 MiB body bound, unlisted names refused.
    #[must_use]
    pub fn new() -> Self {
        Self {
            table: Arc::new(Table {
                max_body: DEFAULT_MAX_BODY,
                ..Table::default()
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Table)) -> Self {
        f(Arc::make_mut(&mut self.table));
        self
    }

    /// Requires `scopes` (every one) of each message with this JSON-RPC
    /// `method` (`tools/list`, `resources/read`, ...); a later call for the
    /// same method replaces the list.
    #[must_use]
    pub fn method<I, S>(self, method: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (method, scopes) = (method.into(), strings(scopes));
        self.edit(|t| {
            t.methods.insert(method, scopes);
        })
    }

    /// Requires `scopes` (every one) of a `tools/call` of the tool `name`.
    #[must_use]
    pub fn tool<I, S>(self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (name, scopes) = (name.into(), strings(scopes));
        self.edit(|t| {
            t.tools.insert(name, scopes);
        })
    }

    /// Requires `scopes` (every one) of a `prompts/get` of the prompt `name`.
    #[must_use]
    pub fn prompt<I, S>(self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (name, scopes) = (name.into(), strings(scopes));
        self.edit(|t| {
            t.prompts.insert(name, scopes);
        })
    }

    /// Requires `scopes` (every one) of `resources/read`, `subscribe` and
    /// `unsubscribe` of the resource `uri` (compared exactly).
    #[must_use]
    pub fn resource<I, S>(self, uri: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (uri, scopes) = (uri.into(), strings(scopes));
        self.edit(|t| {
            t.resources.insert(uri, scopes);
        })
    }

    /// The scopes a tool, prompt or resource not listed needs (an empty
    /// list: none beyond its method's); by default such a name is refused.
    #[must_use]
    pub fn unlisted<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = strings(scopes);
        self.edit(|t| t.unlisted = Some(scopes))
    }

    /// The largest body read, in bytes (default 1 MiB); a larger one gets
    /// 413 without reaching the service.
    #[must_use]
    pub fn max_body(self, bytes: usize) -> Self {
        self.edit(|t| t.max_body = bytes)
    }

    /// Also reads scopes from the `scp` claim (an array or a
    /// space-separated string); set it as the authenticator's
    /// [`scp_claim`](crate::AuthenticatorBuilder::scp_claim).
    #[must_use]
    pub fn scp_claim(self, enabled: bool) -> Self {
        self.edit(|t| t.scp = enabled)
    }

    /// Every scope listed, once each, sorted: give them to
    /// [`ResourceMetadata::with_scopes`](crate::resource::ResourceMetadata::with_scopes)
    /// for `scopes_supported`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        let t = &self.table;
        let all: BTreeSet<&str> = [&t.methods, &t.tools, &t.prompts, &t.resources]
            .into_iter()
            .flat_map(HashMap::values)
            .chain(t.unlisted.iter())
            .flatten()
            .map(String::as_str)
            .filter(|s| is_scope_token(s))
            .collect();
        all.into_iter()
    }
}

impl<S> Layer<S> for McpScopes {
    type Service = McpAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        McpAuth {
            inner,
            table: Arc::clone(&self.table),
        }
    }
}

/// The service of [`McpScopes`]: checks each JSON-RPC message, then calls
/// the inner service with the body unchanged.
#[derive(Clone)]
pub struct McpAuth<S> {
    inner: S,
    table: Arc<Table>,
}

impl<S> fmt::Debug for McpAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAuth")
            .field("inner", &std::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

type BoxedFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B, ResBody> Service<Request<B>> for McpAuth<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxedFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The service made ready goes with the future.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if req.method() != Method::POST {
            return Box::pin(inner.call(req));
        }
        let table = Arc::clone(&self.table);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let bytes = match read_body(&parts.headers, body, table.max_body).await {
                Ok(bytes) => bytes,
                Err(status) => return Ok(plain(status)),
            };
            if let Err(refusal) = table.judge(&parts.headers, &parts.extensions, &bytes) {
                return Ok(refusal.into_response());
            }
            inner.call(Request::from_parts(parts, B::from(bytes))).await
        })
    }
}

/// The body, whole, at most `max` bytes: 413 beyond (a `Content-Length`
/// over the bound is refused unread), 400 when it cannot be read.
async fn read_body<B>(headers: &HeaderMap, body: B, max: usize) -> Result<Bytes, StatusCode>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        }
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

/// A bodiless answer that is not a challenge.
fn plain<B: Default>(status: StatusCode) -> Response<B> {
    let mut res = Response::new(B::default());
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Why a message does not go on.
enum Refusal {
    /// 400, 500: no challenge.
    Plain(StatusCode),
    /// 401 or 403, with the route's challenge.
    Auth(Box<Rejection>),
}

impl Refusal {
    fn into_response<B: Default>(self) -> Response<B> {
        match self {
            Self::Plain(status) => plain(status),
            Self::Auth(rejection) => {
                rejection.record();
                rejection.challenge().http_response(rejection.error())
            }
        }
    }
}

const BAD: Refusal = Refusal::Plain(StatusCode::BAD_REQUEST);

/// The methods whose `params` name what is called, and the member.
fn named_member(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        // SEP-2663 tasks: routed by `Mcp-Name` too, scoped by method only.
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// One header's value as text: `Ok(None)` when absent, `Err` when sent
/// twice or not visible ASCII.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Refusal> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(BAD);
    }
    first.to_str().map(Some).map_err(|_| BAD)
}

/// An `Mcp-Name` value: as sent, or the UTF-8 text inside
/// `=?base64?<standard base64>?=`.
fn decode_name(raw: &str) -> Option<String> {
    match raw
        .strip_prefix("=?base64?")
        .and_then(|inner| inner.strip_suffix("?="))
    {
        Some(inner) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(inner)
                .ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(raw.to_owned()),
    }
}

impl Table {
    /// Whether the message in `body` may go on.
    fn judge(
        &self,
        headers: &HeaderMap,
        extensions: &http::Extensions,
        body: &[u8],
    ) -> Result<(), Refusal> {
        let readable = extensions
            .get::<AuthMarker>()
            .is_some_and(|m| m.claims_type == std::any::TypeId::of::<Value>());
        if !readable {
            // No JwtAuthLayer outside, or one decoding claims of a type this
            // layer cannot read: a misconfigured route, never open.
            return Err(Refusal::Plain(StatusCode::INTERNAL_SERVER_ERROR));
        }
        // One object with unique member names at every depth: two parsers
        // picking different duplicates (`"name"` twice) would be a bypass.
        let Ok(crate::jws::Unique(Value::Object(message))) = serde_json::from_slice(body) else {
            return Err(BAD);
        };
        if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(BAD);
        }
        let method = match message.get("method") {
            None => None,
            Some(Value::String(m)) => Some(m.as_str()),
            Some(_) => return Err(BAD),
        };
        let member = method.and_then(named_member);
        let name = match member {
            None => None,
            Some(member) => match message.get("params").and_then(|p| p.get(member)) {
                Some(Value::String(name)) => Some(name.as_str()),
                _ => return Err(BAD),
            },
        };
        Self::check_headers(headers, method, name)?;
        let Some(method) = method else {
            // A JSON-RPC response from the client: nothing is called.
            return Ok(());
        };
        let mut needed: Vec<String> = Vec::new();
        if let Some(scopes) = self.methods.get(method) {
            needed.extend(scopes.iter().cloned());
        }
        let names = match method {
            "tools/call" => Some(&self.tools),
            "prompts/get" => Some(&self.prompts),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                Some(&self.resources)
            }
            _ => None,
        };
        if let (Some(names), Some(name)) = (names, name) {
            match names.get(name).or(self.unlisted.as_ref()) {
                Some(scopes) => needed.extend(scopes.iter().cloned()),
                // No scope grants a name that is not listed.
                None => return Err(self.refuse(extensions, AuthError::insufficient_scope(&[]))),
            }
        }
        needed.sort();
        needed.dedup();
        self.check_scopes(extensions, &needed)
    }

    /// `Mcp-Method` and `Mcp-Name` against the body (SEP-2243): equal when
    /// sent; required from a client of revision 2026-07-28 or later.
    fn check_headers(
        headers: &HeaderMap,
        method: Option<&str>,
        name: Option<&str>,
    ) -> Result<(), Refusal> {
        let sent_method = single(headers, MCP_METHOD)?;
        let sent_name = single(headers, MCP_NAME)?;
        let version = single(headers, MCP_PROTOCOL_VERSION)?;
        // Revisions are dates, YYYY-MM-DD: compared as text.
        let required = method.is_some() && version.is_some_and(|v| v >= STANDARD_HEADERS);
        match (sent_method, method) {
            (None, _) if required => return Err(BAD),
            (None, _) => {}
            (Some(sent), Some(method)) if sent == method => {}
            (Some(_), _) => return Err(BAD),
        }
        match (sent_name, name) {
            (None, Some(_)) if required => Err(BAD),
            (None, _) => Ok(()),
            (Some(sent), Some(name)) if decode_name(sent).as_deref() == Some(name) => Ok(()),
            (Some(_), _) => Err(BAD),
        }
    }

    /// Every scope in `needed` against the token's.
    fn check_scopes(
        &self,
        extensions: &http::Extensions,
        needed: &[String],
    ) -> Result<(), Refusal> {
        if needed.is_empty() {
            return Ok(());
        }
        let Some(Claims(claims)) = extensions.get::<Claims<Value>>() else {
            // Anonymous on an optional route: a token is needed.
            return Err(self.refuse(extensions, AuthErrorKind::Missing.into()));
        };
        let grants = Grants {
            scp: self.scp,
            ..Grants::default()
        };
        let Some(claims) = claims.as_object() else {
            return Err(self.refuse(extensions, AuthError::insufficient_scope(needed)));
        };
        if needed
            .iter()
            .all(|s| is_scope_token(s) && grants.has_scope(claims, s))
        {
            Ok(())
        } else {
            Err(self.refuse(extensions, AuthError::insufficient_scope(needed)))
        }
    }

    /// A 401 or 403 with the challenge of the route that let the request in.
    fn refuse(&self, extensions: &http::Extensions, error: AuthError) -> Refusal {
        match extensions.get::<AuthMarker>() {
            Some(marker) => {
                Refusal::Auth(Box::new(Rejection::new(error, marker.challenge.clone())))
            }
            None => Refusal::Plain(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_bare_or_base64_wrapped() {
        assert_eq!(decode_name("search").as_deref(), Some("search"));
        let wrapped = format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode("résumé tool")
        );
        assert_eq!(decode_name(&wrapped).as_deref(), Some("résumé tool"));
        assert_eq!(decode_name("=?base64?***?="), None);
        let not_utf8 = format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe])
        );
        assert_eq!(decode_name(&not_utf8), None);
    }

    #[test]
    fn the_scopes_are_listed_once_sorted() {
        let s = McpScopes::new()
            .method("tools/list", ["mcp:read"])
            .tool("search", ["mcp:read"])
            .tool("delete_repo", ["mcp:admin"])
            .prompt("p", ["mcp:prompts"])
            .unlisted(["mcp:other"])
            .method("resources/list", ["not a scope"]);
        let all: Vec<&str> = s.scopes().collect();
        assert_eq!(all, ["mcp:admin", "mcp:other", "mcp:prompts", "mcp:read"]);
    }

    /// A request's extensions as an accepting `JwtAuth` leaves them, with
    /// `scope` granted.
    fn accepted(scope: &str) -> http::Extensions {
        let mut extensions = http::Extensions::new();
        let claims = serde_json::json!({ "sub": "ada", "scope": scope });
        extensions.insert(Claims::new(claims));
        extensions.insert(AuthMarker::of::<Value>(
            crate::response::Challenge::default(),
        ));
        extensions
    }

    proptest::proptest! {
        /// Any body and any header values: an answer, never a panic, and
        /// never a pass for what is not one JSON-RPC object.
        #[test]
        fn judging_never_panics_and_passes_only_json_rpc_objects(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            members in proptest::collection::vec((0usize..8, 0usize..8), 0..6),
            method in proptest::option::of("[ -~]{0,20}"),
            name in proptest::option::of("[ -~]{0,30}"),
        ) {
            const NAMES: [&str; 8] =
                ["jsonrpc", "method", "params", "id", "result", "name", r"\u006dethod", "x"];
            const VALUES: [&str; 8] = [
                r#""2.0""#, r#""tools/call""#, r#"{"name":"search"}"#, r#"{"name":"delete_repo"}"#,
                "1", "null", r#"["tools/call"]"#, r#"{"uri":"file:///a","name":7}"#,
            ];
            let json: Vec<String> = members
                .iter()
                .map(|&(n, v)| format!(r#""{}":{}"#, NAMES[n], VALUES[v]))
                .collect();
            let json = format!("{{{}}}", json.join(","));
            let table = McpScopes::new()
                .tool("search", ["mcp:read"])
                .tool("delete_repo", ["mcp:admin"])
                .table;
            let mut headers = HeaderMap::new();
            if let Some(m) = method.as_deref().and_then(|m| HeaderValue::from_str(m).ok()) {
                headers.insert(MCP_METHOD, m);
            }
            if let Some(n) = name.as_deref().and_then(|n| HeaderValue::from_str(n).ok()) {
                headers.insert(MCP_NAME, n);
            }
            let extensions = accepted("mcp:read");
            let _ = table.judge(&headers, &extensions, &body);
            let passed = table.judge(&headers, &extensions, json.as_bytes()).is_ok();
            if passed {
                let value: Value = serde_json::from_str(&json).expect("valid JSON");
                proptest::prop_assert_eq!(&value["jsonrpc"], "2.0");
                // `delete_repo` needs a scope this token lacks.
                let called = value["params"]["name"].as_str();
                proptest::prop_assert!(
                    value["method"] != "tools/call" || called == Some("search"),
                    "{}", json
                );
            }
        }
    }

    #[test]
    fn headers_must_agree_with_the_body() {
        let mut h = HeaderMap::new();
        assert!(Table::check_headers(&h, Some("tools/call"), Some("search")).is_ok());
        h.insert(MCP_METHOD, HeaderValue::from_static("tools/call"));
        h.insert(MCP_NAME, HeaderValue::from_static("search"));
        assert!(Table::check_headers(&h, Some("tools/call"), Some("search")).is_ok());
        assert!(Table::check_headers(&h, Some("tools/call"), Some("delete_repo")).is_err());
        assert!(Table::check_headers(&h, Some("tools/list"), None).is_err());
        assert!(Table::check_headers(&h, None, None).is_err());
        h.append(MCP_NAME, HeaderValue::from_static("search"));
        assert!(Table::check_headers(&h, Some("tools/call"), Some("search")).is_err());
        let mut h = HeaderMap::new();
        h.insert(MCP_PROTOCOL_VERSION, HeaderValue::from_static("2026-07-28"));
        assert!(Table::check_headers(&h, Some("tools/list"), None).is_err());
        assert!(Table::check_headers(&h, None, None).is_ok());
        h.insert(MCP_METHOD, HeaderValue::from_static("tools/call"));
        assert!(Table::check_headers(&h, Some("tools/call"), Some("x")).is_err());
        h.insert(MCP_PROTOCOL_VERSION, HeaderValue::from_static("2025-11-25"));
        assert!(Table::check_headers(&h, Some("tools/call"), Some("x")).is_ok());
    }
}
