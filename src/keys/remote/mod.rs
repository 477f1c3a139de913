//! Keys from an identity provider (feature `remote`): a JWK Set URL, or

mod fetch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures_util::future::{BoxFuture, FutureExt as _, Shared};
use serde_json::{Map, Value};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::jwk::parse_remote_jwks;
use super::{Key, KeySet, RefetchWait, ReloadingKeys};
use crate::clock::Clock;
use crate::error::{FetchError, FetchErrorKind};

#[cfg(fuzzing)]
pub(crate) use fetch::read_discovery;
pub(crate) use fetch::{parse_url, Source};

use fetch::{Fetched, Fetcher};

/// The bounds of a refresh interval taken from `Cache-Control: max-age`.
const MIN_MAX_AGE: Duration = Duration::from_secs(60);
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Keys from an identity provider (feature `remote`): a JWK Set URL, or
/// OIDC discovery, fetched at start and kept fresh.
///
/// - **Fetching**: under the transport of
///   [`HttpClientOptions`](crate::remote::HttpClientOptions), set once for
///   every fetch with
///   [`AuthenticatorBuilder::http_client`](crate::AuthenticatorBuilder::http_client):
///   rustls and the webpki roots (public identity providers work out of the
///   box; a private CA, a client certificate, a proxy or an own client
///   there), a connect timeout (5 s), a total timeout (10 s), a body limit
///   (1 MiB) enforced while reading, at most 5 redirects, HTTPS required
///   except to loopback (or with the loudly named
///   [`HttpClientOptions::danger_allow_http`](crate::remote::HttpClientOptions::danger_allow_http)),
///   on redirects too.
/// - **Holding**: the current keys sit in an [`arc_swap::ArcSwap`]: a request
///   loads them without a lock and never waits for a refresh. The key policy
///   of local keys applies to each key; a key it refuses is skipped with a
///   warning and the others keep serving; `oct` keys are never taken from a
///   remote set (a published secret is no secret); keys sharing a `kid` are
///   all skipped.
/// - **Refreshing**: the first fetch happens in
///   [`build_async`](crate::AuthenticatorBuilder::build_async) (its error
///   names the URL; with [`RemoteOptions::start_without_keys`] it starts
///   anyway and answers 503 until keys arrive). A background task refreshes
///   every 10 min, or as the response's `Cache-Control: max-age` says
///   (clamped to 1 min ..= 24 h); after a failure it retries sooner (from the
///   cooldown, doubling up to the interval). A token whose `kid` is unknown
///   triggers one refetch that every concurrent request shares (single
///   flight), at most one per cooldown (30 s): a flood of random kids costs
///   at most one fetch per cooldown. Only such a request waits, and at most
///   the fetch timeout. A set with no usable key (`{"keys": []}`), once
///   keys were fetched, is the provider's answer and is followed: its
///   former keys stop verifying (401, unknown key) until it publishes keys
///   again; at the first fetch it is an error (`NoUsableKeys`). A failing
///   refresh changes nothing: the last good keys
///   keep verifying for up to the maximum stale age (24 h); after that their
///   tokens get 503 (never an accept) and a warning is logged. The task ends
///   when the last clone of the authenticator is dropped.
/// - **Events** (`tracing`): fetches, rotations (kids added and removed),
///   skipped keys and failures, with the URL, status and key counts; never
///   key material.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_jwt_auth::{Authenticator, remote::RemoteOptions};
///
/// # async fn run() -> Result<(), tower_jwt_auth::ConfigError> {
/// let auth = Authenticator::builder()
///     .oidc_issuer("https://idp.example/realms/main") // iss pinned to it
///     .audience(["api"])
///     .remote_options(RemoteOptions::new().refresh_interval(Duration::from_secs(300)))
///     .build_async()
///     .await?;
/// # let _ = auth; Ok(()) }
/// ```
///
/// How a remote key source refreshes (its transport is
/// [`HttpClientOptions`](crate::remote::HttpClientOptions)'s). The defaults
/// suit a public identity provider; every value is documented with its
/// default.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    pub(crate) refresh_interval: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) start_without_keys: bool,
    pub(crate) honor_cache_control: bool,
    /// The builder's transport ([`AuthenticatorBuilder::http_client`](crate::AuthenticatorBuilder::http_client)),
    /// shared by every fetch of the authenticator; kept here so that
    /// every remote source carries it.
    pub(crate) http: crate::http_client::HttpClientOptions,
    /// The source is a SPIFFE trust bundle: its `jwt-svid` keys verify.
    pub(crate) spiffe_bundle: bool,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(600),
            cooldown: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            start_without_keys: false,
            honor_cache_control: true,
            http: crate::http_client::HttpClientOptions::default(),
            spiffe_bundle: false,
        }
    }
}

