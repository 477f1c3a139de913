//! [`Authenticator`]: build once, share everywhere, one layer per route.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cache::{DEFAULT_CAPACITY, DEFAULT_MAX_AGE};
use crate::claim_rules::ClaimRules;
use crate::claims::{decode_raw, RawClaims};
use crate::clock::Clock;
use crate::crypto;
use crate::dpop::{Dpop, DpopConfig};
use crate::error::{ConfigError, KeyError};
use crate::gate::Gate;
use crate::keys::{
    AlgorithmSet, FileKind, Key, KeyFile, KeyFileOptions, KeyHandle, KeySet, KeyStore,
    ReloadingKeys, Sources, ALL_ALGORITHMS,
};
use crate::layer::JwtAuthLayer;
use crate::resource::{ProtectedResource, ResourceConfig, ResourceMetadata};
use crate::response::is_quotable;
use crate::revocation::Revocation;
use crate::route_rules::{Grants, RoleClaim};
use crate::settings::Shared;
use crate::token::{TokenSource, DEFAULT_MAX_TOKEN_LEN};
use crate::verifier::{
    decode_json, decode_value, Decode, IssuerSettings, IssuerVerifier, Verifier,
};

#[cfg(feature = "remote")]
mod remote;

/// Keys and base rules, shared by every route (cheap to clone: an `Arc`).
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::Authenticator;
///
/// let auth = Authenticator::builder()
///     .hmac_secret("a secret of at least thirty-two bytes")
///     .issuer(["https://issuer.example"])
///     .audience(["api"])
///     .leeway(Duration::from_secs(30))
///     .build()?;
/// let protected = auth.layer();                        // token required
/// let admin = auth.layer().require_scope("admin");     // and a scope
/// let optional = auth.optional();                      // token optional
/// # let _ = (protected, admin, optional);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
pub struct Authenticator<C = Value> {
    /// Its settings, shared by reference with every gate and layer.
    shared: Arc<Shared<C>>,
}

impl<C> Clone for Authenticator<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> fmt::Debug for Authenticator<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("shared", &self.shared)
            .finish()
    }
}

fn default_sources() -> Box<[TokenSource]> {
    Box::from([TokenSource::authorization()])
}

impl Authenticator<Value> {
    /// A builder whose claims type is `serde_json::Value`; switch it with
    /// [`AuthenticatorBuilder::claims`].
    #[must_use]
    pub fn builder() -> AuthenticatorBuilder<Value> {
        AuthenticatorBuilder::new()
    }
}

impl<C> Authenticator<C> {
    /// The verifier, for use outside tower (interceptors, tests, jobs).
    #[must_use]
    pub fn verifier(&self) -> &Verifier<C> {
        &self.shared.verifier
    }

    /// A layer that requires a valid token.
    #[must_use]
    pub fn layer(&self) -> JwtAuthLayer<C> {
        JwtAuthLayer::new(Gate::new(Arc::clone(&self.shared), false))
    }

    /// A layer that lets requests without credentials through with no
    /// claims, and rejects a token that is present but invalid.
    ///
    /// A rule of
    /// any kind added to it (scopes, roles, an audience, a check of your
    /// own) makes a token necessary again: anonymous never gets further
    /// than a signed-in caller.
    #[must_use]
    pub fn optional(&self) -> JwtAuthLayer<C> {
        JwtAuthLayer::new(Gate::new(Arc::clone(&self.shared), true))
    }

    /// The request decision of [`layer`](Self::layer), for a framework
    /// other than tower: [`Gate::decide`].
    ///
    /// For route rules, start from a
    /// layer: `auth.layer().require_scope("read").into_gate()`.
    #[must_use]
    pub fn gate(&self) -> Gate<C> {
        Gate::new(Arc::clone(&self.shared), false)
    }

