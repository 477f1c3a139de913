//! What the crate reports about its work: one `tracing` span per
//! verification (feature `tracing`) and metrics through the [`metrics`]
//! facade (feature `metrics`). Without those features every function here is
//! an empty inline stub.
//!
//! Nothing recorded here ever holds a token, a secret or key material: the
//! span carries the header's `alg` and `kid` (truncated), the verified `iss`
//! (truncated) and the outcome kind; metric labels are fixed strings.
//!
//! # Tracing
//! - span `jwt_verify` (DEBUG) around each verification, with fields `alg`,
//!   `kid`, `iss` (recorded once known) and `outcome` (`accepted`,
//!   `pending` while an asynchronous check runs, or the rejection kind);
//! - one event per rejected request: DEBUG, or WARN when the server side
//!   failed (keys or revocation list unavailable: 503).
//!
//! # Metrics
//! | name | type | labels |
//! |---|---|---|
//! | `tower_jwt_auth_requests_total` | counter | `outcome` = `accepted` / `anonymous` / `rejected`; `reason` = the rejection kind in snake case (`expired`, `invalid_signature`, ...) |
//! | `tower_jwt_auth_verification_seconds` | histogram | — (time of one verification, signature and claims checks included) |
//! | `tower_jwt_auth_cache_total` | counter | `result` = `hit` / `miss` (verified-token cache) |
//! | `tower_jwt_auth_key_fetches_total` | counter | `result` = `ok` / `error` (remote key set fetches) |
//! | `tower_jwt_auth_introspections_total` | counter | `result` = `active` / `inactive` / `error` (RFC 7662 introspection requests; cache hits are counted in `tower_jwt_auth_cache_total`) |
//!
//! [`metrics`]: https://docs.rs/metrics

#[cfg(feature = "metrics")]
use std::time::Instant;

use jsonwebtoken::Algorithm;

use crate::error::AuthError;

/// The name of the requests counter.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const REQUESTS: &str = "tower_jwt_auth_requests_total";
/// The name of the verification time histogram.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const VERIFICATION_SECONDS: &str = "tower_jwt_auth_verification_seconds";
/// The name of the token cache counter.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const CACHE: &str = "tower_jwt_auth_cache_total";
/// The name of the key fetch counter.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const KEY_FETCHES: &str = "tower_jwt_auth_key_fetches_total";

/// The name of the introspection request counter.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const INTROSPECTIONS: &str = "tower_jwt_auth_introspections_total";

/// Longest `kid` / `iss` recorded in a span: they come from the token, so
/// their size is the sender's choice.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
const MAX_FIELD: usize = 64;

/// One verification being observed: its span and its start time.
pub(crate) struct VerifySpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    #[cfg(feature = "metrics")]
    start: Instant,
}

impl VerifySpan {
    #[inline]
    pub(crate) fn start() -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!(
                "jwt_verify",
                alg = tracing::field::Empty,
                kid = tracing::field::Empty,
                iss = tracing::field::Empty,
                outcome = tracing::field::Empty,
            ),
            #[cfg(feature = "metrics")]
            start: Instant::now(),
        }
    }

    /// Runs `f` inside the span, so that [`header`] and [`issuer`] record
    /// into it.
    #[inline]
    pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        #[cfg(feature = "tracing")]
        {
            self.span.in_scope(f)
        }
        #[cfg(not(feature = "tracing"))]
        {
            f()
        }
    }

    /// Records the outcome (`pending`: an asynchronous check follows) and
    /// the time taken.
    #[inline]
    pub(crate) fn finish(self, outcome: Result<bool, &AuthError>) {
        #[cfg(feature = "tracing")]
        match outcome {
            Ok(true) => {
                self.span.record("outcome", "accepted");
            }
            Ok(false) => {
                self.span.record("outcome", "pending");
            }
            Err(e) => {
                self.span.record("outcome", tracing::field::debug(e.kind()));
            }
        }
        #[cfg(feature = "metrics")]
        metrics::histogram!(VERIFICATION_SECONDS).record(self.start.elapsed().as_secs_f64());
        let _ = outcome;
    }
}

