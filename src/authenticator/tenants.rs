//! [`TenantIssuers`]: one authenticator for every tenant of a multi-tenant
//! identity provider (feature `remote`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::FutureExt as _;
use tokio::runtime::Handle;

use super::{Authenticator, AuthenticatorBuilder};
use crate::error::{ConfigError, FetchError, FetchErrorKind};
use crate::keys::remote::{parse_url, RemoteKeys, Source};
use crate::keys::KeyStore;
use crate::verifier::tenants::{
    valid_tenant, Limits, MakeTenant, Pattern, TenantTable, PLACEHOLDER,
};
use crate::verifier::{IssuerVerifier, Verifier};

/// The largest verified-token cache of one tenant.
const TENANT_CACHE_CAPACITY: usize = 1024;

/// The tenants of a multi-tenant identity provider (feature `remote`), for
/// [`AuthenticatorBuilder::tenant_issuers`]: an issuer pattern such as
/// Entra ID's `https://login.microsoftonline.com/{tenantid}/v2.0`, whose
/// `{tenantid}` is the tenant.
///
/// - **Which tenants**: those of [`allow_tenants`](Self::allow_tenants),
///   the safe default (every one of them is held, however many); or, with
///   [`any_tenant`](Self::any_tenant), any tenant, up to
///   [`max_tenants`](Self::max_tenants) (default 100) at once. A token of
///   another tenant or of an issuer not of the pattern is refused (401
///   `invalid_token`) before any fetch; a new tenant while the any-tenant
///   table is full gets 503 until a slot frees (see
///   [`max_tenants`](Self::max_tenants)).
/// - **Audience**: every tenant's apps share the provider's signing keys,
///   so in any-tenant mode anyone can create a tenant and an app and have
///   tokens signed with any `roles`; only the audience tells this API's
///   tokens from theirs. [`any_tenant`](Self::any_tenant) therefore needs
///   [`audience`](AuthenticatorBuilder::audience) or a
///   [`resource`](AuthenticatorBuilder::resource) requiring its audience,
///   or the build fails.
/// - **Keys**: by default each tenant's OIDC discovery
///   (`<issuer>/.well-known/openid-configuration`, whose `issuer` must be
///   exactly the tenant's), or a [`jwks_url`](Self::jwks_url): one set for
///   every tenant, or, with `{tenantid}` in it, one per tenant. A tenant's
///   keys are fetched on the first token naming it, once for every
///   concurrent request (single flight), then refreshed as any remote set
///   ([`RemoteOptions`](crate::remote::RemoteOptions)); keys fetched for a tenant
///   are bound to its issuer. A tenant whose keys cannot be had is not
///   tried again before the [`retry_after`](Self::retry_after) cooldown
///   (default 60 s): 503 meanwhile when its provider failed, 401 when the
///   provider does not know the tenant (a 4xx, another issuer).
/// - **Each token**: `iss` must be the tenant's issuer exactly, and the
///   tenant claim ([`tenant_claim`](Self::tenant_claim), default Entra's
///   `tid`) must name the same tenant; then the builder's other rules
///   (audience, route rules, DPoP, revocation) as for any token.
///
/// An attacker sending a million different `iss` values thus causes no
/// fetch with an allow-list, and at most about `max_tenants` fetches per
/// cooldown without one; the table never holds more tenants than the
/// allow-list names, or `max_tenants` without one.
///
/// ```no_run
/// use tower_jwt_auth::{Authenticator, remote::TenantIssuers};
///
/// # async fn run() -> Result<(), tower_jwt_auth::ConfigError> {
/// let auth = Authenticator::builder()
///     .tenant_issuers(
///         TenantIssuers::new("https://login.microsoftonline.com/{tenantid}/v2.0")
///             .allow_tenants(["9188040d-6c67-4c5b-b112-36a304b66dad"]),
///     )
///     .audience(["api://my-app"])
///     .build_async()
///     .await?;
/// # let _ = auth; Ok(()) }
/// ```
pub struct TenantIssuers {
    pattern: String,
    jwks_url: Option<String>,
    allowed: Option<HashSet<String>>,
    any: bool,
    /// Any-tenant mode without an audience (the `danger_*` opt-out).
    any_without_audience: bool,
    max_tenants: usize,
    cooldown: Duration,
    claim: &'static str,
}

impl std::fmt::Debug for TenantIssuers {
    // URLs without their userinfo.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::http_client::Shown;
        f.debug_struct("TenantIssuers")
            .field("pattern", &Shown(&self.pattern).to_string())
            .field(
                "jwks_url",
                &self.jwks_url.as_deref().map(|u| Shown(u).to_string()),
            )
            .field("allowed", &self.allowed)
            .field("any", &self.any)
            .field("max_tenants", &self.max_tenants)
            .field("cooldown", &self.cooldown)
            .field("claim", &self.claim)
            .finish()
    }
}