    /// The protected resource metadata (RFC 9728) of this authenticator.
    ///
    /// Derived from its configuration, when a
    /// [`resource`](AuthenticatorBuilder::resource) is configured: serve
    /// it with [`ResourceMetadata::router`] (feature `axum`) or
    /// [`ResourceMetadata::service`]. Its `scopes_supported` lists those of
    /// [`ProtectedResource::scopes_supported`]; add the scopes of the
    /// layers you mount with [`ResourceMetadata::with_scopes_of`] (building
    /// a layer adds nothing by itself).
    #[must_use]
    pub fn resource_metadata(&self) -> Option<ResourceMetadata> {
        let shared = &*self.shared;
        let (config, dpop) = (shared.resource.clone()?, shared.dpop.clone());
        Some(ResourceMetadata::new(config, &shared.sources, dpop))
    }

    /// The `realm` of the `WWW-Authenticate` challenges, if configured.
    #[must_use]
    pub fn realm(&self) -> Option<&str> {
        self.shared.realm.as_deref()
    }

    /// Where this authenticator's layers look for the token, in order.
    #[must_use]
    pub fn token_sources(&self) -> &[TokenSource] {
        &self.shared.sources
    }

    /// The same authenticator with other token sources.
    ///
    /// As [`AuthenticatorBuilder::token_sources`]; layers made before keep
    /// the sources they had.
    #[must_use]
    pub fn with_token_sources(self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        let s = &*self.shared;
        let shared = Shared::new(
            s.verifier.clone(),
            sources.into_iter().collect(),
            s.realm.clone(),
            s.dpop.clone(),
            s.resource.clone(),
        );
        Self {
            shared: Arc::new(shared),
        }
    }

    /// One authenticator over several issuers, each with its own keys and
    /// rules (audience, leeway, required claims, ...).
    ///
    /// A token's `iss`,
    /// read before verification only to choose, picks the issuer whose
    /// keys and rules then verify it: an unknown or absent `iss` is a 401,
    /// and a token signed with one issuer's key but claiming another's
    /// fails that other issuer's signature check (401).
    ///
    /// Each authenticator must accept at least one issuer
    /// ([`AuthenticatorBuilder::issuer`]); one that accepts several is
    /// picked for each of them. The result uses the first authenticator's
    /// realm and token sources.
    ///
    /// ```
    /// use tower_jwt_auth::Authenticator;
    ///
    /// let employees = Authenticator::builder()
    ///     .hmac_secret("the employees' issuer secret, 32+ bytes")
    ///     .issuer(["https://login.example.com"])
    ///     .audience(["api"])
    ///     .build()?;
    /// let partners = Authenticator::builder()
    ///     .hmac_secret("the partners' issuer secret, also 32+ bytes")
    ///     .issuer(["https://partners.example.net"])
    ///     .audience(["partner-api"])
    ///     .build()?;
    /// let auth = Authenticator::by_issuer([employees, partners])?;
    /// let layer = auth.layer();
    /// # let _ = layer;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::IssuerRequired`] when one accepts no issuer,
    /// [`ConfigError::DuplicateIssuer`] when two accept the same one,
    /// [`ConfigError::EmptyList`] for an empty list.
    pub fn by_issuer(
        authenticators: impl IntoIterator<Item = Authenticator<C>>,
    ) -> Result<Self, ConfigError> {
        // The first authenticator's settings apply to every issuer.
        let mut first: Option<Self> = None;
        let verifier = Verifier::by_issuer(authenticators.into_iter().map(|auth| {
            let verifier = auth.shared.verifier.clone();
            first.get_or_insert(auth);
            verifier
        }))?;
        let first = first.ok_or(ConfigError::EmptyList { what: "issuer" })?;
        Ok(Self {
            shared: Arc::new(first.shared.with_verifier(verifier)),
        })
    }
}

