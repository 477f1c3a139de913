//! [`RedisReplayStore`]: one DPoP replay store for a whole fleet, in Redis.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;

use super::{ReplayStore, ReplayStoreError};
use crate::revocation::{BoxFuture, RedisStore};

/// A [`ReplayStore`] in Redis, shared by every instance that points at the
/// same Redis: a proof accepted by one instance is refused as a replay by
/// all the others (RFC 9449 §11.1).
///
/// Each accepted proof is one atomic `SET <prefix>dpop:<key> <random> NX EX
/// <ttl>` ([`RedisStore::insert_if_absent`], a small Lua script) on the
/// [`RedisStore`] connection (the revocation list's: its
/// auto-reconnecting connection, key prefix and timeout, 1 s by default),
/// where the key is the base64url of the SHA-256 of the proof key's
/// thumbprint and `jti`, and the TTL is what is left of the replay window
/// (through the end of its last second, in which the proof's `iat` still
/// passes), so Redis memory stays bounded by the proofs of the last window.
///
/// **After a Redis restart** the first `SET` may meet the connection the
/// restart broke. It is retried once on a fresh connection, within the
/// store's timeout, and the retry is safe although `SET NX` is not
/// idempotent: the random value written by the first try tells the retry
/// whether that try reached Redis (the proof is then this request's, and
/// accepted) or not (the retry records it); a proof already recorded by
/// another request stays a replay.
///
/// **Fail closed:** when Redis is unreachable or does not answer within
/// the store's timeout, the request is refused with 503 (no
/// `WWW-Authenticate`, as for any outage), never accepted: accepting
/// without recording would let that proof be replayed.
///
/// The layer awaits the `SET` ([`ReplayStore::insert_new_async`]); the
/// synchronous [`ReplayStore::insert_new`] cannot wait on the network and
/// always answers [`ReplayStoreError::Unavailable`].
///
/// ```no_run
/// use tower_jwt_auth::{dpop::DpopConfig, dpop::DpopMode, dpop::RedisReplayStore};
/// use tower_jwt_auth::revocation::RedisStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::open("redis://127.0.0.1:6379")?;
/// let auth = tower_jwt_auth::Authenticator::builder()
///     .hmac_secret([7u8; 32])
///     .dpop(
///         DpopConfig::new(DpopMode::Required)
///             .public_url("https://api.example")
///             .replay_store(RedisReplayStore::new(store)),
///     )
///     .build()?;
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisReplayStore {
    store: RedisStore,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("store", &self.store)
            .finish()
    }
}

impl RedisReplayStore {
    /// A replay store on `store`'s connection (it may be the one a
    /// [`RedisRevocation`](crate::revocation::RedisRevocation) uses).
    #[must_use]
    pub fn new(store: RedisStore) -> Self {
        Self { store }
    }

    /// The Redis key (before the store's prefix) of a replay key.
    fn key(key: &[u8; 32]) -> String {
        let mut k = String::from("dpop:");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(key, &mut k);
        k
    }
}

impl ReplayStore for RedisReplayStore {
    /// Cannot wait on the network: always
    /// [`ReplayStoreError::Unavailable`]. The layer uses
    /// [`insert_new_async`](ReplayStore::insert_new_async).
    fn insert_new(
        &self,
        _key: &[u8; 32],
        _expires_at: u64,
        _now: u64,
    ) -> Result<bool, ReplayStoreError> {
        Err(ReplayStoreError::Unavailable)
    }

    fn insert_new_async(
        &self,
        key: &[u8; 32],
        expires_at: u64,
        now: u64,
    ) -> Option<BoxFuture<'static, Result<bool, ReplayStoreError>>> {
        let store = self.store.clone();
        let key = Self::key(key);
        // A proof passes the `iat` check through the whole second
        // `expires_at` (the clock reads whole seconds): remember it until
        // that second ends, one second more than `expires_at - now`.
        let ttl = Duration::from_secs(expires_at.saturating_sub(now).saturating_add(1));
        Some(Box::pin(async move {
            store
                .insert_if_absent(&key, ttl)
                .await
                .map_err(|_| ReplayStoreError::Unavailable)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_and_fixed_size() {
        let k = RedisReplayStore::key(&[0xff; 32]);
        assert!(k.starts_with("dpop:"), "{k}");
        assert_eq!(k.len(), "dpop:".len() + 43);
        assert_ne!(k, RedisReplayStore::key(&[0xfe; 32]));
    }
}
