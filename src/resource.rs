//! The protected resource: its identifier (RFC 8707), its metadata (RFC
//! 9728) and the URL that challenges point at.
//!
//! See [`ProtectedResource`] for the configuration and
//! [`ResourceMetadata`] for the document.

use std::collections::{BTreeSet, HashSet};
use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use fluent_uri::Uri;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::dpop::{Dpop, DpopMode};
use crate::error::{is_scope_token, ConfigError};
use crate::response::is_quotable;
use crate::token::TokenSource;

/// The well-known path of RFC 9728 §3.
pub(crate) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The protected resource an authenticator guards: its URI and what its
/// metadata says besides what the authenticator's configuration derives.
///
/// Given to [`AuthenticatorBuilder::resource`](crate::AuthenticatorBuilder::resource)
/// (a `&str` or `String` converts into one).
///
/// Configure it once with
/// [`AuthenticatorBuilder::resource`](crate::AuthenticatorBuilder::resource);
/// everything else follows from the authenticator's own configuration:
/// - tokens must name the resource in `aud` (RFC 8707; the MCP
///   authorization spec requires it); other audiences configured beside it
///   are a build error ([`ConfigError::InvalidResource`]),
///   since a token naming only one of them would pass instead: to accept
///   several, say so with [`require_audience(false)`](Self::require_audience)
///   and list them all in
///   [`AuthenticatorBuilder::audience`](crate::AuthenticatorBuilder::audience);
/// - every 401 and 403 challenge of its layers carries
///   `resource_metadata="<url>"` (RFC 9728 §5.1), the document's own URL,
///   where alone it is served (two resources on one host mount side by
///   side);
/// - [`Authenticator::resource_metadata`](crate::Authenticator::resource_metadata)
///   serves the document: a plain value ([`ResourceMetadata::document`]),
///   a tower service ([`ResourceMetadata::service`]) or, with feature
///   `axum`, a router ([`ResourceMetadata::router`]).
///
/// ```
/// use tower_jwt_auth::{Authenticator, resource::ProtectedResource};
///
/// let auth = Authenticator::builder()
///     .hmac_secret("a secret of at least thirty-two bytes")
///     .issuer(["https://idp.example"])
///     .resource(ProtectedResource::new("https://API.example/mcp/").name("Example tools"))
///     .build()?;
/// let tools = auth.layer().require_scope("tools");
/// let metadata = auth
///     .resource_metadata()
///     .expect("a resource is configured")
///     .with_scopes_of(&tools);
/// assert_eq!(metadata.resource(), "https://api.example/mcp");
/// assert_eq!(
///     metadata.url(),
///     "https://api.example/.well-known/oauth-protected-resource/mcp"
/// );
/// let doc = metadata.document();
/// assert_eq!(doc["authorization_servers"][0], "https://idp.example");
/// assert_eq!(doc["scopes_supported"][0], "tools");
/// # let _ = tools;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
///
/// Canonical form of the resource (RFC 8707 §2, RFC 3986 §6.2.2): scheme
/// and host lowercase, percent-encodings and dot segments normalized, the
/// port kept as written; a query, a fragment or user information is a
/// configuration error; one trailing `/` is dropped
/// (`https://api.example/mcp/` is `https://api.example/mcp`, and
/// `https://api.example/` is `https://api.example`), as the MCP
/// authorization spec recommends. `aud` is compared with the canonical
/// form exactly.
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    uri: String,
    require_audience: bool,
    name: Option<String>,
    documentation: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    scopes: Vec<String>,
    authorization_servers: Option<Vec<String>>,
}