/// Configures an [`Authenticator`].
///
/// Everything that can fail is reported by
/// [`build`](Self::build) (or by the method that parses input), never by a
/// panic.
pub struct AuthenticatorBuilder<C = Value> {
    keys: KeySet,
    error: Option<ConfigError>,
    algorithms: Option<AlgorithmSet>,
    rules: ClaimRules,
    grants: Grants,
    max_token_len: usize,
    realm: Option<String>,
    sources: Box<[TokenSource]>,
    decode: Decode<C>,
    revocation: Option<Arc<dyn Revocation>>,
    dpop: Option<DpopConfig>,
    unverified_cnf: Vec<String>,
    resource: Option<ProtectedResource>,
    /// Key files, read at once, watched from the build.
    key_files: Vec<KeyFile>,
    key_file_options: KeyFileOptions,
    key_handle: Option<KeyHandle>,
    #[cfg(feature = "remote")]
    remote: Option<RemoteSpec>,
    #[cfg(feature = "remote")]
    remote_options: crate::keys::remote::RemoteOptions,
    #[cfg(feature = "remote")]
    introspection: Option<crate::remote::Introspection>,
    cache_capacity: usize,
    cache_max_age: Duration,
    _claims: PhantomData<fn() -> C>,
}

#[cfg(feature = "remote")]
use remote::RemoteSpec;

mod spiffe;
#[cfg(feature = "remote")]
mod tenants;
#[cfg(feature = "remote")]
pub use tenants::TenantIssuers;

impl<C> fmt::Debug for AuthenticatorBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder")
            .field("keys", &self.keys)
            .field("algorithms", &self.algorithms)
            .field("rules", &self.rules)
            .field("grants", &self.grants)
            .field("max_token_len", &self.max_token_len)
            .field("realm", &self.realm)
            .field("sources", &self.sources)
            .field("revocation", &self.revocation)
            .field("dpop", &self.dpop)
            .field("unverified_cnf", &self.unverified_cnf)
            .field("resource", &self.resource)
            .field("key_files", &self.key_files)
            .field("key_file_options", &self.key_file_options)
            .field("key_handle", &self.key_handle)
            .field("cache_capacity", &self.cache_capacity)
            .field("cache_max_age", &self.cache_max_age)
            .finish_non_exhaustive()
    }
}

impl AuthenticatorBuilder<Value> {
    fn new() -> Self {
        Self {
            keys: KeySet::new(),
            error: None,
            algorithms: None,
            rules: ClaimRules::default(),
            grants: Grants::default(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            realm: None,
            sources: default_sources(),
            decode: decode_value,
            revocation: None,
            dpop: None,
            unverified_cnf: Vec::new(),
            resource: None,
            key_files: Vec::new(),
            key_file_options: KeyFileOptions::default(),
            key_handle: None,
            #[cfg(feature = "remote")]
            remote: None,
            #[cfg(feature = "remote")]
            remote_options: crate::keys::remote::RemoteOptions::default(),
            #[cfg(feature = "remote")]
            introspection: None,
            cache_capacity: DEFAULT_CAPACITY,
            cache_max_age: DEFAULT_MAX_AGE,
            _claims: PhantomData,
        }
    }
}

impl<C> AuthenticatorBuilder<C> {
    /// Decodes claims into `T` instead (any `serde::de::DeserializeOwned`),
    /// deserialized from the payload bytes so numbers reach `T` as sent.
    #[must_use]
    pub fn claims<T: DeserializeOwned>(self) -> AuthenticatorBuilder<T> {
        self.decode_with(decode_json::<T>)
    }

    /// Keeps the claims exactly as sent ([`RawClaims`]): handlers extract
    /// `Claims<RawClaims>`.
    #[must_use]
    pub fn raw_claims(self) -> AuthenticatorBuilder<RawClaims> {
        self.decode_with(decode_raw)
    }

    fn decode_with<T>(self, decode: Decode<T>) -> AuthenticatorBuilder<T> {
        AuthenticatorBuilder {
            keys: self.keys,
            error: self.error,
            algorithms: self.algorithms,
            rules: self.rules,
            grants: self.grants,
            max_token_len: self.max_token_len,
            realm: self.realm,
            sources: self.sources,
            decode,
            revocation: self.revocation,
            dpop: self.dpop,
            unverified_cnf: self.unverified_cnf,
            resource: self.resource,
            key_files: self.key_files,
            key_file_options: self.key_file_options,
            key_handle: self.key_handle,
            #[cfg(feature = "remote")]
            remote: self.remote,
            #[cfg(feature = "remote")]
            remote_options: self.remote_options,
            #[cfg(feature = "remote")]
            introspection: self.introspection,
            cache_capacity: self.cache_capacity,
            cache_max_age: self.cache_max_age,
            _claims: PhantomData,
        }
    }

