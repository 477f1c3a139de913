//! The remote parts of a builder (feature `remote`): key sources fetched
//! from an identity provider, token introspection, and `build_async`.

use std::collections::HashSet;
use std::sync::Arc;

use super::{Authenticator, AuthenticatorBuilder};
use crate::error::ConfigError;
use crate::keys::KeyStore;

/// The remote key source of a builder.
#[cfg(feature = "remote")]
pub(super) enum RemoteSpec {
    Jwks(String),
    Oidc(String),
    Tenants(super::TenantIssuers),
    SpiffeBundle(String),
}

#[cfg(feature = "remote")]
impl std::fmt::Debug for RemoteSpec {
    // URLs without their userinfo.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::http_client::Shown;
        match self {
            Self::Jwks(url) => f
                .debug_tuple("Jwks")
                .field(&Shown(url).to_string())
                .finish(),
            Self::Oidc(issuer) => f
                .debug_tuple("Oidc")
                .field(&Shown(issuer).to_string())
                .finish(),
            Self::Tenants(tenants) => f.debug_tuple("Tenants").field(tenants).finish(),
            Self::SpiffeBundle(url) => f
                .debug_tuple("SpiffeBundle")
                .field(&Shown(url).to_string())
                .finish(),
        }
    }
}

#[cfg(feature = "remote")]
impl<C> AuthenticatorBuilder<C> {
    /// Keys from a JWK Set URL (feature `remote`), fetched by
    /// [`build_async`](Self::build_async) and kept fresh (see
    /// [`RemoteOptions`](crate::remote::RemoteOptions)).
    ///
    /// HTTPS is required except to
    /// loopback. Local keys may be added too.
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.set_remote(RemoteSpec::Jwks(url.into()));
        self
    }

    /// Keys of an OpenID Connect issuer (feature `remote`): discovery at
    /// `<issuer>/.well-known/openid-configuration`, whose `issuer` must equal
    /// `issuer` exactly; keys from its `jwks_uri`, as
    /// [`jwks_url`](Self::jwks_url).
    ///
    /// Unless [`issuer`](Self::issuer) says
    /// otherwise, `iss` is then required and must equal `issuer`, and the
    /// fetched keys are bound to it ([`Key::with_issuer`](crate::keys::Key::with_issuer)).
    #[must_use]
    pub fn oidc_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.set_remote(RemoteSpec::Oidc(issuer.into()));
        self
    }

    pub(super) fn set_remote(&mut self, spec: RemoteSpec) {
        if self.remote.is_some() {
            self.error.get_or_insert(ConfigError::SeveralRemoteSources);
        }
        self.remote = Some(spec);
    }

    /// Opaque tokens checked by RFC 7662 introspection (feature `remote`;
    /// see [`Introspection`](crate::remote::Introspection) for which tokens go
    /// there).
    ///
    /// Keys are then optional. Needs
    /// [`build_async`](Self::build_async).
    #[must_use]
    pub fn introspection(mut self, introspection: crate::remote::Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Refresh policy of the remote key source.
    ///
    /// Interval, `Cache-Control`, unknown-`kid` cooldown, maximum stale age,
    /// start without keys; the transport is [`http_client`](Self::http_client)'s.
    #[must_use]
    pub fn remote_options(mut self, mut options: crate::keys::remote::RemoteOptions) -> Self {
        // The transport is set by `http_client`, in either order.
        options.http = std::mem::take(&mut self.remote_options.http);
        self.remote_options = options;
        self
    }

    /// Trust, transport and limits of every fetch, set once (feature `remote`).
    ///
    /// It applies to the JWK Set, OIDC discovery, the tenants' discovery and
    /// keys, a SPIFFE bundle URL, and introspection. See [`HttpClientOptions`](crate::remote::HttpClientOptions) for the
    /// defaults (10 s timeout, 5 s connect timeout, 1 MiB responses, HTTPS
    /// except to loopback, the public roots).
    #[must_use]
    pub fn http_client(mut self, http: crate::remote::HttpClientOptions) -> Self {
        self.remote_options.http = http;
        self
    }

    /// Builds the authenticator after fetching the remote keys once (OIDC
    /// discovery first), and starts their background refresh on the current
    /// tokio runtime.
    ///
    /// Without a remote source, the same as
    /// [`build`](Self::build).
    ///
    /// # Errors
    /// As [`build`](Self::build), and [`ConfigError::RemoteKeys`] naming the
    /// URL when the first fetch fails (unless
    /// [`RemoteOptions::start_without_keys`](crate::remote::RemoteOptions::start_without_keys)),
    /// when the URL is plain `http` to a host that is not loopback, or when
    /// the discovery document's `issuer` differs or has no `jwks_uri`.
    pub async fn build_async(mut self) -> Result<Authenticator<C>, ConfigError> {
        use crate::introspection::Introspector;
        use crate::keys::remote::{parse_url, RemoteKeys, Source};

        let introspection = self.introspection.take();
        let spec = self.remote.take();
        if spec.is_none() && introspection.is_none() {
            return self.build();
        }
        let tenants = matches!(spec, Some(RemoteSpec::Tenants(_)));
        let reload = self.take_reload(tenants)?;
        let allow_http = self.remote_options.http.allow_http;
        let source = match spec {
            Some(RemoteSpec::Jwks(url)) => Some(Source::Jwks(parse_url(&url, allow_http)?)),
            Some(RemoteSpec::Oidc(issuer)) => Some(Source::oidc(&issuer, allow_http)?),
            Some(RemoteSpec::Tenants(spec)) => {
                if introspection.is_some() {
                    return Err(ConfigError::SeveralRemoteSources);
                }
                return super::tenants::build(self, spec).await;
            }
            Some(RemoteSpec::SpiffeBundle(url)) => {
                self.remote_options.spiffe_bundle = true;
                Some(Source::Jwks(parse_url(&url, allow_http)?))
            }
            None => None,
        };
        let issuer = source.as_ref().and_then(Source::issuer);
        // OIDC pins `iss` to the issuer, unless the application chose.
        let bind_issuer = self.rules.issuers.is_none();
        if let (Some(issuer), Some(resource)) = (issuer, &mut self.resource) {
            resource.oidc_issuer(issuer);
        }
        if let (Some(issuer), true) = (issuer, bind_issuer) {
            self.rules.issuers = Some(HashSet::from([issuer.to_owned()]));
        }
        self.introspection = introspection;
        let algorithms = self.check(source.is_some())?;
        let allowed = self.allowed_ever();
        let introspection = self.introspection.take();
        let local_keys = source.is_some() || !self.keys.is_empty();
        let options = self.remote_options.clone();
        let clock = Arc::clone(&self.rules.clock);
        let (mut parts, local) = self.into_parts()?;
        if !local_keys {
            // No JWT is ever verified here: no JWT cache to look in.
            parts.issuer.cache_capacity = 0;
        }
        if let Some(config) = introspection {
            let started =
                Introspector::start(config, &options.http, local_keys, Arc::clone(&clock)).await;
            parts.issuer.introspection = Some(started.map_err(ConfigError::Introspection)?);
        }
        let (keys, algorithms) = match source {
            Some(source) => {
                let bind = bind_issuer
                    .then(|| source.issuer().map(str::to_owned))
                    .flatten();
                let local_source = match reload {
                    // Checked against what the verifier allows: fixed here.
                    Some(super::Reload { sources, options }) => {
                        Some(crate::keys::ReloadingKeys::start(
                            local.clone(),
                            sources,
                            algorithms,
                            &options,
                        )?)
                    }
                    None => None,
                };
                let remote = RemoteKeys::start(local, source, bind, options, clock).await?;
                if let Some(local_source) = local_source {
                    remote.follow_local(local_source);
                }
                (KeyStore::Remote(remote), algorithms)
            }
            None => super::key_store(local, reload, algorithms, allowed)?,
        };
        Ok(parts.finish(keys, algorithms))
    }
}
