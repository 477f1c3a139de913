//! The verified-token cache: a token seen and verified before skips the
//! signature and the parsing, and nothing else.
//!
//! Clients send the same access token many times during its life, so most
//! requests carry a token this authenticator has already verified. The cache
//! maps the token to what verifying it produced: the claims (an `Arc`, so a
//! hit clones a pointer) and what is needed to re-check them.
//!
//! What a hit still checks, every time (the same code as a miss):
//! - `exp`, `nbf` and `iat` against the current [`Clock`](crate::clock::Clock),
//!   and every other registered-claim rule;
//! - the route's rules: audience, scopes;
//! - that the key which verified the token is still the key the current key
//!   set selects for it (a key rotated out, or replaced by a refresh, turns
//!   the entry into a miss, and the token is verified again or rejected);
//! - revocation, once configured.
//!
//! What it does not do:
//! - cache failures: only a token that passed every check is stored, so a
//!   flood of invalid tokens cannot evict good entries;
//! - keep an entry past the token's `exp` or the configured maximum age
//!   (default 10 minutes): such an entry is a miss and is removed;
//! - grow: it holds at most its capacity (default 10,000 tokens), evicting
//!   the least useful entries ([`quick_cache`]'s CLOCK-Pro-like policy).
//!
//! The key is the exact token text. Lookups hash it with a per-process
//! random seed and compare candidates in constant time, so the time of a
//! lookup tells nothing about how much of a cached token a guess matched.
//!
//! The cache belongs to one [`Authenticator`](crate::Authenticator) and is
//! shared by every layer made from it. Configure it with
//! [`AuthenticatorBuilder::cache_capacity`](crate::AuthenticatorBuilder::cache_capacity),
//! [`cache_max_age`](crate::AuthenticatorBuilder::cache_max_age) and
//! [`without_cache`](crate::AuthenticatorBuilder::without_cache).
//!
//! ```
//! use std::time::Duration;
//! use tower_jwt_auth::Authenticator;
//!
//! let auth = Authenticator::builder()
//!     .hmac_secret("a secret of at least thirty-two bytes")
//!     .cache_capacity(50_000)                      // default 10,000
//!     .cache_max_age(Duration::from_secs(300))     // default 10 min
//!     .build()?;
//! let stats = auth.verifier().cache_stats().expect("on by default");
//! assert_eq!((stats.entries, stats.capacity), (0, 50_000));
//! # Ok::<(), tower_jwt_auth::ConfigError>(())
//! ```

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use quick_cache::sync::Cache;
use quick_cache::Equivalent;
use serde_json::{Map, Value};

use crate::keys::KeyId;

/// Default number of tokens a cache holds.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

/// Default longest time an entry is used, whatever the token's `exp`.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// A snapshot of a cache's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Tokens held now (expired entries count until they are looked up or
    /// evicted).
    pub entries: usize,
    /// The most tokens it holds.
    pub capacity: usize,
}

/// What verifying a token produced, and what re-checking it needs.
pub(crate) struct CachedToken {
    /// The whole claims object: the rules run on it on every hit.
    claims: Arc<Value>,
    /// The claims as the authenticator's claims type `C` (an `Arc<C>`; the
    /// same allocation as `claims` when `C` is `serde_json::Value`).
    typed: Arc<dyn Any + Send + Sync>,
    /// The header's `kid` and `alg`, to select the key again from the
    /// current key set.
    pub(crate) kid: Option<Box<str>>,
    pub(crate) alg: Algorithm,
    /// The identity of the key that verified the signature.
    pub(crate) key_id: KeyId,
    /// Clock second from which the entry is no longer used: the token's
    /// `exp` or the maximum age, whichever comes first.
    expires_at: u64,
}

impl CachedToken {
    pub(crate) fn new(
        claims: Arc<Value>,
        typed: Arc<dyn Any + Send + Sync>,
        kid: Option<&str>,
        alg: Algorithm,
        key_id: KeyId,
    ) -> Self {
        Self {
            claims,
            typed,
            kid: kid.map(Box::from),
            alg,
            key_id,
            expires_at: 0,
        }
    }

    /// The claims object (`None` never happens: entries are built from
    /// objects).
    pub(crate) fn claims(&self) -> Option<&Map<String, Value>> {
        self.claims.as_object()
    }

    /// The typed claims, if they are of type `C` (always, for the one
    /// authenticator that stored them).
    pub(crate) fn typed<C: Send + Sync + 'static>(&self) -> Option<Arc<C>> {
        Arc::clone(&self.typed).downcast::<C>().ok()
    }
}

/// An entry that knows until when it may be used.
pub(crate) trait Expiring {
    /// Clock second from which the entry is no longer used.
    fn expires_at(&self) -> u64;
    fn set_expires_at(&mut self, at: u64);
}

impl Expiring for CachedToken {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
    fn set_expires_at(&mut self, at: u64) {
        self.expires_at = at;
    }
}

/// The stored key: the token text, compared in constant time.
#[derive(Clone)]
pub(crate) struct TokenKey(pub(crate) Box<str>);

/// The lookup key: a borrowed token, hashed like [`TokenKey`].
pub(crate) struct TokenRef<'a>(pub(crate) &'a str);

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        TokenRef(&self.0).hash(state);
    }
}