    /// Where layers look for the token, in this order (default: only
    /// `Authorization: Bearer`).
    ///
    /// Every source is read: the first that holds
    /// a token supplies it, and two holding different tokens are a 400.
    /// Each layer can override this with
    /// [`JwtAuthLayer::token_sources`](crate::JwtAuthLayer::token_sources).
    ///
    /// ```
    /// use tower_jwt_auth::{Authenticator, TokenSource};
    ///
    /// let auth = Authenticator::builder()
    ///     .hmac_secret("a secret of at least thirty-two bytes")
    ///     .token_sources([TokenSource::authorization(), TokenSource::cookie("access_token")])
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn token_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// Where [`require_role`](crate::JwtAuthLayer::require_role) and
    /// [`require_any_role`](crate::JwtAuthLayer::require_any_role) read
    /// roles (default: the `roles` claim).
    #[must_use]
    pub fn role_claim(mut self, claim: RoleClaim) -> Self {
        self.grants.role_claim = claim;
        self
    }

    fn record(mut self, result: Result<(), ConfigError>) -> Self {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
        self
    }

    /// Adds an HMAC secret (raw bytes, at least 32; see [`Key::hmac`]). A
    /// too-short secret makes [`build`](Self::build) fail.
    #[must_use]
    pub fn hmac_secret(self, secret: impl AsRef<[u8]>) -> Self {
        let key = Key::hmac(secret);
        self.add_key(key)
    }

    /// DANGER: adds an HMAC secret shorter than RFC 7518 allows
    /// ([`Key::danger_hmac_short_secret`]).
    #[must_use]
    pub fn danger_hmac_short_secret(self, secret: impl AsRef<[u8]>) -> Self {
        let key = Key::danger_hmac_short_secret(secret);
        self.add_key(key)
    }

    fn add_key(mut self, key: Result<Key, KeyError>) -> Self {
        let result = key
            .and_then(|k| self.keys.push(k))
            .map_err(ConfigError::from);
        self.record(result)
    }

    /// Adds a key ([`Key`]); a duplicate `kid` makes [`build`](Self::build) fail.
    #[must_use]
    pub fn key(self, key: Key) -> Self {
        self.add_key(Ok(key))
    }

    /// Adds every key of a [`KeySet`].
    #[must_use]
    pub fn key_set(mut self, keys: KeySet) -> Self {
        let result = self.keys.extend(keys).map_err(ConfigError::from);
        self.record(result)
    }

    /// Adds a PEM public key (RSA, EC P-256/P-384, Ed25519).
    ///
    /// # Errors
    /// A [`ConfigError::Key`] when the PEM is not an acceptable public key.
    pub fn public_key_pem(mut self, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        self.keys.push(Key::from_pem(pem)?)?;
        Ok(self)
    }

    /// Adds the PEM public key of a file, read now and again when it changes.
    ///
    /// See [`KeyFileOptions`] for how it is watched.
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be read, else as
    /// [`public_key_pem`](Self::public_key_pem).
    pub fn public_key_pem_file(mut self, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        self.key_files
            .push(KeyFile::load(path.as_ref(), FileKind::Pem)?);
        Ok(self)
    }

    /// How key files are read again while the authenticator lives (default: every 10 s).
    ///
    /// See [`KeyFileOptions`].
    #[must_use]
    pub fn key_file_options(mut self, options: KeyFileOptions) -> Self {
        self.key_file_options = options;
        self
    }

    /// Adds the keys of a [`KeyHandle`], which can replace them later.
    ///
    /// Not with tenant issuers: [`build_async`](Self::build_async) then
    /// fails with [`ConfigError::KeyHandleWithTenants`].
    #[must_use]
    pub fn key_handle(mut self, handle: &KeyHandle) -> Self {
        self.key_handle = Some(handle.clone());
        self
    }