impl TenantIssuers {
    /// The tenants of `pattern`, an issuer URL holding `{tenantid}` once;
    /// keys by each tenant's OIDC discovery.
    ///
    /// Name the tenants with
    /// [`allow_tenants`](Self::allow_tenants) (or choose
    /// [`any_tenant`](Self::any_tenant)): without either, the build fails.
    #[must_use]
    pub fn new(pattern: impl Into<String>) -> Self {
        Self {
            pattern: pattern.into(),
            jwks_url: None,
            allowed: None,
            any: false,
            any_without_audience: false,
            max_tenants: 100,
            cooldown: Duration::from_secs(60),
            claim: "tid",
        }
    }

    /// Keys from this JWK Set URL instead of discovery: one set for every
    /// tenant (Entra's `https://login.microsoftonline.com/common/discovery/v2.0/keys`,
    /// fetched at build), or, with `{tenantid}` in the URL, one set per
    /// tenant, bound to its issuer.
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Accepts only these tenants (ids as they appear in the issuer; the
    /// safe default). Each may be added more than once.
    #[must_use]
    pub fn allow_tenants(mut self, tenants: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allowed
            .get_or_insert_with(HashSet::new)
            .extend(tenants.into_iter().map(Into::into));
        self
    }

    /// Accepts any tenant of the pattern (a multi-tenant app open to every
    /// organization), up to [`max_tenants`](Self::max_tenants) of them at
    /// once.
    ///
    /// Needs an audience: the builder's
    /// [`audience`](AuthenticatorBuilder::audience), or a
    /// [`resource`](AuthenticatorBuilder::resource) that requires its own
    /// (the default); without one the build fails
    /// ([`ConfigError::Tenants`]). Every tenant can register apps and give
    /// them any roles, and the provider signs all their tokens with the
    /// same keys: only `aud` says a token was issued for this API.
    #[must_use]
    pub fn any_tenant(mut self) -> Self {
        self.any = true;
        self
    }

    /// Accepts any tenant of the pattern without an audience: DANGEROUS,
    /// any tenant's app of the provider then gets in with its own roles.
    ///
    /// As [`any_tenant`](Self::any_tenant), without its audience
    /// requirement. Anyone can create a tenant of a public multi-tenant
    /// provider, register an app, give it the role `admin` and obtain
    /// tokens signed with the keys every tenant shares; without an
    /// audience, this API accepts them. Only for an API that checks the
    /// audience itself (a custom claim rule) or whose provider is not open
    /// to tenants it does not control.
    #[must_use]
    pub fn danger_any_tenant_without_audience(mut self) -> Self {
        self.any = true;
        self.any_without_audience = true;
        self
    }

    /// The most tenants held at once in any-tenant mode (default 100);
    /// with [`allow_tenants`](Self::allow_tenants), the allow-list is the
    /// bound and this is ignored.
    ///
    /// When the table is full, a new tenant makes room by evicting, first,
    /// tenants whose keys failed at least [`retry_after`](Self::retry_after)
    /// ago, then the least recently used tenant not used for
    /// `retry_after` (its keys are fetched again if it comes back). When
    /// no tenant can go, the new one gets 503 (`KeySourceUnavailable`)
    /// without any fetch, until a slot frees: tenants in use are never
    /// pushed out by new ones, and each slot costs at most one new fetch
    /// per `retry_after`. A tenant is in use while tokens naming it
    /// arrive, whether or not they then verify: raise the bound if the
    /// warning "tenant table is full" shows up.
    #[must_use]
    pub fn max_tenants(mut self, tenants: usize) -> Self {
        self.max_tenants = tenants;
        self
    }

    /// How long a tenant whose keys could not be had is refused before it
    /// is tried again (default 60 s); in any-tenant mode also how long a
    /// tenant must be unused before a new one may evict it.
    #[must_use]
    pub fn retry_after(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The claim that must name the tenant (default `tid`, Entra's).
    #[must_use]
    pub fn tenant_claim(mut self, claim: &'static str) -> Self {
        self.claim = claim;
        self
    }
}

impl<C> AuthenticatorBuilder<C> {
    /// Tokens of every tenant of a multi-tenant issuer (feature `remote`;
    /// see [`TenantIssuers`]).
    ///
    /// Build with
    /// [`build_async`](Self::build_async). The builder's other rules apply
    /// to every tenant; it must not name issuers itself
    /// ([`issuer`](Self::issuer)): each tenant's is its own. Such an
    /// authenticator stands alone: [`Authenticator::by_issuer`] refuses it
    /// ([`ConfigError::IssuerRequired`]).
    #[must_use]
    pub fn tenant_issuers(mut self, tenants: TenantIssuers) -> Self {
        self.set_remote(super::RemoteSpec::Tenants(tenants));
        self
    }
}

/// `build_async` for [`TenantIssuers`].
pub(super) async fn build<C>(
    mut builder: AuthenticatorBuilder<C>,
    spec: TenantIssuers,
) -> Result<Authenticator<C>, ConfigError> {
    let pattern = Pattern::parse(&spec.pattern).ok_or(ConfigError::Tenants(
        "the issuer pattern must hold `{tenantid}` exactly once",
    ))?;
    let mut options = builder.remote_options.clone();
    let options_timeout = options.http.timeout;
    options.start_without_keys = false;
    let allow_http = options.http.allow_http;
    parse_url(&pattern.issuer("tenant"), allow_http)?;
    if builder.rules.issuers.is_some() {
        return Err(ConfigError::Tenants(
            "`issuer([..])` and tenant issuers exclude each other: each tenant's issuer is its own",
        ));
    }
    match (&spec.allowed, spec.any) {
        (None, false) => {
            return Err(ConfigError::Tenants(
                "name the tenants (`allow_tenants`), or choose `any_tenant`",
            ))
        }
        (Some(_), true) => {
            return Err(ConfigError::Tenants(
                "`allow_tenants` and `any_tenant` exclude each other",
            ))
        }
        (Some(allowed), false) if allowed.is_empty() => {
            return Err(ConfigError::EmptyList { what: "tenant" })
        }
        (Some(allowed), _) if !allowed.iter().all(|t| valid_tenant(t)) => {
            return Err(ConfigError::Tenants(
                "a tenant id must be letters, digits, `-`, `_` or inner `.`",
            ))
        }
        _ => {}
    }
    if spec.any && spec.max_tenants == 0 {
        return Err(ConfigError::Tenants("max_tenants must be at least 1"));
    }
    let runtime = Handle::try_current()
        .map_err(|_| FetchError::new(&spec.pattern, FetchErrorKind::NoRuntime))?;
    let algorithms = builder.check(true)?;
    // `check` has added a resource's required audience.
    if spec.any && !spec.any_without_audience && builder.rules.audiences.is_none() {
        return Err(ConfigError::Tenants(
            "`any_tenant` needs an audience: every tenant's apps share the provider's keys; \
             set `audience([..])` or `resource(..)`",
        ));
    }
    let clock = Arc::clone(&builder.rules.clock);
    let (parts, local) = builder.into_parts()?;
    // One set for every tenant: fetched now, as `jwks_url` would be.
    let per_tenant_url = spec.jwks_url.clone().filter(|u| u.contains(PLACEHOLDER));
    let shared = match &spec.jwks_url {
        Some(url) if per_tenant_url.is_none() => {
            let source = Source::Jwks(parse_url(url, allow_http)?);
            Some(
                RemoteKeys::start(
                    local.clone(),
                    source,
                    None,
                    options.clone(),
                    Arc::clone(&clock),
                )
                .await?,
            )
        }
        _ => None,
    };
    // Each tenant's verifier: the builder's settings, with the tenant's
    // issuer and a smaller cache.
    let mut settings = parts.issuer.clone();
    settings.cache_capacity = settings.cache_capacity.min(TENANT_CACHE_CAPACITY);
    let (max_token_len, claim) = (settings.max_token_len, spec.claim);
    let make: MakeTenant = Arc::new(move |tenant: String, issuer: String| {
        let (local, options, clock) = (local.clone(), options.clone(), Arc::clone(&clock));
        let (shared, per_tenant_url) = (shared.clone(), per_tenant_url.clone());
        let mut settings = settings.clone();
        async move {
            let keys = match (shared, per_tenant_url) {
                (Some(shared), _) => shared,
                (None, Some(url)) => {
                    let url = parse_url(&url.replace(PLACEHOLDER, &tenant), allow_http)?;
                    let bind = Some(issuer.clone());
                    RemoteKeys::start(local, Source::Jwks(url), bind, options, clock).await?
                }
                (None, None) => {
                    let source = Source::oidc(&issuer, allow_http)?;
                    let bind = Some(issuer.clone());
                    RemoteKeys::start(local, source, bind, options, clock).await?
                }
            };
            settings.rules.issuers = Some(HashSet::from([issuer]));
            settings.rules.tenant = Some((claim, tenant));
            let keys = KeyStore::Remote(keys);
            Ok(IssuerVerifier::new(keys, algorithms, settings))
        }
        .boxed()
    });
    // An allow-list is its own bound: every tenant it names fits.
    let max_tenants = spec.allowed.as_ref().map_or(spec.max_tenants, HashSet::len);
    let limits = Limits {
        allowed: spec.allowed,
        max_tenants,
        cooldown: spec.cooldown,
        // Discovery, then the key set: two fetches.
        load_timeout: options_timeout.saturating_mul(2),
    };
    let table = TenantTable::new(pattern, limits, algorithms, max_token_len, make, runtime);
    Ok(parts.around(|_, decode| Verifier::tenants(table, decode)))
}