impl Hash for TokenRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        TokenRef(&other.0).equivalent(self)
    }
}

impl Eq for TokenKey {}

impl Equivalent<TokenKey> for TokenRef<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        // Lengths differ: not equal, and the length of a token is no
        // secret. Same length: every byte is compared, whatever matches.
        self.0.len() == key.0.len()
            && crate::jws::constant_time_eq(self.0.as_bytes(), key.0.as_bytes())
    }
}

/// A bounded map from token to [`CachedToken`] (or another entry).
pub(crate) struct TokenCache<E = CachedToken> {
    map: Cache<TokenKey, Arc<E>>,
    capacity: usize,
    max_age: u64,
}

impl<E> fmt::Debug for TokenCache<E> {
    // Never the tokens: only the size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.map.len())
            .field("capacity", &self.capacity)
            .field("max_age_secs", &self.max_age)
            .finish()
    }
}

impl<E: Expiring> TokenCache<E> {
    /// A cache of `capacity` tokens (at least 1), each used at most
    /// `max_age`.
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Self {
        let capacity = capacity.max(1);
        Self {
            map: Cache::new(capacity),
            capacity,
            max_age: max_age.as_secs(),
        }
    }

    /// The entry for `token` if there is one still in date at `now`; an
    /// entry past its time is removed.
    pub(crate) fn get(&self, token: &str, now: u64) -> Option<Arc<E>> {
        let found = self.lookup(token, now);
        crate::observe::cache_lookup(found.is_some());
        found
    }

    fn lookup(&self, token: &str, now: u64) -> Option<Arc<E>> {
        let entry = self.map.get(&TokenRef(token))?;
        if now < entry.expires_at() {
            return Some(entry);
        }
        self.remove(token, &entry);
        None
    }

    /// Removes `entry` (and not a newer entry for the same token).
    pub(crate) fn remove(&self, token: &str, entry: &Arc<E>) {
        self.map
            .remove_if(&TokenRef(token), |v| Arc::ptr_eq(v, entry));
    }

    /// Stores a token that passed every check at `now`, until its `exp`
    /// (`None`: no `exp`, only the maximum age applies).
    pub(crate) fn insert(&self, token: &str, mut entry: E, now: u64, exp: Option<f64>) {
        let max = now.saturating_add(self.max_age);
        // Floor: an entry must not outlive `exp`, even by a fraction.
        let exp = exp.map_or(u64::MAX, |e| e as u64);
        entry.set_expires_at(max.min(exp));
        if entry.expires_at() <= now {
            return;
        }
        self.map.insert(TokenKey(token.into()), Arc::new(entry));
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.map.len(),
            capacity: self.capacity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> CachedToken {
        let claims = Arc::new(serde_json::json!({"sub": "a"}));
        let key = crate::keys::Key::hmac([7u8; 32]).unwrap();
        CachedToken::new(claims.clone(), claims, None, Algorithm::HS256, key.id())
    }

    #[test]
    fn entry_is_used_until_exp_or_max_age_whichever_first() {
        let cache = TokenCache::new(10, Duration::from_secs(100));
        cache.insert("t1", entry(), 1000, Some(1050.9));
        assert!(cache.get("t1", 1049).is_some());
        assert!(cache.get("t1", 1050).is_none(), "exp is floored");
        assert_eq!(cache.stats().entries, 0, "an expired entry is removed");

        cache.insert("t2", entry(), 1000, None);
        assert!(cache.get("t2", 1099).is_some());
        assert!(cache.get("t2", 1100).is_none(), "max age");

        cache.insert("t3", entry(), 1000, Some(900.0));
        assert_eq!(cache.stats().entries, 0, "already expired: not stored");
    }

    #[test]
    fn lookups_match_the_exact_token_only() {
        let cache = TokenCache::new(10, DEFAULT_MAX_AGE);
        cache.insert("abc.def.ghi", entry(), 0, None);
        assert!(cache.get("abc.def.ghi", 1).is_some());
        for other in [
            "abc.def.gh",
            "abc.def.ghj",
            "abc.def.ghi.",
            "Abc.def.ghi",
            "",
        ] {
            assert!(cache.get(other, 1).is_none(), "{other}");
        }
    }

    #[test]
    fn capacity_is_respected() {
        let cache = TokenCache::new(100, DEFAULT_MAX_AGE);
        for i in 0..1000 {
            cache.insert(&format!("token-{i}"), entry(), 0, None);
        }
        let stats = cache.stats();
        assert!(stats.entries <= 100, "{stats:?}");
        assert_eq!(stats.capacity, 100);
    }

    #[test]
    fn remove_spares_a_newer_entry() {
        let cache = TokenCache::new(10, DEFAULT_MAX_AGE);
        cache.insert("t", entry(), 0, None);
        let old = cache.get("t", 1).unwrap();
        cache.insert("t", entry(), 0, None);
        cache.remove("t", &old);
        assert!(cache.get("t", 1).is_some());
    }

    #[test]
    fn debug_shows_no_token() {
        let cache = TokenCache::new(10, DEFAULT_MAX_AGE);
        cache.insert("secret.token.text", entry(), 0, None);
        assert!(!format!("{cache:?}").contains("secret"));
    }
}