    /// Moves the key files' and the handle's keys into `keys`; the sources
    /// to watch when they may change (never with tenant issuers, whose
    /// verifiers each take a copy of the local keys).
    fn take_reload(&mut self, tenants: bool) -> Result<Option<Reload>, ConfigError> {
        let files = std::mem::take(&mut self.key_files);
        let handle = self.key_handle.take();
        if tenants && handle.is_some() {
            return Err(ConfigError::KeyHandleWithTenants);
        }
        let watch =
            !tenants && (handle.is_some() || (self.key_file_options.reload && !files.is_empty()));
        let sources = Sources::new(std::mem::take(&mut self.keys), files, handle);
        self.keys = sources.union()?;
        Ok(watch.then(|| Reload {
            sources,
            options: self.key_file_options.clone(),
        }))
    }

    /// The algorithms a verifier with keys that change may ever allow: the
    /// allow-list, or every algorithm (the keys then decide).
    fn allowed_ever(&self) -> AlgorithmSet {
        self.algorithms
            .unwrap_or_else(|| ALL_ALGORITHMS.into_iter().collect())
    }

    /// Adds the keys of a JWK Set document.
    ///
    /// # Errors
    /// A [`ConfigError::Key`] as [`KeySet::from_jwks_json`].
    pub fn jwk_set(mut self, json: &str) -> Result<Self, ConfigError> {
        self.keys.extend(KeySet::from_jwks_json(json)?)?;
        Ok(self)
    }

    /// Adds the keys of a JWK Set file, read now and again when it changes.
    ///
    /// See [`KeyFileOptions`] for how it is watched.
    ///
    /// # Errors
    /// As [`KeySet::from_jwks_file`].
    pub fn jwk_set_file(mut self, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        self.key_files
            .push(KeyFile::load(path.as_ref(), FileKind::JwkSet)?);
        Ok(self)
    }

