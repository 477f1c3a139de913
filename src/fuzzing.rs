//! Entry points for the fuzz targets under `fuzz/` to the parsers that only
//! network answers reach. Compiled only with `--cfg fuzzing` (cargo-fuzz
//! passes it); never part of the public API.

#[cfg(feature = "remote")]
use crate::remote::FetchErrorKind;
#[cfg(feature = "remote")]
use crate::Authenticator;

/// `body` as the introspection endpoint's answer for `token` (RFC 7662),
/// read and cached by `auth`'s introspector as a real answer is; a request
/// with `token` then meets the cached answer in `Gate::decide`. `None`:
/// `auth` does not introspect `token`, or `body` is not an answer (a real
/// request would be refused, 503); else whether the token is active.
#[cfg(feature = "remote")]
pub fn introspection_answer<C>(auth: &Authenticator<C>, token: &str, body: &[u8]) -> Option<bool> {
    auth.verifier().fuzz_introspection_answer(token, body)
}

/// What the tenant discovery path makes of an `iss` and a discovery
/// document.
#[cfg(feature = "remote")]
#[derive(Debug)]
pub struct TenantDiscovery {
    /// The tenant id read from `iss`.
    pub tenant: String,
    /// The tenant's issuer (the pattern around the tenant id).
    pub issuer: String,
    /// Where its discovery document is fetched.
    pub discovery_url: String,
    /// The document's `jwks_uri`, or why it is refused.
    pub jwks_uri: Result<String, FetchErrorKind>,
}

/// A token's `iss` under the issuer `pattern` (one `{tenantid}`), then
/// `document` as that tenant's OIDC discovery document, as a tenant's keys
/// are loaded. `None`: `pattern` is not a pattern, or `iss` names no
/// tenant of it (the token is refused before any fetch), or no discovery
/// URL can be made of the tenant's issuer.
#[cfg(feature = "remote")]
pub fn tenant_discovery(
    pattern: &str,
    iss: &str,
    document: &[u8],
    allow_http: bool,
) -> Option<TenantDiscovery> {
    use crate::keys::remote::Source;
    let pattern = crate::verifier::tenants::Pattern::parse(pattern)?;
    let tenant = pattern.tenant(iss)?;
    let issuer = pattern.issuer(tenant);
    let source = Source::oidc(&issuer, allow_http).ok()?;
    let Source::Oidc { discovery, .. } = &source else {
        return None;
    };
    let jwks_uri = crate::keys::remote::read_discovery(document, &issuer, discovery, allow_http)
        .map(|url| url.to_string())
        .map_err(|e| e.kind().clone());
    Some(TenantDiscovery {
        tenant: tenant.to_owned(),
        issuer,
        discovery_url: discovery.to_string(),
        jwks_uri,
    })
}

/// `document` as the RFC 8414 / OpenID Connect metadata of `issuer` when
/// its introspection endpoint is discovered: `None` when the document does
/// not count (the next one is tried); else the endpoint, or why it is
/// refused.
#[cfg(feature = "remote")]
pub fn introspection_metadata(
    issuer: &str,
    document: &[u8],
    allow_http: bool,
) -> Option<Result<String, FetchErrorKind>> {
    let endpoint = crate::introspection::read_metadata(document, issuer, allow_http)?;
    Some(
        endpoint
            .map(|url| url.to_string())
            .map_err(|e| e.kind().clone()),
    )
}
