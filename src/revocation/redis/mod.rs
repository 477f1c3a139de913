//! [`RedisRevocation`]: a revocation list shared by every instance through
//! Redis, and [`RedisStore`], the small connection it is built on.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{keys_of, verdict, BoxFuture, RefreshSpend, Revocation, RevocationError, TokenRef};
use crate::clock::{Clock, SystemClock};

mod store;

pub use store::{RedisStore, RedisStoreBuilder};

const DEFAULT_LOCAL_CACHE: Duration = Duration::from_secs(1);
const LOCAL_CACHE_MAX_ENTRIES: usize = 100_000;

/// Answers from Redis, per kind (jti, sid, sub: the order of
/// [`keys_of`]) and keyed by the token's own strings, so a hit builds no
/// key. A value is what Redis held (`None`: no entry), when it was read,
/// and the generation of the cache when it was written.
///
/// The cache only ever moves towards "revoked" for what this instance
/// revoked: every revocation on this instance bumps `generation` and marks
/// its entry revoked; an answer from a lookup that started before (an
/// older generation) is merged with that entry (the more revoked of the
/// two wins) instead of overwriting it, and is not remembered at all once
/// entries were evicted after it started.
#[derive(Default)]
struct LocalCache {
    maps: [HashMap<String, Entry>; 3],
    /// Bumped by every revocation made on this instance.
    generation: u64,
    /// The generation at the last eviction: older lookups are not
    /// remembered (an evicted revocation mark cannot protect itself).
    evicted_at: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    value: Option<u64>,
    at: Instant,
    generation: u64,
}

impl LocalCache {
    fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }
}

/// The more revoked of two answers for one key: any entry beats none, and
/// a later subject cut-off beats an earlier one (jti and sid entries hold
/// 0, so for them this is "any entry").
fn more_revoked(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    a.max(b)
}

/// The token's strings in [`keys_of`] order.
fn fields<'a>(token: &TokenRef<'a>) -> [Option<&'a str>; 3] {
    [token.jti, token.sid, token.sub]
}

/// A revocation list in Redis, shared by every instance that points at the
/// same Redis: a logout on one instance rejects the token on all of them.
///
/// - Entries live as long as the tokens they revoke (Redis TTL = the
///   token's remaining life plus a grace covering the verifier's leeway,
///   5 minutes by default), so Redis memory stays bounded. An entry for
///   a token living more than ten years gets no expiry at all (Redis's
///   expiries are capped there; an entry expiring first would make the
///   token valid again): such an entry stays until deleted by hand.
/// - A check costs one `MGET` round trip (jti, sid and sub keys at once).
///   With the local cache (default 1 s, [`RedisRevocationBuilder::local_cache`])
///   answers are kept that long in process, so a hot token costs no round
///   trip. **Staleness bound:** a revocation made on another instance is
///   seen here at most the local cache's lifetime later (plus one round
///   trip); on the instance that revoked, at once.
/// - Redis unreachable or too slow (1 s timeout): the check fails, and the
///   verifier answers 503 (fail closed). The only way to accept tokens
///   during an outage is [`RedisRevocationBuilder::danger_fail_open`], which
///   logs a warning at every outage (`tracing`).
///
/// Cheap to clone: clones share the connection and the local cache.
///
/// ```no_run
/// use tower_jwt_auth::revocation::{RedisRevocation, RedisStore};
///
/// # async fn run() -> Result<(), tower_jwt_auth::revocation::RevocationError> {
/// let store = RedisStore::open("redis://127.0.0.1:6379")?;
/// let revocation = RedisRevocation::builder(store)
///     .local_cache(std::time::Duration::from_secs(1))
///     .build();
/// # let _ = revocation; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRevocation {
    inner: Arc<RedisInner>,
}

struct RedisInner {
    store: RedisStore,
    local_ttl: Duration,
    local: Mutex<LocalCache>,
    clock: Arc<dyn Clock>,
    grace: u64,
    fail_open: bool,
    degraded: AtomicBool,
}

impl fmt::Debug for RedisRevocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocation")
            .field("store", &self.inner.store)
            .field("local_cache", &self.inner.local_ttl)
            .field("grace_secs", &self.inner.grace)
            .field("fail_open", &self.inner.fail_open)
            .finish()
    }
}