impl RemoteOptions {
    /// The defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Background refresh interval (default 10 min), used when the response
    /// has no `Cache-Control: max-age`.
    #[must_use]
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Whether a response's `Cache-Control: max-age` (clamped to
    /// 1 min ..= 24 h) sets the next refresh (default true).
    #[must_use]
    pub fn honor_cache_control(mut self, honor: bool) -> Self {
        self.honor_cache_control = honor;
        self
    }

    /// The least time between two refetches triggered by unknown `kid`s
    /// (default 30 s).
    #[must_use]
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// How long the last good keys keep verifying while refreshes fail
    /// (default 24 h); after that their tokens get 503.
    #[must_use]
    pub fn max_stale_age(mut self, age: Duration) -> Self {
        self.max_stale = age;
        self
    }

    /// When the first fetch fails, build anyway: requests get 503 until a
    /// fetch succeeds (default false: `build_async` returns the error).
    ///
    /// A misconfiguration (an insecure URL, a discovery `issuer` that
    /// differs) still fails the build.
    #[must_use]
    pub fn start_without_keys(mut self, start: bool) -> Self {
        self.start_without_keys = start;
        self
    }
}

/// What a fetch task reports to those waiting on it.
#[derive(Debug, Clone, Copy)]
struct FetchOutcome {
    ok: bool,
    max_age: Option<Duration>,
}

const FAILED: FetchOutcome = FetchOutcome {
    ok: false,
    max_age: None,
};

type SharedFetch = Shared<BoxFuture<'static, FetchOutcome>>;

#[derive(Default)]
struct Flight {
    /// The fetch in progress and its number.
    running: Option<(u64, SharedFetch)>,
    started: u64,
    /// When the last refetch for an unknown `kid` started.
    last_on_demand: Option<Instant>,
}

