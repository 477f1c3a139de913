//! [`Authenticator`]: build once, share everywhere, one layer per route.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::Value;

use crate::crypto;
use crate::error::{ConfigError, KeyError};
use crate::keys::{AlgorithmSet, Key, KeySet};
use crate::layer::JwtAuthLayer;
use crate::rules::{Clock, Rules};
use crate::token::DEFAULT_MAX_TOKEN_LEN;
use crate::verifier::{RouteRules, Verifier, VerifierInner};

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
    verifier: Verifier<C>,
}

impl<C> Clone for Authenticator<C> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
        }
    }
}

impl<C> fmt::Debug for Authenticator<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.verifier)
            .finish()
    }
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
        &self.verifier
    }

    /// A layer that requires a valid token.
    #[must_use]
    pub fn layer(&self) -> JwtAuthLayer<C> {
        JwtAuthLayer::new(self.verifier.clone(), RouteRules::default(), false)
    }

    /// A layer that lets requests without credentials through with no
    /// claims, and rejects a token that is present but invalid.
    #[must_use]
    pub fn optional(&self) -> JwtAuthLayer<C> {
        JwtAuthLayer::new(self.verifier.clone(), RouteRules::default(), true)
    }
}

/// Configures an [`Authenticator`]. Everything that can fail is reported by
/// [`build`](Self::build) (or by the method that parses input), never by a
/// panic.
pub struct AuthenticatorBuilder<C = Value> {
    keys: KeySet,
    error: Option<ConfigError>,
    algorithms: Option<AlgorithmSet>,
    rules: Rules,
    max_token_len: usize,
    realm: Option<String>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> fmt::Debug for AuthenticatorBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder")
            .field("keys", &self.keys)
            .field("algorithms", &self.algorithms)
            .field("rules", &self.rules)
            .field("max_token_len", &self.max_token_len)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl<C> AuthenticatorBuilder<C> {
    fn new() -> Self {
        Self {
            keys: KeySet::new(),
            error: None,
            algorithms: None,
            rules: Rules::default(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            realm: None,
            _claims: PhantomData,
        }
    }

    /// Decodes claims into `T` instead (any `serde::de::DeserializeOwned`).
    #[must_use]
    pub fn claims<T>(self) -> AuthenticatorBuilder<T> {
        AuthenticatorBuilder {
            keys: self.keys,
            error: self.error,
            algorithms: self.algorithms,
            rules: self.rules,
            max_token_len: self.max_token_len,
            realm: self.realm,
            _claims: PhantomData,
        }
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

    /// Adds the keys of a JWK Set document.
    ///
    /// # Errors
    /// A [`ConfigError::Key`] as [`KeySet::from_jwks_json`].
    pub fn jwk_set(mut self, json: &str) -> Result<Self, ConfigError> {
        self.keys.extend(KeySet::from_jwks_json(json)?)?;
        Ok(self)
    }

    /// Adds the keys of a JWK Set file.
    ///
    /// # Errors
    /// As [`KeySet::from_jwks_file`].
    pub fn jwk_set_file(mut self, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        self.keys.extend(KeySet::from_jwks_file(path)?)?;
        Ok(self)
    }

    /// The `alg` allow-list. Default: every algorithm some key can verify.
    /// It is intersected with what the keys can verify.
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algs.into_iter().collect());
        self
    }

    /// Accepted issuers; once set, `iss` is required. Any configured key may
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

    /// Also reads scopes from the `scp` claim (an array or a space-separated
    /// string, as some identity providers issue), besides `scope`.
    #[must_use]
    pub fn scp_claim(mut self, enabled: bool) -> Self {
        self.rules.scp = enabled;
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
    /// no key can serve, an invalid realm or `typ`.
    pub fn build(self) -> Result<Authenticator<C>, ConfigError> {
        crypto::install_default_provider();
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        let algorithms = match self.algorithms {
            Some(allowed) => allowed.intersection(self.keys.algorithms()),
            None => self.keys.algorithms(),
        };
        if algorithms.is_empty() {
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
            if !realm
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
            {
                return Err(ConfigError::InvalidRealm);
            }
        }
        if let Some(typ) = &self.rules.typ {
            if typ.is_empty() || !typ.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError::InvalidType);
            }
        }
        let inner = VerifierInner {
            keys: self.keys,
            algorithms,
            rules: self.rules,
            max_token_len: self.max_token_len,
            realm: self.realm.map(Arc::from),
        };
        Ok(Authenticator {
            verifier: Verifier::from_inner(Arc::new(inner)),
        })
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