impl ProtectedResource {
    /// The resource at `uri` (e.g. `https://api.example/mcp`), in the
    /// canonical form described [above](Self).
    #[must_use]
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            require_audience: true,
            name: None,
            documentation: None,
            policy_uri: None,
            tos_uri: None,
            scopes: Vec::new(),
            authorization_servers: None,
        }
    }

    /// Whether tokens must name the resource in `aud` (RFC 8707; default
    /// `true`, as the MCP authorization spec requires).
    ///
    /// `false` publishes
    /// the metadata and the challenges' `resource_metadata` and leaves the
    /// audience to [`AuthenticatorBuilder::audience`](crate::AuthenticatorBuilder::audience):
    /// the way to accept several audiences (with `true`, any audience
    /// configured beside the resource is a build error).
    #[must_use]
    pub fn require_audience(mut self, required: bool) -> Self {
        self.require_audience = required;
        self
    }

    /// The human-readable `resource_name` of the metadata.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The `resource_documentation` URL of the metadata.
    #[must_use]
    pub fn documentation(mut self, url: impl Into<String>) -> Self {
        self.documentation = Some(url.into());
        self
    }

    /// The `resource_policy_uri` of the metadata.
    #[must_use]
    pub fn policy_uri(mut self, url: impl Into<String>) -> Self {
        self.policy_uri = Some(url.into());
        self
    }

    /// The `resource_tos_uri` of the metadata.
    #[must_use]
    pub fn tos_uri(mut self, url: impl Into<String>) -> Self {
        self.tos_uri = Some(url.into());
        self
    }

    /// Scopes the metadata always lists in `scopes_supported`.
    ///
    /// A fixed list; [`ResourceMetadata::with_scopes_of`] adds those of the
    /// layers that use the metadata.
    #[must_use]
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The `authorization_servers` of the metadata, replacing the default
    /// (the OIDC issuer, else the accepted issuers).
    #[must_use]
    pub fn authorization_servers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.authorization_servers = Some(issuers.into_iter().map(Into::into).collect());
        self
    }

    /// RFC 8707 §2 / MCP: makes the canonical resource the one accepted
    /// audience, unless [`require_audience`](Self::require_audience) is
    /// off.
    ///
    /// # Errors
    /// [`ConfigError::InvalidResource`]: the resource is not a valid URL,
    /// or other audiences are configured beside a resource that requires
    /// its own (tokens naming only one of them would pass instead of
    /// naming the resource).
    pub(crate) fn add_audience(
        &self,
        audiences: &mut Option<HashSet<String>>,
    ) -> Result<(), ConfigError> {
        let (resource, _) = canonical(&self.uri)?;
        if !self.require_audience {
            return Ok(());
        }
        let is_resource =
            |aud: &String| canonical(aud).is_ok_and(|(canonical, _)| canonical == resource);
        if audiences.iter().flatten().any(|aud| !is_resource(aud)) {
            return Err(invalid(
                "other audiences beside a resource that requires its own: tokens must name \
                 the resource; drop them, or use `require_audience(false)` and list every \
                 accepted audience",
            ));
        }
        *audiences = Some(HashSet::from([resource]));
        Ok(())
    }

    /// The OIDC issuer: the metadata's authorization server, unless
    /// [`authorization_servers`](Self::authorization_servers) was given.
    #[cfg(feature = "remote")]
    pub(crate) fn oidc_issuer(&mut self, issuer: &str) {
        self.authorization_servers
            .get_or_insert_with(|| vec![issuer.to_owned()]);
    }

    /// Checks and freezes the resource. The default
    /// `authorization_servers`: the OIDC issuer, else the accepted
    /// `issuers`, sorted.
    pub(crate) fn build(
        self,
        issuers: Option<&HashSet<String>>,
    ) -> Result<ResourceConfig, ConfigError> {
        let mut issuers: Vec<String> = issuers.into_iter().flatten().cloned().collect();
        issuers.sort();
        let (resource, (origin, path)) = canonical(&self.uri)?;
        let metadata_path = format!("{WELL_KNOWN}{path}");
        let metadata_url = format!("{origin}{metadata_path}");
        if !is_quotable(&metadata_url) {
            return Err(invalid("the metadata URL cannot be quoted in a challenge"));
        }
        let scopes: BTreeSet<String> = self.scopes.into_iter().collect();
        if !scopes.iter().all(|s| is_scope_token(s)) {
            return Err(invalid("a supported scope is not a valid scope token"));
        }
        Ok(ResourceConfig {
            resource: Arc::from(resource),
            metadata_url: Arc::from(metadata_url),
            path: metadata_path,
            name: self.name,
            documentation: self.documentation,
            policy_uri: self.policy_uri,
            tos_uri: self.tos_uri,
            authorization_servers: self.authorization_servers.unwrap_or(issuers),
            scopes,
        })
    }
}