    /// The `alg` allow-list. Default: every algorithm some key can verify.
    /// It is intersected with what the keys can verify.
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algs.into_iter().collect());
        self
    }

    /// Accepted issuers; once set, `iss` is required.
    ///
    /// Any configured key may
    /// sign for any of them: with several issuers, bind keys to theirs with
    /// [`Key::with_issuer`] / [`KeySet::with_issuer`], or use one
    /// authenticator per issuer.
    #[must_use]
    pub fn issuer<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules.issuers = Some(issuers.into_iter().map(Into::into).collect::<HashSet<_>>());
        self
    }

    /// Accepted audiences; once set, `aud` is required.
    #[must_use]
    pub fn audience<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Clock-skew leeway for `exp`, `nbf` and `iat` (default 60 s; whole
    /// seconds).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.rules.leeway = leeway.as_secs();
        self
    }

    /// Requires a registered claim besides `exp` (e.g. `"sub"`, `"jti"`).
    #[must_use]
    pub fn require_claim(mut self, name: &'static str) -> Self {
        if !self.rules.required.contains(&name) {
            self.rules.required.push(name);
        }
        self
    }

    /// DANGER: accepts tokens without `exp`, which never expire. An `exp`
    /// that is present is still checked.
    #[must_use]
    pub fn danger_allow_missing_exp(mut self) -> Self {
        self.rules.required.retain(|c| *c != "exp");
        self
    }

    /// DANGER: accepts tokens whose `cnf` (confirmation, RFC 7800) holds
    /// these members (e.g. `"x5t#S256"`, RFC 8705 certificate-bound
    /// tokens) **without checking them**: the application must check the
    /// binding itself (e.g. compare the client certificate's thumbprint
    /// from its TLS terminator), or a stolen bound token works as a bearer
    /// token.
    ///
    /// By default a token with any `cnf` member but `jkt` (DPoP, RFC 9449,
    /// which this crate checks) is refused: 401 `invalid_token`
    /// ([`AuthErrorKind::InvalidBinding`](crate::AuthErrorKind::InvalidBinding)).
    /// Naming `jkt` here changes nothing: it is always checked.
    #[must_use]
    pub fn danger_accept_unverified_confirmation<I, S>(mut self, members: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for member in members {
            let member = member.into();
            if !self.unverified_cnf.contains(&member) {
                self.unverified_cnf.push(member);
            }
        }
        self
    }

    /// Also reads scopes from the `scp` claim (an array or a space-separated
    /// string, as some identity providers issue), besides `scope`.
    #[must_use]
    pub fn scp_claim(mut self, enabled: bool) -> Self {
        self.grants.scp = enabled;
        self
    }

    /// Requires the header `typ` (e.g. `"at+jwt"`, RFC 9068), compared as a
    /// media type.
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.rules.typ = Some(typ.into());
        self
    }

    /// Largest accepted token, in bytes (default 8 KiB); larger ones are
    /// rejected before decoding.
    #[must_use]
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// The `realm` of the `WWW-Authenticate` challenges.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Checks every verified token against a revocation list (see
    /// [`revocation`](crate::revocation)): a revoked token gets 401
    /// `invalid_token` ("the token has been revoked"), and a list that
    /// cannot answer gets 503, never an accept.
    ///
    /// The check runs after the
    /// signature and the claims, on every request.
    ///
    /// An in-memory list answers on the synchronous path; a shared one
    /// (Redis) answers from its local cache or, on a miss, on the layer's
    /// asynchronous path ([`Verifier::verify_async`] outside tower).
    #[must_use]
    pub fn revocation(self, revocation: impl Revocation) -> Self {
        self.revocation_shared(Arc::new(revocation))
    }

    /// As [`revocation`](Self::revocation), with a list already shared.
    #[must_use]
    pub fn revocation_shared(mut self, revocation: Arc<dyn Revocation>) -> Self {
        self.revocation = Some(revocation);
        self
    }

    /// DPoP (RFC 9449) for this authenticator's routes; see
    /// [`DpopConfig`].
    ///
    /// A route may change the mode with
    /// [`JwtAuthLayer::dpop`]. Under [`Authenticator::by_issuer`], the first
    /// authenticator's DPoP settings apply to every issuer.
    #[must_use]
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = Some(config);
        self
    }

    /// The protected resource this authenticator guards (RFC 8707, RFC
    /// 9728; see [`ProtectedResource`]): tokens must then name its
    /// canonical URI in `aud` (besides any [`audience`](Self::audience)
    /// configured, unless [`ProtectedResource::require_audience`] says
    /// otherwise), every 401 and 403 challenge carries
    /// `resource_metadata`, and [`Authenticator::resource_metadata`]
    /// serves the metadata.
    ///
    /// Under [`Authenticator::by_issuer`], give each
    /// authenticator the resource (each verifies its own audiences); the
    /// first one's metadata and challenges apply.
    ///
    /// ```
    /// use tower_jwt_auth::Authenticator;
    ///
    /// let auth = Authenticator::builder()
    ///     .hmac_secret("a secret of at least thirty-two bytes")
    ///     .resource("https://api.example/mcp")
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn resource(mut self, resource: impl Into<ProtectedResource>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// How many verified tokens the [cache](crate#verified-token-cache) holds (default
    /// 10,000; `0` turns it off).
    ///
    /// An entry costs about the token's length
    /// plus its parsed claims (BENCHMARKS.md has measured sizes).
    #[must_use]
    pub fn cache_capacity(mut self, tokens: usize) -> Self {
        self.cache_capacity = tokens;
        self
    }

    /// The longest time a cached token is used without verifying its
    /// signature again (default 10 minutes; never past the token's `exp`).
    /// Whole seconds; zero turns the cache off.
    #[must_use]
    pub fn cache_max_age(mut self, age: Duration) -> Self {
        self.cache_max_age = age;
        self
    }

    /// Turns the verified-token [cache](crate#verified-token-cache) off: every request
    /// verifies its token's signature.
    #[must_use]
    pub fn without_cache(self) -> Self {
        self.cache_capacity(0)
    }

    /// The time source (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.rules.clock = Arc::new(clock);
        self
    }

    /// Builds the authenticator.
    ///
    /// # Errors
    /// The first configuration error: a refused key, no keys, an allow-list
    /// no key can serve, an invalid realm or `typ`;
    /// [`ConfigError::NeedsBuildAsync`] when a remote key source is
    /// configured.
    pub fn build(mut self) -> Result<Authenticator<C>, ConfigError> {
        #[cfg(feature = "remote")]
        if self.remote.is_some() || self.introspection.is_some() {
            return Err(ConfigError::NeedsBuildAsync);
        }
        let reload = self.take_reload(false)?;
        let algorithms = self.check(false)?;
        let allowed = self.allowed_ever();
        let (parts, keys) = self.into_parts()?;
        let (store, algorithms) = key_store(keys, reload, algorithms, allowed)?;
        Ok(parts.finish(store, algorithms))
    }

    /// The checks of [`build`](Self::build); the allowed algorithms. With a
    /// remote source, its keys are not known yet: any asymmetric algorithm
    /// may come (each key still verifies only its own).
    fn check(&mut self, remote: bool) -> Result<AlgorithmSet, ConfigError> {
        crypto::install_default_provider();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.check_spiffe()?;
        // Introspection alone: no key, and no algorithm, is right.
        #[cfg(feature = "remote")]
        let introspection_only = !remote && self.introspection.is_some() && self.keys.is_empty();
        #[cfg(not(feature = "remote"))]
        let introspection_only = false;
        if self.keys.is_empty() && !remote && !introspection_only {
            return Err(ConfigError::NoKeys);
        }
        let mut possible = self.keys.algorithms();
        if remote {
            possible = possible.union(AlgorithmSet::asymmetric());
        }
        let algorithms = match self.algorithms {
            Some(allowed) => allowed.intersection(possible),
            None => possible,
        };
        if algorithms.is_empty() && !introspection_only {
            return Err(ConfigError::NoAlgorithms);
        }
        for (what, list) in [
            ("issuer", &self.rules.issuers),
            ("audience", &self.rules.audiences),
        ] {
            if list.as_ref().is_some_and(HashSet::is_empty) {
                return Err(ConfigError::EmptyList { what });
            }
        }
        if let Some(realm) = &self.realm {
            if !is_quotable(realm) {
                return Err(ConfigError::InvalidRealm);
            }
        }
        if let Some(typ) = &self.rules.typ {
            if typ.is_empty() || !typ.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError::InvalidType);
            }
        }
        if self.sources.is_empty() {
            return Err(ConfigError::EmptyList {
                what: "token source",
            });
        }
        // RFC 8707 §2 / MCP: the resource is an audience every token of
        // this authenticator may (and, alone, must) name.
        if let Some(resource) = &self.resource {
            resource.add_audience(&mut self.rules.audiences)?;
        }
        Ok(algorithms)
    }

    /// Splits a checked builder into what its issuer's verifier holds,
    /// its local keys, and what the authenticator around the verifier
    /// holds.
    fn into_parts(self) -> Result<(Parts<C>, KeySet), ConfigError> {
        let dpop = match self.dpop {
            Some(config) => Some(Arc::new(
                config.build(self.rules.leeway, self.rules.clock.clone())?,
            )),
            None => None,
        };
        let issuers = self.rules.issuers.as_ref();
        let resource = (self.resource.map(|r| r.build(issuers).map(Arc::new))).transpose()?;
        let issuer = IssuerSettings {
            rules: self.rules,
            grants: self.grants,
            max_token_len: self.max_token_len,
            revocation: self.revocation,
            unverified_cnf: self.unverified_cnf.into(),
            cache_capacity: self.cache_capacity,
            cache_max_age: self.cache_max_age,
            #[cfg(feature = "remote")]
            introspection: None,
        };
        let parts = Parts {
            issuer,
            decode: self.decode,
            sources: self.sources,
            realm: self.realm.map(Arc::from),
            dpop,
            resource,
        };
        Ok((parts, self.keys))
    }
}

