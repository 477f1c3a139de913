//! Time, in whole seconds since the Unix epoch: the [`Clock`] every claim
//! rule, cache, revocation list, replay store and token issuer reads, so
//! that tests move time without sleeping ([`FixedClock`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Source of the current time, in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that stands still until moved: for tests.
///
/// Share it with an `Arc` to move time under a running authenticator:
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use tower_jwt_auth::{clock::Clock, clock::FixedClock};
///
/// let clock = Arc::new(FixedClock::new(1_800_000_000));
/// // Authenticator::builder().clock(clock.clone()) ...
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now(), 1_800_003_600);
/// ```
#[derive(Debug, Default)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    /// A clock showing `now` (seconds since the epoch).
    #[must_use]
    pub fn new(now: u64) -> Self {
        Self(AtomicU64::new(now))
    }

    /// A clock showing the current system time, standing still from then on.
    #[must_use]
    pub fn at_system_time() -> Self {
        Self::new(SystemClock.now())
    }

    /// Sets the time.
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::Relaxed);
    }

    /// Moves the time forward by `by` (whole seconds; saturating).
    pub fn advance(&self, by: Duration) {
        let secs = by.as_secs();
        // fetch_update never fails when the closure always returns Some.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(secs))
            });
    }

    /// Moves the time back by `by` (whole seconds; saturating at the epoch).
    pub fn rewind(&self, by: Duration) {
        let secs = by.as_secs();
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_sub(secs))
            });
    }
}

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl<T: Clock + ?Sized> Clock for Arc<T> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn fixed_clock_steps_forward_and_back() {
        let c = FixedClock::new(NOW);
        c.advance(Duration::from_secs(90));
        assert_eq!(c.now(), NOW + 90);
        c.rewind(Duration::from_millis(30_999));
        assert_eq!(c.now(), NOW + 60, "whole seconds");
        c.rewind(Duration::from_secs(u64::MAX));
        assert_eq!(c.now(), 0);
        c.set(u64::MAX - 1);
        c.advance(Duration::from_secs(5));
        assert_eq!(c.now(), u64::MAX);
        let system = FixedClock::at_system_time().now();
        assert!(system.abs_diff(SystemClock.now()) <= 1);
    }
}
