//! One issuer's verifier: its keys and what every token of it must pass,
//! on a cache miss (signature, then the sequence) and on a hit (the key
//! selected again, then the same sequence).

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::sequence::{self, Request};
use super::{Decode, Verdict};
use crate::cache::{CacheStats, CachedToken, TokenCache};
use crate::claim_rules::ClaimRules;
use crate::claims::Claims;
use crate::error::{AuthError, AuthErrorKind};
use crate::jws::{decode_segment, parse_object, Compact, Header};
use crate::keys::{AlgorithmSet, Key, KeySet, KeyStore};
use crate::observe;
use crate::revocation::Revocation;
use crate::route_rules::Grants;

/// What an issuer's verifier holds besides its keys: the builder's
/// settings for every token of the issuer, made once by `build` (a tenant's
/// verifier takes a copy, with its own issuer and a smaller cache).
#[derive(Clone)]
pub(crate) struct IssuerSettings {
    pub(crate) rules: ClaimRules,
    /// Where route rules read scopes and roles.
    pub(crate) grants: Grants,
    pub(crate) max_token_len: usize,
    pub(crate) revocation: Option<Arc<dyn Revocation>>,
    /// `cnf` members accepted without a check
    /// ([`danger_accept_unverified_confirmation`](crate::AuthenticatorBuilder::danger_accept_unverified_confirmation));
    /// any other member but `jkt` refuses the token.
    pub(crate) unverified_cnf: Arc<[String]>,
    /// The verified-token cache's size; a zero capacity or age: none.
    pub(crate) cache_capacity: usize,
    pub(crate) cache_max_age: Duration,
    /// Where opaque tokens are checked (RFC 7662).
    #[cfg(feature = "remote")]
    pub(crate) introspection: Option<Arc<crate::introspection::Introspector>>,
}

impl fmt::Debug for IssuerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerSettings")
            .field("rules", &self.rules)
            .field("grants", &self.grants)
            .field("max_token_len", &self.max_token_len)
            .field("revocation", &self.revocation)
            .field("unverified_cnf", &self.unverified_cnf)
            .field("cache_capacity", &self.cache_capacity)
            .field("cache_max_age", &self.cache_max_age)
            .finish_non_exhaustive()
    }
}

/// One issuer's keys and rules (several issuers of one
/// [`Authenticator::by_issuer`](crate::Authenticator::by_issuer) may share
/// one). Made by [`new`](Self::new) only.
pub(crate) struct IssuerVerifier {
    pub(crate) keys: KeyStore,
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) settings: IssuerSettings,
    /// Tokens this verifier accepted before ([`cache`](crate::cache)).
    pub(crate) cache: Option<TokenCache>,
}

impl fmt::Debug for IssuerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerVerifier")
            .field("keys", &self.keys)
            .field("algorithms", &self.algorithms)
            .field("settings", &self.settings)
            .field("cache", &self.cache)
            .finish()
    }
}

/// A verified signature: the (still encoded) payload, the key that
/// verified it, and what a cache entry needs to select that key again.
pub(super) struct Signed<'t, 'k> {
    pub(super) payload: &'t str,
    key: &'k Key,
    alg: Algorithm,
    /// The header's `kid`, copied only when a cache will store it.
    kid: Option<String>,
}

impl IssuerVerifier {
    /// The verifier of `keys` under `settings`, accepting `algorithms`, with
    /// the cache its settings size (none at a zero capacity or age).
    pub(crate) fn new(keys: KeyStore, algorithms: AlgorithmSet, settings: IssuerSettings) -> Self {
        let (capacity, max_age) = (settings.cache_capacity, settings.cache_max_age);
        let cache =
            (capacity > 0 && max_age.as_secs() > 0).then(|| TokenCache::new(capacity, max_age));
        Self {
            keys,
            algorithms,
            settings,
            cache,
        }
    }

    /// The algorithms a token may use now: the allow-list, narrowed to
    /// what keys that change may verify at the moment.
    pub(super) fn algorithms_now(&self) -> AlgorithmSet {
        self.keys.algorithms(self.algorithms)
    }

    /// The issuers this verifier accepts, when its rules name them.
    pub(super) fn accepted_issuers(&self) -> Option<impl Iterator<Item = &str>> {
        self.settings
            .rules
            .issuers
            .as_ref()
            .map(|s| s.iter().map(String::as_str))
    }