impl From<&str> for ProtectedResource {
    fn from(uri: &str) -> Self {
        Self::new(uri)
    }
}

impl From<String> for ProtectedResource {
    fn from(uri: String) -> Self {
        Self::new(uri)
    }
}

fn invalid(reason: &'static str) -> ConfigError {
    ConfigError::InvalidResource { reason }
}

/// The canonical resource and its (origin, path) halves.
fn canonical(uri: &str) -> Result<(String, (String, String)), ConfigError> {
    const NOT_URL: &str = "not an absolute http or https URL";
    let uri = Uri::parse(uri).map_err(|_| invalid(NOT_URL))?.normalize();
    let scheme = uri.scheme().as_str();
    if scheme != "http" && scheme != "https" {
        return Err(invalid(NOT_URL));
    }
    let authority = uri.authority().ok_or(invalid(NOT_URL))?;
    if authority.host().is_empty() {
        return Err(invalid(NOT_URL));
    }
    if authority.userinfo().is_some() {
        return Err(invalid("the URL has user information"));
    }
    // RFC 8707 §2: "MUST NOT include a fragment component"; a query is
    // left out too, so that the metadata URL of RFC 9728 §3.1 is a path.
    if uri.query().is_some() || uri.fragment().is_some() {
        return Err(invalid("the URL has a query or a fragment"));
    }
    let origin = format!("{scheme}://{}", authority.as_str());
    let mut path = uri.path().as_str().to_owned();
    if path.ends_with('/') {
        path.pop();
    }
    Ok((format!("{origin}{path}"), (origin, path)))
}

/// A built resource, shared by the authenticator and its layers.
pub(crate) struct ResourceConfig {
    resource: Arc<str>,
    metadata_url: Arc<str>,
    /// Where the metadata is served: the RFC 9728 §3.1 path, and no
    /// other (`/.well-known/oauth-protected-resource` alone is the URL of
    /// the origin's resource, §3.3).
    path: String,
    name: Option<String>,
    documentation: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    authorization_servers: Vec<String>,
    /// Those of [`ProtectedResource::scopes_supported`].
    scopes: BTreeSet<String>,
}

impl fmt::Debug for ResourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceConfig")
            .field("resource", &self.resource)
            .field("metadata_url", &self.metadata_url)
            .finish_non_exhaustive()
    }
}

impl ResourceConfig {
    /// The metadata URL the challenges name.
    pub(crate) fn metadata_url(&self) -> &Arc<str> {
        &self.metadata_url
    }
}

/// The protected resource metadata of an authenticator (RFC 9728 §2), from
/// [`Authenticator::resource_metadata`](crate::Authenticator::resource_metadata):
/// as a JSON value ([`document`](Self::document)), a tower service
/// ([`service`](Self::service)) or an axum router
/// ([`router`](Self::router), feature `axum`).
///
/// Cheap to clone.
///
/// `scopes_supported` lists the scopes given to
/// [`ProtectedResource::scopes_supported`] and those the layers passed to
/// [`with_scopes_of`](Self::with_scopes_of) require
/// ([`require_scope`](crate::JwtAuthLayer::require_scope),
/// [`require_all_scopes`](crate::JwtAuthLayer::require_all_scopes),
/// [`require_any_scope`](crate::JwtAuthLayer::require_any_scope)): nothing
/// else. Building a layer changes no metadata; a layer that is never
/// mounted is never listed. Scopes checked by your own code
/// ([`JwtAuthLayer::require`](crate::JwtAuthLayer::require)) are not seen:
/// list them in [`ProtectedResource::scopes_supported`]. It never holds key
/// material.
#[derive(Clone)]
pub struct ResourceMetadata {
    config: Arc<ResourceConfig>,
    /// The configured scopes and those of the layers given.
    scopes: BTreeSet<String>,
    bearer_methods: Vec<&'static str>,
    dpop: Option<Arc<Dpop>>,
}