/// Configures a [`RedisRevocation`].
pub struct RedisRevocationBuilder {
    store: RedisStore,
    local_ttl: Duration,
    clock: Arc<dyn Clock>,
    grace: u64,
    fail_open: bool,
}

impl fmt::Debug for RedisRevocationBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocationBuilder")
            .field("store", &self.store)
            .field("local_cache", &self.local_ttl)
            .field("grace_secs", &self.grace)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

impl RedisRevocationBuilder {
    /// How long this process trusts an answer from Redis (default 1 s;
    /// `Duration::ZERO` asks Redis on every check).
    ///
    /// This is the staleness
    /// bound for revocations made by other instances.
    #[must_use]
    pub fn local_cache(mut self, ttl: Duration) -> Self {
        self.local_ttl = ttl;
        self
    }

    /// Keeps entries `grace` past the `expires_at` they were given (default
    /// 5 minutes; keep it at least the verifier's leeway).
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace.as_secs();
        self
    }

    /// The clock that turns `expires_at` into a TTL (default: the system
    /// clock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// DANGER: while Redis is unreachable, treat every token as not revoked
    /// (accept revoked tokens) instead of failing with 503.
    ///
    /// Each outage is
    /// logged as a `tracing` warning. Revoking still fails during an outage.
    #[must_use]
    pub fn danger_fail_open(mut self) -> Self {
        self.fail_open = true;
        self
    }

    /// The revocation list.
    #[must_use]
    pub fn build(self) -> RedisRevocation {
        if self.fail_open {
            tracing::warn!(
                "redis revocation list configured to FAIL OPEN: revoked tokens are accepted while redis is unreachable"
            );
        }
        RedisRevocation {
            inner: Arc::new(RedisInner {
                store: self.store,
                local_ttl: self.local_ttl,
                local: Mutex::new(LocalCache::default()),
                clock: self.clock,
                grace: self.grace,
                fail_open: self.fail_open,
                degraded: AtomicBool::new(false),
            }),
        }
    }
}

impl RedisRevocation {
    /// A builder on `store` (local cache 1 s, fail closed).
    #[must_use]
    pub fn builder(store: RedisStore) -> RedisRevocationBuilder {
        RedisRevocationBuilder {
            store,
            local_ttl: DEFAULT_LOCAL_CACHE,
            clock: Arc::new(SystemClock),
            grace: super::DEFAULT_GRACE_SECS,
            fail_open: false,
        }
    }

    /// The store underneath, to share its connection.
    #[must_use]
    pub fn store(&self) -> &RedisStore {
        &self.inner.store
    }

    fn local(&self) -> std::sync::MutexGuard<'_, LocalCache> {
        // The maps are only ever inserted into, removed from or cleared: a
        // poisoned lock still holds a consistent cache.
        self.inner.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation a lookup starts at (see [`LocalCache`]).
    fn generation(&self) -> u64 {
        self.local().generation
    }

    /// Makes room for one more entry: drops expired answers, and all of
    /// them if that is not enough (dropping answers is always safe: they
    /// are asked again).
    fn make_room(&self, local: &mut LocalCache, now: Instant) {
        if local.len() < LOCAL_CACHE_MAX_ENTRIES {
            return;
        }
        let ttl = self.inner.local_ttl;
        for map in &mut local.maps {
            map.retain(|_, e| now.duration_since(e.at) < ttl);
        }
        if local.len() >= LOCAL_CACHE_MAX_ENTRIES {
            local.maps.iter_mut().for_each(HashMap::clear);
        }
        local.evicted_at = local.generation;
    }

    /// Remembers Redis's answer for one field (`kind` in [`keys_of`] order)
    /// from a lookup that started at generation `started`; returns the
    /// answer to use, which is more revoked than Redis's when this
    /// instance revoked the field after the lookup started.
    fn remember(&self, kind: usize, field: &str, value: Option<u64>, started: u64) -> Option<u64> {
        if self.inner.local_ttl.is_zero() {
            return value;
        }
        let now = Instant::now();
        let mut local = self.local();
        let generation = local.generation;
        let value = match local.maps[kind].get(field) {
            // This instance revoked it after the lookup started: the
            // older answer may predate the revocation.
            Some(e) if e.generation > started => more_revoked(e.value, value),
            _ => value,
        };
        if started < local.evicted_at {
            // A revocation mark this lookup could predate may have been
            // evicted: do not remember an answer that could undo it.
            return value;
        }
        self.make_room(&mut local, now);
        local.maps[kind].insert(
            field.to_owned(),
            Entry {
                value,
                at: now,
                generation,
            },
        );
        value
    }

