//! [`MemoryRevocation`]: one process's revocation list, entries expiring.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::{verdict, BoxFuture, RefreshSpend, Revocation, RevocationError, TokenRef};
use crate::clock::{Clock, SystemClock};

/// Default bound on live entries of a [`MemoryRevocation`].
const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

/// A map whose entries expire at a Unix time: the in-memory half of the
/// revocation list, also usable for any "seen within a window" set (a DPoP
/// proof's `jti`, for replay detection) through
/// [`insert_if_absent`](Self::insert_if_absent).
///
/// Bounded: expired entries are swept on writes (at most once a second, or
/// whenever the map is full), and a write that would exceed `max_entries`
/// live entries is refused with [`RevocationError::Full`] rather than
/// evicting a live entry.
pub(crate) struct ExpiringMap<V = u64> {
    entries: RwLock<HashMap<String, Entry<V>>>,
    max_entries: usize,
}

#[derive(Clone, Copy)]
struct Entry<V> {
    value: V,
    expires_at: u64,
}

impl<V> ExpiringMap<V> {
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            max_entries,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry<V>>> {
        // A panic while holding the lock cannot leave an entry half-written
        // (HashMap operations are atomic from our side), so a poisoned lock
        // still holds a consistent map.
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry<V>>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the live value under `key` (`None`: absent or expired) and
    /// lets `f` decide, under one lock, whether to replace it: `f` returns
    /// the new value (or `None` to leave the entry as it is) and an
    /// answer. A new value lives until the later of `expires_at` and the
    /// live entry's expiry.
    pub(crate) fn update<R>(
        &self,
        key: &str,
        expires_at: u64,
        now: u64,
        f: impl FnOnce(Option<&V>) -> (Option<V>, R),
    ) -> Result<R, RevocationError> {
        let mut map = self.write();
        let live = map.get(key).filter(|e| e.expires_at > now);
        let until = live.map_or(expires_at, |e| e.expires_at.max(expires_at));
        let (value, answer) = f(live.map(|e| &e.value));
        if let Some(value) = value {
            self.make_room(&mut map, key, now)?;
            map.insert(
                key.to_owned(),
                Entry {
                    value,
                    expires_at: until,
                },
            );
        }
        Ok(answer)
    }

    /// Number of entries held, live or not yet swept.
    pub(crate) fn len(&self) -> usize {
        self.read().len()
    }

    fn make_room(
        &self,
        map: &mut HashMap<String, Entry<V>>,
        key: &str,
        now: u64,
    ) -> Result<(), RevocationError> {
        // Sweeping is O(n): do it when the map is full, and each time it
        // grows to a power of two (from 4096 on), so that expired entries
        // never make up more than about half of it and the cost stays
        // amortized O(1) per write.
        let len = map.len();
        if len >= self.max_entries || (len >= 4096 && len.is_power_of_two()) {
            map.retain(|_, e| e.expires_at > now);
        }
        if map.len() >= self.max_entries && !map.contains_key(key) {
            return Err(RevocationError::Full);
        }
        Ok(())
    }
}

impl ExpiringMap<u64> {
    /// The live value under `key` at time `now`.
    pub(crate) fn get(&self, key: &str, now: u64) -> Option<u64> {
        self.read()
            .get(key)
            .filter(|e| e.expires_at > now)
            .map(|e| e.value)
    }