/// A remote key source and its current keys (local keys included).
pub(crate) struct RemoteKeys {
    current: ArcSwap<KeySet>,
    /// The local keys, published with the remote ones; replaced when key
    /// files or a key handle change them ([`set_local`](Self::set_local)).
    local: Mutex<KeySet>,
    /// Where changing local keys come from, kept alive with the source.
    local_source: std::sync::OnceLock<Arc<ReloadingKeys>>,
    /// Clock time of the last successful fetch; 0: never.
    last_success: AtomicU64,
    clock: Arc<dyn Clock>,
    options: RemoteOptions,
    fetcher: Arc<Fetcher>,
    /// With OIDC discovery, the issuer the remote keys are bound to.
    bind_issuer: Option<String>,
    flight: Mutex<Flight>,
    /// The JWKs of the last good fetch and their keys, so that an unchanged
    /// key keeps its `KeyId` across refreshes.
    previous: Mutex<Vec<(Map<String, Value>, Key)>>,
    runtime: Handle,
    /// Dropped with the last clone of the authenticator: ends the
    /// background refresh.
    _stop: oneshot::Sender<()>,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("url", &self.fetcher.source.display_url())
            .field("keys", &**self.current.load())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RemoteKeys {
    /// Makes the source, fetches once, and starts the background refresh.
    ///
    /// # Errors
    /// The first fetch's error (unless `start_without_keys`), a
    /// configuration error of the source, or no tokio runtime.
    pub(crate) async fn start(
        local: KeySet,
        source: Source,
        bind_issuer: Option<String>,
        options: RemoteOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, FetchError> {
        let runtime = Handle::try_current()
            .map_err(|_| FetchError::new(source.display_url(), FetchErrorKind::NoRuntime))?;
        let fetcher = Arc::new(Fetcher::new(source, &options)?);
        let (stop, stopped) = oneshot::channel();
        let this = Arc::new(Self {
            current: ArcSwap::from_pointee(local.clone()),
            local: Mutex::new(local),
            local_source: std::sync::OnceLock::new(),
            last_success: AtomicU64::new(0),
            clock,
            options,
            fetcher,
            bind_issuer,
            flight: Mutex::new(Flight::default()),
            previous: Mutex::new(Vec::new()),
            runtime,
            _stop: stop,
        });
        let first = this.fetcher.fetch().await;
        let next = match first {
            Ok(fetched) => match this.apply(fetched) {
                Ok(outcome) => this.next_delay(outcome, &mut 0),
                Err(e) if this.options.start_without_keys => {
                    this.warn_start(&e);
                    this.options.cooldown
                }
                Err(e) => return Err(e),
            },
            // A misconfiguration is never "start anyway".
            Err(e) if this.options.start_without_keys && !is_config_error(&e) => {
                this.warn_start(&e);
                this.options.cooldown
            }
            Err(e) => return Err(e),
        };
        this.runtime
            .spawn(refresh_loop(Arc::downgrade(&this), stopped, next));
        Ok(this)
    }

    /// Takes its local keys from `source` (key files, a key handle) from
    /// now on: every set `source` publishes replaces the local keys.
    pub(crate) fn follow_local(self: &Arc<Self>, source: Arc<ReloadingKeys>) {
        // The current set at once: a change published while the first
        // fetch ran is not lost.
        source.publish_to(self);
        let _ = self.local_source.set(source);
    }

    /// Replaces the local keys, the remote keys of the last good fetch
    /// kept (a remote key whose `kid` a local key now has is skipped, as
    /// at a fetch).
    pub(crate) fn set_local(&self, local: KeySet) {
        // The order of `apply`: `previous`, then `local`.
        let Ok(previous) = self.previous.lock() else {
            return;
        };
        let mut set = local.clone();
        for (_, key) in previous.iter() {
            if set.push(key.clone()).is_err() {
                tracing::warn!(
                    url = %self.fetcher.source.display_url(),
                    kid = key.kid().unwrap_or(""),
                    "remote key skipped: a local key has the same kid"
                );
            }
        }
        if let Ok(mut old) = self.local.lock() {
            *old = local;
        }
        self.current.store(Arc::new(set));
    }

    fn warn_start(&self, e: &FetchError) {
        tracing::warn!(
            error = %e,
            "remote keys unavailable at start: answering 503 until a fetch succeeds"
        );
    }

    /// The current keys.
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.current.load()
    }

    /// Whether the remote keys may not be used: never fetched, or the last
    /// good fetch is older than the maximum stale age.
    pub(crate) fn stale(&self) -> bool {
        let last = self.last_success.load(Ordering::Acquire);
        last == 0 || self.clock.now().saturating_sub(last) > self.options.max_stale.as_secs()
    }

    /// See [`KeyStore::refetch`](super::KeyStore::refetch).
    pub(crate) fn refetch(self: &Arc<Self>) -> Option<RefetchWait> {
        let mut flight = self.flight.lock().ok()?;
        let fetch = match &flight.running {
            Some((_, running)) => running.clone(),
            None => {
                let now = Instant::now();
                if flight
                    .last_on_demand
                    .is_some_and(|t| now.duration_since(t) < self.options.cooldown)
                {
                    return None;
                }
                flight.last_on_demand = Some(now);
                tracing::debug!(
                    url = %self.fetcher.source.display_url(),
                    "unknown kid: refetching the jwk set"
                );
                self.start_fetch(&mut flight)
            }
        };
        Some(Box::pin(fetch.map(|_| ())))
    }

    /// Starts a fetch task (the caller checked that none is running). The
    /// task holds no strong reference: dropping the authenticator is never
    /// delayed by a fetch. It is bounded by the total timeout.
    fn start_fetch(self: &Arc<Self>, flight: &mut Flight) -> SharedFetch {
        flight.started += 1;
        let number = flight.started;
        let weak = Arc::downgrade(self);
        let fetcher = Arc::clone(&self.fetcher);
        let limit = self.options.http.timeout;
        let url = fetcher.source.display_url();
        let task = self.runtime.spawn(async move {
            let result = match tokio::time::timeout(limit, fetcher.fetch()).await {
                Ok(result) => result,
                Err(_) => Err(FetchError::new(url, FetchErrorKind::Timeout)),
            };
            let Some(this) = weak.upgrade() else {
                return FAILED;
            };
            let outcome = match result.and_then(|fetched| this.apply(fetched)) {
                Ok(outcome) => outcome,
                Err(e) => {
                    this.failed(&e);
                    FAILED
                }
            };
            if let Ok(mut flight) = this.flight.lock() {
                if flight.running.as_ref().is_some_and(|(n, _)| *n == number) {
                    flight.running = None;
                }
            }
            outcome
        });
        let shared = task.map(|r| r.unwrap_or(FAILED)).boxed().shared();
        flight.running = Some((number, shared.clone()));
        shared
    }

    /// Publishes a fetched set, or says why it cannot be used.
    fn apply(&self, fetched: Fetched) -> Result<FetchOutcome, FetchError> {
        let url = crate::http_client::Shown(fetched.url.as_str()).to_string();
        let usage = if self.options.spiffe_bundle {
            super::Usage::JwtSvid
        } else {
            super::Usage::Sig
        };
        let parsed = parse_remote_jwks(&fetched.body, usage)
            .map_err(|_| FetchError::new(&url, FetchErrorKind::InvalidDocument))?;
        for s in &parsed.skipped {
            let kid = s.kid.as_deref().unwrap_or("");
            if s.expected {
                tracing::debug!(%url, index = s.index, kid, reason = %s.reason, "jwk skipped");
            } else {
                tracing::warn!(%url, index = s.index, kid, reason = %s.reason, "unusable jwk skipped; the other keys keep serving");
            }
        }
        // A set with no usable key is the provider's answer that it signs
        // with none of the keys we hold (a withdrawn, perhaps compromised,
        // key): once keys were fetched, it is followed like any rotation
        // and their tokens get 401 (unknown key), not kept until the
        // maximum stale age. Before any good fetch it is an error (a wrong
        // URL or realm fails the build; with `start_without_keys`, 503
        // until keys arrive). Issue 17, finding 9.
        if parsed.keys.is_empty() && self.last_success.load(Ordering::Acquire) == 0 {
            return Err(FetchError::new(&url, FetchErrorKind::NoUsableKeys));
        }
        let mut previous = self
            .previous
            .lock()
            .map_err(|_| FetchError::new(&url, FetchErrorKind::Transport))?;
        let mut set = self
            .local
            .lock()
            .map_err(|_| FetchError::new(&url, FetchErrorKind::Transport))?
            .clone();
        let mut kept = Vec::with_capacity(parsed.keys.len());
        for (jwk, key) in parsed.keys {
            let key = match previous.iter().find(|(old, _)| *old == jwk) {
                // Unchanged: the same key, the same KeyId.
                Some((_, old)) => old.clone(),
                None => {
                    let mut key = key;
                    key.remote = true;
                    key.issuer.clone_from(&self.bind_issuer);
                    key
                }
            };
            match set.push(key.clone()) {
                Ok(()) => kept.push((jwk, key)),
                Err(_) => tracing::warn!(
                    %url,
                    kid = key.kid().unwrap_or(""),
                    "remote key skipped: a local key has the same kid"
                ),
            }
        }
        let old = self.current.load();
        let kids = |s: &KeySet| -> Vec<String> {
            s.iter()
                .filter(|k| k.remote)
                .map(|k| k.kid().unwrap_or("").to_owned())
                .collect()
        };
        let (old_kids, new_kids) = (kids(&old), kids(&set));
        let added: Vec<&String> = new_kids.iter().filter(|k| !old_kids.contains(k)).collect();
        let removed: Vec<&String> = old_kids.iter().filter(|k| !new_kids.contains(k)).collect();
        let count = kept.len();
        self.current.store(Arc::new(set));
        self.last_success
            .store(self.clock.now().max(1), Ordering::Release);
        *previous = kept;
        if count == 0 {
            tracing::warn!(
                %url,
                ?removed,
                "the jwk set holds no usable key: the provider's keys are withdrawn, their tokens are refused until it publishes keys"
            );
        } else if added.is_empty() && removed.is_empty() {
            tracing::debug!(%url, keys = count, "jwk set fetched, unchanged");
        } else {
            tracing::info!(%url, keys = count, ?added, ?removed, "jwk set rotated");
        }
        Ok(FetchOutcome {
            ok: true,
            max_age: fetched.max_age,
        })
    }

    fn failed(&self, e: &FetchError) {
        let last = self.last_success.load(Ordering::Acquire);
        if last == 0 {
            tracing::warn!(error = %e, "jwk set fetch failed; no keys yet: answering 503");
        } else if self.stale() {
            tracing::warn!(
                error = %e,
                max_stale_secs = self.options.max_stale.as_secs(),
                "jwk set fetch failed and the last good keys are past the maximum stale age: answering 503"
            );
        } else {
            tracing::warn!(error = %e, "jwk set fetch failed; the last good keys keep serving");
        }
    }

    /// When to refresh next: as `Cache-Control: max-age` says (clamped) or
    /// the interval; after failures, from the cooldown doubling up to the
    /// interval.
    fn next_delay(&self, outcome: FetchOutcome, failures: &mut u32) -> Duration {
        let interval = self.options.refresh_interval;
        if outcome.ok {
            *failures = 0;
            match outcome.max_age {
                Some(age) if self.options.honor_cache_control => {
                    age.clamp(MIN_MAX_AGE, MAX_MAX_AGE)
                }
                _ => interval,
            }
        } else {
            *failures = failures.saturating_add(1);
            let backoff = self
                .options
                .cooldown
                .saturating_mul(1 << (*failures - 1).min(16));
            backoff.min(interval)
        }
    }
}

/// Errors that a retry cannot fix: the build fails even with
/// `start_without_keys`.
fn is_config_error(e: &FetchError) -> bool {
    matches!(
        e.kind(),
        FetchErrorKind::InvalidUrl
            | FetchErrorKind::InsecureUrl
            | FetchErrorKind::IssuerMismatch
            | FetchErrorKind::MissingJwksUri
            | FetchErrorKind::NoRuntime
            | FetchErrorKind::ClientConfig
    )
}

/// The background refresh. It holds the source only weakly, and ends as
/// soon as the last clone of the authenticator is dropped (`stop`).
async fn refresh_loop(weak: Weak<RemoteKeys>, mut stop: oneshot::Receiver<()>, first: Duration) {
    let mut delay = first;
    let mut failures = 0;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(delay) => {}
        }
        let fetch = {
            let Some(this) = weak.upgrade() else { return };
            let Ok(mut flight) = this.flight.lock() else {
                return;
            };
            match &flight.running {
                Some((_, running)) => running.clone(),
                None => this.start_fetch(&mut flight),
            }
        };
        let outcome = tokio::select! {
            _ = &mut stop => return,
            outcome = fetch => outcome,
        };
        let Some(this) = weak.upgrade() else { return };
        delay = this.next_delay(outcome, &mut failures);
        tracing::debug!(next_refresh_secs = delay.as_secs(), "jwk set refresh done");
    }
}