    /// Marks a field revoked by this instance (after Redis recorded it):
    /// `value` merged with what the cache holds, at a new generation, so
    /// that no lookup already in flight can write an older answer over it.
    fn mark_revoked(&self, kind: usize, field: &str, value: u64) {
        let now = Instant::now();
        let mut local = self.local();
        local.generation += 1;
        let generation = local.generation;
        if self.inner.local_ttl.is_zero() {
            return;
        }
        self.make_room(&mut local, now);
        let old = local.maps[kind].get(field).and_then(|e| e.value);
        local.maps[kind].insert(
            field.to_owned(),
            Entry {
                value: more_revoked(old, Some(value)),
                at: now,
                generation,
            },
        );
    }

    fn ttl(&self, expires_at: u64) -> Duration {
        let until = expires_at.saturating_add(self.inner.grace);
        Duration::from_secs(until.saturating_sub(self.inner.clock.now()))
    }

    fn outage(&self, e: RevocationError) -> Result<bool, RevocationError> {
        if self.inner.fail_open {
            if !self.inner.degraded.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "redis revocation list unreachable: FAILING OPEN, revoked tokens are accepted");
            }
            return Ok(false);
        }
        Err(e)
    }

    fn recovered(&self) {
        if self.inner.degraded.swap(false, Ordering::Relaxed) {
            tracing::warn!("redis revocation list reachable again");
        }
    }
}

impl Revocation for RedisRevocation {
    fn is_revoked<'a>(
        &'a self,
        token: &'a TokenRef<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let keys = keys_of(token);
            let started = self.generation();
            let wanted: Vec<&str> = keys.iter().flatten().map(String::as_str).collect();
            let values = match self.inner.store.get_many(&wanted).await {
                Ok(v) => v,
                Err(e) => return self.outage(e),
            };
            self.recovered();
            let mut values = values.into_iter();
            let mut found = [None; 3];
            for (kind, field) in fields(token).into_iter().enumerate() {
                if let Some(field) = field {
                    let v = values.next().flatten();
                    found[kind] = self.remember(kind, field, v, started);
                }
            }
            Ok(verdict(token, found))
        })
    }

    fn is_revoked_now(&self, token: &TokenRef<'_>) -> Option<Result<bool, RevocationError>> {
        if self.inner.local_ttl.is_zero() {
            return None;
        }
        let ttl = self.inner.local_ttl;
        let local = self.local();
        let mut found = [None; 3];
        for (kind, field) in fields(token).into_iter().enumerate() {
            if let Some(field) = field {
                let e = local.maps[kind].get(field)?;
                if e.at.elapsed() >= ttl {
                    return None;
                }
                found[kind] = e.value;
            }
        }
        Some(Ok(verdict(token, found)))
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let key = format!("jti:{jti}");
            let ttl = self.ttl(expires_at);
            let fresh = self.inner.store.insert_if_absent(&key, ttl).await?;
            self.mark_revoked(0, jti, 0);
            Ok(fresh)
        })
    }

    fn spend_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let key = format!("refresh:{}", spend.sid);
            let ttl = self.ttl(spend.expires_at);
            self.inner.store.spend_refresh(&key, spend, ttl).await
        })
    }

    fn confirm_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let key = format!("refresh:{}", spend.sid);
            self.inner.store.confirm_refresh(&key, spend).await
        })
    }

    fn revoke_family<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            let key = format!("sid:{sid}");
            let ttl = self.ttl(expires_at);
            self.inner.store.insert_if_absent(&key, ttl).await?;
            self.mark_revoked(1, sid, 0);
            Ok(())
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: u64,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            let key = format!("sub:{sub}");
            let ttl = self.ttl(expires_at);
            self.inner.store.set_max(&key, issued_before, ttl).await?;
            // Redis may hold a later cut-off (another instance's): ours is
            // a lower bound, and later ones are seen within the local
            // cache's lifetime, like any other instance's revocation.
            self.mark_revoked(2, sub, issued_before);
            Ok(())
        })
    }
}