/// Key sources that may change, taken from a builder.
struct Reload {
    pub(super) sources: Sources,
    pub(super) options: KeyFileOptions,
}

/// The store of `keys` (the union of every source) and the algorithms its
/// verifier allows: fixed keys and the checked `algorithms`; keys that
/// change and every algorithm they may ever verify (`allowed`), narrowed to
/// the keys of the moment on each request.
fn key_store(
    keys: KeySet,
    reload: Option<Reload>,
    algorithms: AlgorithmSet,
    allowed: AlgorithmSet,
) -> Result<(KeyStore, AlgorithmSet), ConfigError> {
    match reload {
        None => Ok((KeyStore::Fixed(keys), algorithms)),
        Some(Reload { sources, options }) => {
            let keys = ReloadingKeys::start(keys, sources, allowed, &options)?;
            Ok((KeyStore::Reloading(keys), allowed))
        }
    }
}

/// A checked builder, split: its issuer's settings, and the
/// authenticator's own, which [`Shared`] holds once the verifier is made.
struct Parts<C> {
    issuer: IssuerSettings,
    decode: Decode<C>,
    sources: Box<[TokenSource]>,
    realm: Option<Arc<str>>,
    dpop: Option<Arc<Dpop>>,
    resource: Option<Arc<ResourceConfig>>,
}