/// The first `MAX_FIELD` bytes of `s`, cut at a character boundary.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
fn truncated(s: &str) -> &str {
    if s.len() <= MAX_FIELD {
        return s;
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Records the header's `alg` and `kid` into the current verification span.
#[inline]
pub(crate) fn header(alg: Algorithm, kid: Option<&str>) {
    #[cfg(feature = "tracing")]
    {
        let span = tracing::Span::current();
        if !span.is_disabled() {
            span.record("alg", tracing::field::debug(alg));
            if let Some(kid) = kid {
                span.record("kid", truncated(kid));
            }
        }
    }
    let _ = (alg, kid);
}

/// Records the verified `iss` into the current verification span.
#[inline]
pub(crate) fn issuer(iss: Option<&str>) {
    #[cfg(feature = "tracing")]
    if let Some(iss) = iss {
        let span = tracing::Span::current();
        if !span.is_disabled() {
            span.record("iss", truncated(iss));
        }
    }
    let _ = iss;
}

/// A request let through: `anonymous` when an optional route saw no
/// credentials.
#[inline]
pub(crate) fn accepted(with_claims: bool) {
    // Literal labels only: the macro then builds a static key, so an
    // accepted request (a cache hit) allocates nothing here.
    #[cfg(feature = "metrics")]
    if with_claims {
        metrics::counter!(REQUESTS, "outcome" => "accepted").increment(1);
    } else {
        metrics::counter!(REQUESTS, "outcome" => "anonymous").increment(1);
    }
    let _ = with_claims;
}

/// A request rejected: one event (WARN for a server-side failure, else
/// DEBUG) and the counter.
#[inline]
pub(crate) fn rejected(error: &AuthError) {
    #[cfg(feature = "tracing")]
    {
        let kind = error.kind();
        let claim = error.claim_name().unwrap_or("");
        if kind.status() == http::StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(
                ?kind,
                claim,
                "jwt authentication unavailable: request refused"
            );
        } else {
            tracing::debug!(?kind, claim, "jwt authentication rejected the request");
        }
    }
    #[cfg(feature = "metrics")]
    metrics::counter!(REQUESTS, "outcome" => "rejected", "reason" => reason(error)).increment(1);
    let _ = error;
}

/// A verified-token cache lookup.
#[inline]
pub(crate) fn cache_lookup(hit: bool) {
    // Literal labels only: the key is then static, and a cache hit
    // allocates nothing (tests/cache_alloc.rs).
    #[cfg(feature = "metrics")]
    if hit {
        metrics::counter!(CACHE, "result" => "hit").increment(1);
    } else {
        metrics::counter!(CACHE, "result" => "miss").increment(1);
    }
    let _ = hit;
}

/// A fetch of a remote key set, counted (the remote source logs the details).
#[inline]
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
pub(crate) fn key_fetch(ok: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(KEY_FETCHES, "result" => if ok { "ok" } else { "error" }).increment(1);
    let _ = ok;
}

/// An introspection request, counted: `Some(active)`, or `None` when the
/// endpoint could not answer (the introspector logs the details).
#[inline]
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
pub(crate) fn introspection(answer: Option<bool>) {
    #[cfg(feature = "metrics")]
    metrics::counter!(INTROSPECTIONS, "result" => match answer {
        Some(true) => "active",
        Some(false) => "inactive",
        None => "error",
    })
    .increment(1);
    let _ = answer;
}

/// The rejection kind in snake case (`InvalidSignature` → `invalid_signature`).
#[cfg(feature = "metrics")]
fn reason(error: &AuthError) -> String {
    let debug = format!("{:?}", error.kind());
    let mut out = String::with_capacity(debug.len() + 4);
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_char_boundaries() {
        assert_eq!(truncated("kid-1"), "kid-1");
        let long = "é".repeat(40); // 80 bytes
        let t = truncated(&long);
        assert!(t.len() <= MAX_FIELD && t.len() >= MAX_FIELD - 1);
        assert!(long.starts_with(t));
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn reasons_are_snake_case() {
        use crate::AuthErrorKind;
        assert_eq!(reason(&AuthErrorKind::Expired.into()), "expired");
        assert_eq!(
            reason(&AuthErrorKind::InvalidSignature.into()),
            "invalid_signature"
        );
        assert_eq!(
            reason(&AuthErrorKind::KeySourceUnavailable.into()),
            "key_source_unavailable"
        );
    }
}