    /// Inserts `key` unless a live entry holds it; `true` when inserted.
    pub(crate) fn insert_if_absent(
        &self,
        key: &str,
        value: u64,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, RevocationError> {
        let mut map = self.write();
        if map.get(key).is_some_and(|e| e.expires_at > now) {
            return Ok(false);
        }
        self.make_room(&mut map, key, now)?;
        map.insert(key.to_owned(), Entry { value, expires_at });
        Ok(true)
    }

    /// Sets `key` to `value` unless a live entry holds a larger value; the
    /// entry lives until the later of both expiries.
    pub(crate) fn set_max(
        &self,
        key: &str,
        value: u64,
        expires_at: u64,
        now: u64,
    ) -> Result<(), RevocationError> {
        let mut map = self.write();
        if let Some(e) = map.get_mut(key).filter(|e| e.expires_at > now) {
            e.value = e.value.max(value);
            e.expires_at = e.expires_at.max(expires_at);
            return Ok(());
        }
        self.make_room(&mut map, key, now)?;
        map.insert(key.to_owned(), Entry { value, expires_at });
        Ok(())
    }
}

impl<V> fmt::Debug for ExpiringMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpiringMap")
            .field("len", &self.len())
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

/// A session's refresh entry: the next generation to spend, and the
/// exchange that spent the one before it.
struct RefreshMark {
    next: u64,
    spent_at: u64,
    jti: Box<str>,
    attempt: u64,
    confirmed: bool,
}

/// An in-memory revocation list for one process.
///
/// Entries expire with the
/// tokens they revoke (plus a grace that covers the verifier's leeway,
/// 5 minutes by default), so memory is bounded by the tokens revoked within
/// one token lifetime; beyond `max_entries` live entries of one kind
/// (`jti`, `sid`, `sub`, or refresh generation; default one million each),
/// new revocations fail with [`RevocationError::Full`] instead of silently
/// dropping older ones.
///
/// **Sizing.** With a [`TokenIssuer`](crate::issue::TokenIssuer), what one user
/// can occupy is bounded by sessions, not by requests: a session that
/// refreshes holds one refresh-generation entry however often it refreshes
/// (its spent refresh tokens are the generations below the one recorded,
/// [`Revocation::spend_refresh`]), plus one `sid` entry once logged out or
/// caught reusing a token; a "logout everywhere" holds one `sub` entry per
/// subject. Each lives up to the longer token lifetime plus the grace. So
/// `max_entries` is the number of sessions that refresh within one refresh
/// lifetime (and, separately, of logouts within one): the default million
/// suits e.g. 1 M sessions a day with 24 h refresh tokens. Only
/// [`Revocation::revoke_token`] (revoking one access token by `jti`) adds
/// an entry per call; logins are what create sessions, so throttle them in
/// the application.
///
/// Cheap to clone: clones share one list. Checks never wait, so the
/// verifier answers them on its synchronous path.
#[derive(Clone)]
pub struct MemoryRevocation {
    inner: Arc<MemoryInner>,
}

struct MemoryInner {
    // One map per kind, so a check looks up the token's own strings
    // without building prefixed keys (no allocation per request).
    jti: ExpiringMap,
    sid: ExpiringMap,
    sub: ExpiringMap,
    /// Per session, the next refresh generation to spend and the spend of
    /// the one before it.
    refresh: ExpiringMap<RefreshMark>,
    max_entries: usize,
    clock: Arc<dyn Clock>,
    grace: u64,
}

impl fmt::Debug for MemoryRevocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocation")
            .field("entries", &self.len())
            .field("max_entries", &self.inner.max_entries)
            .field("grace_secs", &self.inner.grace)
            .finish()
    }
}

impl Default for MemoryRevocation {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRevocation {
    /// An empty list on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_options(
            Arc::new(SystemClock),
            DEFAULT_MAX_ENTRIES,
            super::DEFAULT_GRACE_SECS,
        )
    }

    fn with_options(clock: Arc<dyn Clock>, max_entries: usize, grace: u64) -> Self {
        Self {
            inner: Arc::new(MemoryInner {
                jti: ExpiringMap::new(max_entries),
                sid: ExpiringMap::new(max_entries),
                sub: ExpiringMap::new(max_entries),
                refresh: ExpiringMap::new(max_entries),
                max_entries,
                clock,
                grace,
            }),
        }
    }

    /// The same (empty) list on another clock, e.g. a
    /// [`FixedClock`](crate::clock::FixedClock) in tests.
    #[must_use]
    pub fn clock(self, clock: impl Clock) -> Self {
        Self::with_options(Arc::new(clock), self.inner.max_entries, self.inner.grace)
    }

    /// The same (empty) list with another bound on live entries.
    #[must_use]
    pub fn max_entries(self, max_entries: usize) -> Self {
        Self::with_options(self.inner.clock.clone(), max_entries, self.inner.grace)
    }

    /// The same (empty) list keeping entries `grace` past the `expires_at`
    /// they were given (default 5 minutes; keep it at least the verifier's
    /// leeway).
    #[must_use]
    pub fn grace(self, grace: Duration) -> Self {
        Self::with_options(
            self.inner.clock.clone(),
            self.inner.max_entries,
            grace.as_secs(),
        )
    }

    /// Number of entries held (live, or expired and not yet swept).
    #[must_use]
    pub fn len(&self) -> usize {
        let i = &*self.inner;
        i.jti.len() + i.sid.len() + i.sub.len() + i.refresh.len()
    }

    /// Whether no entry is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, token: &TokenRef<'_>) -> bool {
        let now = self.inner.clock.now();
        let i = &*self.inner;
        let found = [
            token.jti.and_then(|k| i.jti.get(k, now)),
            token.sid.and_then(|k| i.sid.get(k, now)),
            token.sub.and_then(|k| i.sub.get(k, now)),
        ];
        verdict(token, found)
    }

    fn until(&self, expires_at: u64) -> u64 {
        expires_at.saturating_add(self.inner.grace)
    }
}