impl fmt::Debug for ResourceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMetadata")
            .field("resource", &self.config.resource)
            .field("url", &self.config.metadata_url)
            .finish_non_exhaustive()
    }
}

impl ResourceMetadata {
    pub(crate) fn new(
        config: Arc<ResourceConfig>,
        sources: &[TokenSource],
        dpop: Option<Arc<Dpop>>,
    ) -> Self {
        let mut bearer_methods = Vec::new();
        for method in sources.iter().filter_map(TokenSource::bearer_method) {
            if !bearer_methods.contains(&method) {
                bearer_methods.push(method);
            }
        }
        Self {
            scopes: config.scopes.clone(),
            config,
            bearer_methods,
            dpop,
        }
    }

    /// Adds scopes a route requires to `scopes_supported` (those that are
    /// not valid scope tokens are left out: no token could carry them).
    pub(crate) fn add_scopes<'a>(&mut self, scopes: impl IntoIterator<Item = &'a String>) {
        for scope in scopes.into_iter().filter(|s| is_scope_token(s)) {
            if !self.scopes.contains(scope) {
                self.scopes.insert(scope.clone());
            }
        }
    }

    /// Adds `scopes` to `scopes_supported`, e.g. those of an
    /// [`McpScopes`](crate::mcp::McpScopes) (feature `mcp`); scopes that
    /// are not valid scope tokens are left out.
    ///
    /// ```
    /// use tower_jwt_auth::Authenticator;
    ///
    /// let auth = Authenticator::builder()
    ///     .hmac_secret("a secret of at least thirty-two bytes")
    ///     .resource("https://api.example/mcp")
    ///     .build()?;
    /// let metadata = auth
    ///     .resource_metadata()
    ///     .expect("a resource is configured")
    ///     .with_scopes(["mcp:read", "mcp:admin", "not a scope"]);
    /// assert_eq!(
    ///     metadata.document()["scopes_supported"],
    ///     serde_json::json!(["mcp:admin", "mcp:read"])
    /// );
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        self.add_scopes(&scopes);
        self
    }

    /// The canonical resource URI (the document's `resource`).
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.config.resource
    }

    /// The metadata URL (RFC 9728 §3.1: the well-known path inserted
    /// between the resource's origin and its path), as the challenges'
    /// `resource_metadata` names it.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.config.metadata_url
    }

    /// The path the [`service`](Self::service) answers on, that of
    /// [`url`](Self::url): the RFC 9728 §3.1 path, and no other.
    ///
    /// For a resource with a path (`https://api.example/mcp`) that is
    /// `/.well-known/oauth-protected-resource/mcp`; the bare
    /// `/.well-known/oauth-protected-resource` is the metadata URL of the
    /// origin's resource (`https://api.example`), which a client checks
    /// the document's `resource` against (RFC 9728 §3.3), so it is never
    /// answered for another. Two resources on one host each have their own
    /// path and can be mounted side by side.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.config.path
    }

    /// The metadata document (RFC 9728 §2): `resource`,
    /// `authorization_servers`, `scopes_supported`,
    /// `bearer_methods_supported` (`header` for `Authorization`, `query`
    /// for a query source; cookies and custom headers have no RFC 6750
    /// name), with DPoP on `dpop_signing_alg_values_supported` and
    /// `dpop_bound_access_tokens_required` (the authenticator's token
    /// sources and DPoP mode: a layer's own are not reflected), and the
    /// human-readable fields that were set.
    #[must_use]
    pub fn document(&self) -> Value {
        let c = &self.config;
        let mut doc = Map::new();
        doc.insert("resource".into(), json!(&*c.resource));
        if !c.authorization_servers.is_empty() {
            doc.insert(
                "authorization_servers".into(),
                json!(c.authorization_servers),
            );
        }
        if !self.scopes.is_empty() {
            doc.insert("scopes_supported".into(), json!(self.scopes));
        }
        doc.insert(
            "bearer_methods_supported".into(),
            json!(self.bearer_methods),
        );
        let dpop = self.dpop.as_ref().filter(|d| d.mode(None) != DpopMode::Off);
        if let Some(dpop) = dpop {
            let algs: Vec<String> = dpop.algorithms().iter().map(|a| format!("{a:?}")).collect();
            doc.insert("dpop_signing_alg_values_supported".into(), json!(algs));
            doc.insert(
                "dpop_bound_access_tokens_required".into(),
                json!(dpop.mode(None) == DpopMode::Required),
            );
        }
        for (name, value) in [
            ("resource_name", &c.name),
            ("resource_documentation", &c.documentation),
            ("resource_policy_uri", &c.policy_uri),
            ("resource_tos_uri", &c.tos_uri),
        ] {
            if let Some(value) = value {
                doc.insert(name.into(), json!(value));
            }
        }
        Value::Object(doc)
    }

    /// A tower service answering `GET` and `HEAD` on [`path`](Self::path)
    /// with the document (`200`, `application/json`), other methods there
    /// with `405`, and any other path with `404`.
    #[must_use]
    pub fn service(&self) -> ResourceMetadataService {
        ResourceMetadataService {
            metadata: self.clone(),
        }
    }

    fn respond(&self, method: &Method, path: &str) -> Response<String> {
        let mut res = Response::new(String::new());
        if self.config.path != path {
            *res.status_mut() = StatusCode::NOT_FOUND;
            return res;
        }
        if method != Method::GET && method != Method::HEAD {
            *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return res;
        }
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // Public, credential-free metadata: browser-based clients (an MCP
        // inspector) may read it from another origin.
        headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        if method == Method::GET {
            *res.body_mut() = self.document().to_string();
        }
        res
    }
}