    pub(super) fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(TokenCache::stats)
    }

    /// Steps 1–4 of the [module docs](super): size, shape, header, key,
    /// signature, against `keys` (loaded from this verifier's store).
    pub(super) fn verify_signature<'t, 'k>(
        &self,
        keys: &'k KeySet,
        token: &'t str,
    ) -> Result<Signed<'t, 'k>, AuthError> {
        if token.len() > self.settings.max_token_len {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let jws = Compact::split(token)?;
        let header_bytes = decode_segment(jws.header)?;
        let header = Header::parse(&header_bytes)?;
        let alg = header.alg;
        observe::header(alg, header.kid.as_deref());
        if !self.algorithms.contains(alg) || !self.keys.admits(keys, alg) {
            return Err(AuthErrorKind::DisallowedAlgorithm.into());
        }
        self.settings.rules.check_typ(header.typ.as_deref())?;
        let key = match keys.select(header.kid.as_deref(), alg) {
            Ok(key) if self.keys.usable(key) => key,
            // A remote key past its source's maximum stale age: fail closed.
            Ok(_) => return Err(AuthErrorKind::KeySourceUnavailable.into()),
            // No key, and a remote source that cannot vouch for that.
            Err(AuthErrorKind::UnknownKey) if self.keys.unavailable() => {
                return Err(AuthErrorKind::KeySourceUnavailable.into())
            }
            Err(e) => return Err(e.into()),
        };
        if !jws.signature_verifies(key.decoding_key(), alg) {
            return Err(AuthErrorKind::InvalidSignature.into());
        }
        Ok(Signed {
            payload: jws.payload,
            key,
            alg,
            // Only a cache entry keeps the `kid`: no copy without a cache.
            kid: self.cache.as_ref().and(header.kid).map(|k| k.into_owned()),
        })
    }

    /// A cache miss: the signature, then [`sequence::run`], then the typed
    /// claims (cached once every check passed).
    pub(super) fn check_token<C: Send + Sync + 'static>(
        &self,
        token: &str,
        request: &Request<'_>,
        decode: Decode<C>,
    ) -> Verdict<Claims<C>> {
        let keys = self.keys.load();
        let verified = self.verify_signature(&keys, token).and_then(|signed| {
            let bytes = decode_segment(signed.payload)?;
            let claims = parse_object(&bytes)?;
            Ok((signed, bytes, claims))
        });
        let (signed, bytes, claims) = match verified {
            Ok(v) => v,
            Err(e) => return Verdict::Ready(Err(e)),
        };
        observe::issuer(claims.get("iss").and_then(Value::as_str));
        let now = self.settings.rules.clock.now();
        match sequence::run(self, &claims, Some(signed.key), request, now) {
            Err(e) => Verdict::Ready(Err(e)),
            Ok(None) => Verdict::Ready(self.finish(token, &bytes, claims, &signed, now, decode)),
            // Not cached until a revocation list has answered: the next
            // request finds the answer at hand, and is cached.
            Ok(Some(revocation)) => sequence::pending_revocation(async move {
                sequence::ask(&*revocation, &claims).await?;
                decode(&bytes, &mut Some(claims))
                    .map(Claims::new)
                    .ok_or_else(|| AuthError::new(AuthErrorKind::InvalidClaims))
            }),
        }
    }

    /// The typed claims of a token that passed every check, and its cache
    /// entry.
    fn finish<C: Send + Sync + 'static>(
        &self,
        token: &str,
        bytes: &[u8],
        claims: Map<String, Value>,
        signed: &Signed<'_, '_>,
        now: u64,
        decode: Decode<C>,
    ) -> Result<Claims<C>, AuthError> {
        let invalid = || AuthError::new(AuthErrorKind::InvalidClaims);
        let Some(cache) = &self.cache else {
            return decode(bytes, &mut Some(claims))
                .map(Claims::new)
                .ok_or_else(invalid);
        };
        // Checked by the rules: a number in range, or absent.
        let exp = claims.get("exp").and_then(Value::as_f64);
        // The claims object stays for the cache's re-checks; for the default
        // claims type it *is* the typed claims: one allocation, no clone.
        let mut map = Some(claims);
        let typed: Arc<dyn Any + Send + Sync> =
            Arc::new(decode(bytes, &mut map).ok_or_else(invalid)?);
        let value = match map {
            Some(map) => Arc::new(Value::Object(map)),
            None => Arc::clone(&typed)
                .downcast::<Value>()
                .map_err(|_| invalid())?,
        };
        let claims = Arc::clone(&typed).downcast::<C>().map_err(|_| invalid())?;
        let entry = CachedToken::new(
            value,
            typed,
            signed.kid.as_deref(),
            signed.alg,
            signed.key.id(),
        );
        cache.insert(token, entry, now, exp);
        Ok(Claims(claims))
    }

    /// A cache hit: the key selected again from the current key set, then
    /// [`sequence::run`] on the stored claims, at the clock second of the
    /// lookup (the clock is read once per request). `None`: not cached, or
    /// the entry no longer stands (its key left the key set, now names other
    /// material, or is too stale to use), so the token is verified afresh.
    pub(super) fn check_cached<C: Send + Sync + 'static>(
        &self,
        token: &str,
        request: &Request<'_>,
    ) -> Option<Verdict<Claims<C>>> {
        // No cached token is larger: don't hash a huge one to find out.
        if token.len() > self.settings.max_token_len {
            return None;
        }
        let cache = self.cache.as_ref()?;
        let now = self.settings.rules.clock.now();
        let hit = cache.get(token, now)?;
        observe::header(hit.alg, hit.kid.as_deref());
        let keys = self.keys.load();
        let Some(key) = self.reselect(&keys, &hit) else {
            cache.remove(token, &hit);
            return None;
        };
        let (Some(claims), Some(typed)) = (hit.claims(), hit.typed::<C>()) else {
            cache.remove(token, &hit);
            return None;
        };
        observe::issuer(claims.get("iss").and_then(Value::as_str));
        Some(match sequence::run(self, claims, Some(key), request, now) {
            Err(e) => Verdict::Ready(Err(e)),
            Ok(None) => Verdict::Ready(Ok(Claims(typed))),
            Ok(Some(revocation)) => sequence::pending_revocation(async move {
                let claims = hit.claims().ok_or(AuthErrorKind::InvalidClaims)?;
                sequence::ask(&*revocation, claims).await?;
                Ok(Claims(typed))
            }),
        })
    }

    /// The key of a cache entry in the current key set, if it is still the
    /// one that verified the entry and may still verify.
    fn reselect<'k>(&self, keys: &'k KeySet, hit: &CachedToken) -> Option<&'k Key> {
        let key = keys.select(hit.kid.as_deref(), hit.alg).ok()?;
        (key.id() == hit.key_id && self.keys.usable(key) && self.algorithms.contains(hit.alg))
            .then_some(key)
    }
}
