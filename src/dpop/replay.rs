//! Replay protection for DPoP proofs (RFC 9449 §11.1): each proof's `jti`
//! is accepted once while the proof could still pass the `iat` check.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use crate::revocation::BoxFuture;

/// Where seen proofs are remembered.
///
/// A key is SHA-256 over the proof key's thumbprint and the proof's `jti`:
/// fixed-size, and two clients that pick the same `jti` do not collide.
/// Implement this to share one store across instances (every instance
/// behind a load balancer must see every proof, or a proof can be replayed
/// against a sibling).
///
/// [`insert_new`](Self::insert_new) is synchronous and runs on the
/// request path: right for an in-process store. A store that must ask the
/// network (Redis: `RedisReplayStore`, feature `redis`) answers through
/// [`insert_new_async`](Self::insert_new_async) instead, which the layer
/// awaits; either way, an error fails the request (503), never accepts it.
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` until `expires_at` (seconds since the epoch) unless a
    /// record of it that has not expired at `now` exists.
    ///
    /// `Ok(true)`: the
    /// key was new and is now recorded; `Ok(false)`: a replay.
    ///
    /// # Errors
    /// [`ReplayStoreError`] when the store cannot answer; the request is
    /// then refused (503), never accepted.
    fn insert_new(
        &self,
        key: &[u8; 32],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, ReplayStoreError>;

    /// For a store that must wait on I/O: the same answer as
    /// [`insert_new`](Self::insert_new), as a future the layer awaits
    /// (`insert_new` is then not called).
    ///
    /// The default, `None`, means
    /// `insert_new` answers at once.
    fn insert_new_async(
        &self,
        key: &[u8; 32],
        expires_at: u64,
        now: u64,
    ) -> Option<BoxFuture<'static, Result<bool, ReplayStoreError>>> {
        let _ = (key, expires_at, now);
        None
    }
}

impl<T: ReplayStore> ReplayStore for std::sync::Arc<T> {
    fn insert_new(
        &self,
        key: &[u8; 32],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, ReplayStoreError> {
        (**self).insert_new(key, expires_at, now)
    }

    fn insert_new_async(
        &self,
        key: &[u8; 32],
        expires_at: u64,
        now: u64,
    ) -> Option<BoxFuture<'static, Result<bool, ReplayStoreError>>> {
        (**self).insert_new_async(key, expires_at, now)
    }
}

/// A replay store could not record a proof.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayStoreError {
    /// The store holds as many unexpired entries as it may.
    Full,
    /// The store is unreachable or failed.
    Unavailable,
}

impl fmt::Display for ReplayStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("the dpop replay store is full"),
            Self::Unavailable => f.write_str("the dpop replay store is unavailable"),
        }
    }
}

impl std::error::Error for ReplayStoreError {}

/// The default [`ReplayStore`]: a bounded in-process map. Right for one
/// instance; a fleet needs a shared store.
///
/// Expired entries are pruned when the map has doubled since the last
/// prune, so the cost is amortized O(1) per proof. When `capacity`
/// unexpired entries are held, new proofs are refused
/// ([`ReplayStoreError::Full`]) rather than old ones forgotten: forgetting
/// would let a proof be replayed.
pub struct MemoryReplayStore {
    state: Mutex<State>,
    capacity: usize,
}

struct State {
    seen: HashMap<[u8; 32], u64>,
    prune_at: usize,
    last_prune: u64,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl MemoryReplayStore {
    /// The default capacity: one million proofs (about 50 MB at most).
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    const FIRST_PRUNE: usize = 1024;

    /// A store holding at most `capacity` unexpired proofs.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                seen: HashMap::new(),
                prune_at: Self::FIRST_PRUNE.min(capacity.max(1)),
                last_prune: 0,
            }),
            capacity,
        }
    }

    /// How many proofs are held (expired ones included until pruned).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether no proof is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The map stays consistent even if a holder panicked: no call
        // below leaves it half-updated.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReplayStore for MemoryReplayStore {
    fn insert_new(
        &self,
        key: &[u8; 32],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, ReplayStoreError> {
        let mut state = self.lock();
        if let Some(&until) = state.seen.get(key) {
            if until >= now {
                return Ok(false);
            }
        }
        let full = state.seen.len() >= self.capacity;
        // Amortized: after a prune, the next one waits until the map has
        // doubled; a full map is pruned at most once a second, so a flood
        // against a full store does not cost a scan per request.
        if state.seen.len() >= state.prune_at && (!full || now > state.last_prune) {
            state.seen.retain(|_, until| *until >= now);
            state.last_prune = now;
            state.prune_at = (state.seen.len() * 2)
                .max(Self::FIRST_PRUNE)
                .min(self.capacity.max(1));
        }
        if state.seen.len() >= self.capacity && !state.seen.contains_key(key) {
            return Err(ReplayStoreError::Full);
        }
        state.seen.insert(*key, expires_at);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_new_once_until_it_expires() {
        let s = MemoryReplayStore::default();
        let k = [1u8; 32];
        assert_eq!(s.insert_new(&k, 100, 10), Ok(true));
        assert_eq!(s.insert_new(&k, 100, 50), Ok(false));
        assert_eq!(s.insert_new(&k, 100, 100), Ok(false));
        assert_eq!(s.insert_new(&k, 300, 101), Ok(true));
        assert_eq!(s.insert_new(&[2u8; 32], 100, 10), Ok(true));
    }

    #[test]
    fn a_full_store_refuses_instead_of_forgetting() {
        let s = MemoryReplayStore::new(2);
        assert_eq!(s.insert_new(&[1; 32], 100, 0), Ok(true));
        assert_eq!(s.insert_new(&[2; 32], 100, 0), Ok(true));
        assert_eq!(s.insert_new(&[3; 32], 100, 0), Err(ReplayStoreError::Full));
        // The first ones are still remembered.
        assert_eq!(s.insert_new(&[1; 32], 100, 1), Ok(false));
        // Once they expire, room is made.
        assert_eq!(s.insert_new(&[3; 32], 300, 101), Ok(true));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let s = MemoryReplayStore::new(100_000);
        for i in 0..5000u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            assert_eq!(s.insert_new(&k, u64::from(i), u64::from(i)), Ok(true));
        }
        assert!(s.len() < 3000, "{}", s.len());
    }
}