impl<C> Parts<C> {
    /// The authenticator of one issuer with `keys`.
    fn finish(self, keys: KeyStore, algorithms: AlgorithmSet) -> Authenticator<C> {
        self.around(|issuer, decode| {
            Verifier::new(IssuerVerifier::new(keys, algorithms, issuer), decode)
        })
    }

    /// The authenticator around the verifier `make` makes of the issuer's
    /// settings.
    fn around(
        self,
        make: impl FnOnce(IssuerSettings, Decode<C>) -> Verifier<C>,
    ) -> Authenticator<C> {
        let verifier = make(self.issuer, self.decode);
        let shared = Shared::new(verifier, self.sources, self.realm, self.dpop, self.resource);
        Authenticator {
            shared: Arc::new(shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_reports_config_errors_without_panicking() {
        assert!(matches!(
            Authenticator::builder().build().unwrap_err(),
            ConfigError::NoKeys
        ));
        assert!(matches!(
            Authenticator::builder()
                .hmac_secret("short")
                .build()
                .unwrap_err(),
            ConfigError::Key(KeyError::HmacTooShort { len: 5 })
        ));
        assert!(matches!(
            Authenticator::builder()
                .hmac_secret([1u8; 32])
                .algorithms([Algorithm::RS256])
                .build()
                .unwrap_err(),
            ConfigError::NoAlgorithms
        ));
        assert!(matches!(
            Authenticator::builder()
                .hmac_secret([1u8; 32])
                .realm("a\"b")
                .build()
                .unwrap_err(),
            ConfigError::InvalidRealm
        ));
        let empty: [&str; 0] = [];
        assert!(matches!(
            Authenticator::builder()
                .hmac_secret([1u8; 32])
                .issuer(empty)
                .build()
                .unwrap_err(),
            ConfigError::EmptyList { what: "issuer" }
        ));
        assert!(matches!(
            Authenticator::builder()
                .hmac_secret([1u8; 32])
                .audience(empty)
                .build()
                .unwrap_err(),
            ConfigError::EmptyList { what: "audience" }
        ));
    }

    #[test]
    fn debug_of_builder_and_authenticator_redacts_secrets() {
        let secret = "super-secret-value-that-is-long-enough";
        let b = Authenticator::builder().hmac_secret(secret);
        assert!(!format!("{b:?}").contains(secret));
        let a = b.build().unwrap();
        assert!(!format!("{a:?}").contains(secret));
        assert!(!format!("{:?}", a.layer()).contains(secret));
    }
}