/// The tower service of [`ResourceMetadata::service`]; its responses have
/// a `String` body, and it never fails.
#[derive(Debug, Clone)]
pub struct ResourceMetadataService {
    metadata: ResourceMetadata,
}

impl<B> tower_service::Service<Request<B>> for ResourceMetadataService {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ready(Ok(self.metadata.respond(req.method(), req.uri().path())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(uri: &str) -> Result<String, ConfigError> {
        canonical(uri).map(|(resource, _)| resource)
    }

    #[test]
    fn the_resource_is_canonical() {
        assert_eq!(
            canon("HTTPS://API.Example/mcp/").unwrap(),
            "https://api.example/mcp"
        );
        assert_eq!(
            canon("https://api.example/").unwrap(),
            "https://api.example"
        );
        assert_eq!(
            canon("http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000"
        );
        assert_eq!(
            canon("https://api.example/a/../mcp").unwrap(),
            "https://api.example/mcp"
        );
        for bad in [
            "https://api.example/mcp#frag",
            "https://api.example/mcp?x=1",
            "https://user@api.example/",
            "ftp://api.example/",
            "/mcp",
            "not a url",
        ] {
            assert!(
                matches!(canon(bad), Err(ConfigError::InvalidResource { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_metadata_url_inserts_the_well_known_path() {
        let c = ProtectedResource::new("https://api.example/tenant/mcp")
            .build(None)
            .unwrap();
        assert_eq!(
            &*c.metadata_url,
            "https://api.example/.well-known/oauth-protected-resource/tenant/mcp"
        );
        assert_eq!(c.path, "/.well-known/oauth-protected-resource/tenant/mcp");
        let root = ProtectedResource::new("https://api.example")
            .build(None)
            .unwrap();
        assert_eq!(root.path, WELL_KNOWN);
    }
}
