//! Where a verifier reads its keys: a fixed [`KeySet`], keys that key
//! files and a [`KeyHandle`](super::KeyHandle) change, or (feature
//! `remote`) the current snapshot of a remote JWK Set; changing keys are
//! swapped in whole so that readers never take a lock.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::{AlgorithmSet, Key, KeySet, RefetchWait, ReloadingKeys};
use jsonwebtoken::Algorithm;

/// The keys of one verifier.
pub(crate) enum KeyStore {
    /// Keys configured once, at build.
    Fixed(KeySet),
    /// Keys re-read from files or replaced through a handle.
    Reloading(Arc<ReloadingKeys>),
    /// A remote source's keys (local keys included), swapped on refresh.
    #[cfg(feature = "remote")]
    Remote(Arc<super::remote::RemoteKeys>),
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(keys) => keys.fmt(f),
            Self::Reloading(keys) => keys.fmt(f),
            #[cfg(feature = "remote")]
            Self::Remote(remote) => remote.fmt(f),
        }
    }
}

/// The keys a verification reads, held for its duration.
pub(crate) enum KeysGuard<'a> {
    Fixed(&'a KeySet),
    Swapped(arc_swap::Guard<Arc<KeySet>>),
}

impl Deref for KeysGuard<'_> {
    type Target = KeySet;

    fn deref(&self) -> &KeySet {
        match self {
            Self::Fixed(keys) => keys,
            Self::Swapped(keys) => keys,
        }
    }
}

impl KeyStore {
    /// The current keys (lock-free).
    pub(crate) fn load(&self) -> KeysGuard<'_> {
        match self {
            Self::Fixed(keys) => KeysGuard::Fixed(keys),
            Self::Reloading(keys) => KeysGuard::Swapped(keys.load()),
            #[cfg(feature = "remote")]
            Self::Remote(remote) => KeysGuard::Swapped(remote.load()),
        }
    }

    /// Whether `keys` (loaded from this store) may verify `alg` at all.
    /// Keys that change take their algorithms with them: an allow-list
    /// left to the keys follows them. A fixed or remote store was checked
    /// at build (a remote one admits what its keys may bring).
    pub(crate) fn admits(&self, keys: &KeySet, alg: Algorithm) -> bool {
        match self {
            Self::Reloading(_) => keys.algorithms().contains(alg),
            _ => true,
        }
    }

    /// The algorithms of `allowed` that the keys may verify now.
    pub(crate) fn algorithms(&self, allowed: AlgorithmSet) -> AlgorithmSet {
        match self {
            Self::Reloading(keys) => allowed.intersection(keys.load().algorithms()),
            _ => allowed,
        }
    }

    /// Whether `key`, selected from [`load`](Self::load), may verify now: a
    /// remote key only while its source is within its maximum stale age.
    #[cfg_attr(not(feature = "remote"), allow(unused_variables))]
    pub(crate) fn usable(&self, key: &Key) -> bool {
        match self {
            Self::Fixed(_) | Self::Reloading(_) => true,
            #[cfg(feature = "remote")]
            Self::Remote(remote) => !key.remote || !remote.stale(),
        }
    }

    /// Whether the store cannot vouch for a missing key: a remote source
    /// that never delivered, or whose keys are too stale to use. A token no
    /// key matches is then answered with 503, not 401.
    pub(crate) fn unavailable(&self) -> bool {
        match self {
            Self::Fixed(_) | Self::Reloading(_) => false,
            #[cfg(feature = "remote")]
            Self::Remote(remote) => remote.stale(),
        }
    }

    /// A refetch that a token naming an unknown key may wait for: the one
    /// already running, or a new one when the cooldown allows. `None` for a
    /// fixed store, or while the cooldown forbids a new fetch.
    pub(crate) fn refetch(&self) -> Option<RefetchWait> {
        match self {
            Self::Fixed(_) | Self::Reloading(_) => None,
            #[cfg(feature = "remote")]
            Self::Remote(remote) => remote.refetch(),
        }
    }
}