impl Revocation for MemoryRevocation {
    fn is_revoked<'a>(
        &'a self,
        token: &'a TokenRef<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        let revoked = self.check(token);
        Box::pin(async move { Ok(revoked) })
    }

    fn is_revoked_now(&self, token: &TokenRef<'_>) -> Option<Result<bool, RevocationError>> {
        Some(Ok(self.check(token)))
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        let now = self.inner.clock.now();
        let r = self
            .inner
            .jti
            .insert_if_absent(jti, 0, self.until(expires_at), now);
        Box::pin(async move { r })
    }

    fn spend_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        let now = self.inner.clock.now();
        let next = spend.generation.saturating_add(1);
        let r = self
            .inner
            .refresh
            .update(spend.sid, self.until(spend.expires_at), now, |mark| {
                let mut spent_at = spend.now;
                if let Some(m) = mark.filter(|m| m.next > spend.generation) {
                    let same_token = m.next == next && *m.jti == *spend.jti;
                    if same_token && m.attempt == spend.attempt {
                        return (None, true);
                    }
                    let retry = same_token
                        && !m.confirmed
                        && spend.now < m.spent_at.saturating_add(spend.retry_grace);
                    if !retry {
                        return (None, false);
                    }
                    spent_at = m.spent_at;
                }
                let mark = RefreshMark {
                    next,
                    spent_at,
                    jti: spend.jti.into(),
                    attempt: spend.attempt,
                    confirmed: false,
                };
                (Some(mark), true)
            });
        Box::pin(async move { r })
    }

    fn confirm_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        let now = self.inner.clock.now();
        let next = spend.generation.saturating_add(1);
        let r = self
            .inner
            .refresh
            .update(
                spend.sid,
                self.until(spend.expires_at),
                now,
                |mark| match mark {
                    Some(m) if m.next == next && m.attempt == spend.attempt => {
                        let confirmed = (!m.confirmed).then(|| RefreshMark {
                            jti: m.jti.clone(),
                            confirmed: true,
                            ..*m
                        });
                        (confirmed, true)
                    }
                    _ => (None, false),
                },
            );
        Box::pin(async move { r })
    }

    fn revoke_family<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        let now = self.inner.clock.now();
        let r = self
            .inner
            .sid
            .insert_if_absent(sid, 0, self.until(expires_at), now)
            .map(drop);
        Box::pin(async move { r })
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: u64,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        let now = self.inner.clock.now();
        let r = self
            .inner
            .sub
            .set_max(sub, issued_before, self.until(expires_at), now);
        Box::pin(async move { r })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    fn block<T>(f: BoxFuture<'_, T>) -> T {
        futures_util::FutureExt::now_or_never(f).expect("memory store futures are ready")
    }

    #[test]
    fn revoked_jti_is_reported_until_it_expires_then_swept() {
        let clock = Arc::new(FixedClock::new(1_000));
        let store = MemoryRevocation::new()
            .clock(clock.clone())
            .grace(Duration::from_secs(60));
        let t = TokenRef {
            jti: Some("a"),
            ..TokenRef::default()
        };
        assert!(!block(store.is_revoked(&t)).unwrap());
        assert!(block(store.revoke_token("a", 1_100)).unwrap());
        assert!(
            !block(store.revoke_token("a", 1_100)).unwrap(),
            "second spend"
        );
        assert!(block(store.is_revoked(&t)).unwrap());
        clock.set(1_159);
        assert!(store.is_revoked_now(&t).unwrap().unwrap());
        clock.set(1_160);
        assert!(!store.is_revoked_now(&t).unwrap().unwrap());
        // An expired entry no longer blocks a new one.
        assert!(block(store.revoke_token("a", 1_300)).unwrap());
    }

    #[test]
    fn full_store_refuses_instead_of_dropping_live_entries() {
        let clock = Arc::new(FixedClock::new(1_000));
        let store = MemoryRevocation::new()
            .clock(clock.clone())
            .max_entries(2)
            .grace(Duration::ZERO);
        assert!(block(store.revoke_token("a", 1_010)).unwrap());
        assert!(block(store.revoke_token("b", 1_020)).unwrap());
        assert!(matches!(
            block(store.revoke_token("c", 1_020)),
            Err(RevocationError::Full)
        ));
        let a = TokenRef {
            jti: Some("a"),
            ..TokenRef::default()
        };
        assert!(
            store.is_revoked_now(&a).unwrap().unwrap(),
            "a is still revoked"
        );
        clock.set(1_010);
        assert!(
            block(store.revoke_token("c", 1_020)).unwrap(),
            "expired a swept"
        );
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn subject_cutoff_only_moves_forward() {
        let store = MemoryRevocation::new().clock(FixedClock::new(1_000));
        block(store.revoke_subject("u", 500, 2_000)).unwrap();
        block(store.revoke_subject("u", 400, 2_000)).unwrap();
        let t = |iat| TokenRef {
            sub: Some("u"),
            iat: Some(iat),
            ..TokenRef::default()
        };
        assert!(store.is_revoked_now(&t(450)).unwrap().unwrap());
        assert!(!store.is_revoked_now(&t(500)).unwrap().unwrap());
        let other = TokenRef {
            sub: Some("v"),
            iat: Some(1),
            ..TokenRef::default()
        };
        assert!(!store.is_revoked_now(&other).unwrap().unwrap());
    }

    #[test]
    fn family_revocation_covers_every_token_of_the_session() {
        let store = MemoryRevocation::new();
        block(store.revoke_family("s1", u64::MAX)).unwrap();
        for jti in ["x", "y"] {
            let t = TokenRef {
                jti: Some(jti),
                sid: Some("s1"),
                ..TokenRef::default()
            };
            assert!(store.is_revoked_now(&t).unwrap().unwrap());
        }
        let t = TokenRef {
            jti: Some("x"),
            sid: Some("s2"),
            ..TokenRef::default()
        };
        assert!(!store.is_revoked_now(&t).unwrap().unwrap());
    }
}
