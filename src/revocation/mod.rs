//! Revocation: a blacklist of tokens that must stop working before their
//! `exp` (logout, a compromised token, refresh token reuse).
//!
//! A [`Revocation`] store answers one question for a verified token: was it
//! revoked? Three kinds of entries make a token revoked:
//! - its `jti` ([`Revocation::revoke_token`]): one token;
//! - its `sid` ([`Revocation::revoke_family`]): every token of one login
//!   session, the "family" that refresh rotation descends from one login
//!   (the `sid` claim of OpenID Connect);
//! - its `sub` with an `iat` before a cut-off ([`Revocation::revoke_subject`]):
//!   "log out everywhere".
//!
//! Every entry expires (at the token's `exp` plus a grace that covers the
//! verifier's leeway), so memory stays bounded by the tokens revoked within
//! one token lifetime. Two stores come with the crate:
//! [`MemoryRevocation`] (one process) and, behind the feature `redis`,
//! `RedisRevocation` (a fleet of instances sharing one list).
//!
//! The verifier checks revocation after the signature and the claims, on
//! every request. A store that cannot answer (Redis unreachable) makes the
//! request fail with 503 ([`AuthErrorKind::RevocationUnavailable`]), never
//! an accept, unless it was explicitly built to fail open.
//!
//! ```
//! use std::sync::Arc;
//! use tower_jwt_auth::revocation::{MemoryRevocation, Revocation, TokenRef};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_jwt_auth::revocation::RevocationError> {
//! let store = MemoryRevocation::new();
//! let far = 4_000_000_000; // exp of the token
//! store.revoke_token("the-jti", far).await?;
//! let token = TokenRef { jti: Some("the-jti"), ..TokenRef::default() };
//! assert!(store.is_revoked(&token).await?);
//! # Ok(()) }
//! ```
//!
//! [`AuthErrorKind::RevocationUnavailable`]: crate::AuthErrorKind::RevocationUnavailable

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

pub use self::memory::MemoryRevocation;
#[cfg(feature = "redis")]
pub use self::redis::{RedisRevocation, RedisRevocationBuilder, RedisStore, RedisStoreBuilder};

// An expiring set for other in-crate users (a DPoP proof replay cache).
#[allow(unused_imports)]
pub(crate) use self::memory::ExpiringMap;

/// A boxed future, as the object-safe [`Revocation`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a revocation check reads from a verified token: the claims that
/// revocation entries name. Built by the verifier from the claims set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenRef<'a> {
    /// The `jti` claim.
    pub jti: Option<&'a str>,
    /// The `sid` claim: the login session (refresh family) the token
    /// belongs to.
    pub sid: Option<&'a str>,
    /// The `sub` claim.
    pub sub: Option<&'a str>,
    /// The `iat` claim, in seconds since the epoch.
    pub iat: Option<u64>,
    /// The `exp` claim, in seconds since the epoch.
    pub exp: Option<u64>,
}

impl<'a> TokenRef<'a> {
    /// Reads `jti`, `sid`, `sub`, `iat` and `exp` from a claims set (members
    /// of another type count as absent).
    #[must_use]
    pub fn from_claims(claims: &'a Map<String, Value>) -> Self {
        let s = |name: &str| claims.get(name).and_then(Value::as_str);
        let n = |name: &str| claims.get(name).and_then(numeric_date);
        Self {
            jti: s("jti"),
            sid: s("sid"),
            sub: s("sub"),
            iat: n("iat"),
            exp: n("exp"),
        }
    }
}

fn numeric_date(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// One refresh exchange's spend of a refresh token.
///
/// What [`Revocation::spend_refresh`] and [`Revocation::confirm_refresh`]
/// take. Built by the [`TokenIssuer`](crate::issue::TokenIssuer); holds no
/// token, only its identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshSpend<'a> {
    /// The session (`sid`) the token belongs to.
    pub sid: &'a str,
    /// The token's generation in its session (its `refresh_gen`).
    pub generation: u64,
    /// The token's `jti`: only the same token can retry an exchange.
    pub jti: &'a str,
    /// A random number naming this exchange, which its confirmation
    /// repeats.
    pub attempt: u64,
    /// The time of the spend, in seconds since the epoch (the issuer's
    /// clock).
    pub now: u64,
    /// How long, in seconds from the first spend, an unconfirmed spend may
    /// be taken over by a retry of the same token (0: never).
    pub retry_grace: u64,
    /// The token's `exp`: the spend is remembered until then (plus the
    /// store's grace).
    pub expires_at: u64,
}

/// Why a revocation store could not answer or record.
#[non_exhaustive]
#[derive(Debug)]
pub enum RevocationError {
    /// The shared store (Redis) could not be reached or answered with an
    /// error. The message names the operation, never a token.
    Unavailable(String),
    /// The in-memory store holds its maximum number of live entries; a new
    /// revocation is refused rather than an older one dropped (dropping it
    /// would silently un-revoke a token).
    Full,
    /// The store could not be configured (a bad URL, no async runtime).
    Config(String),
}

impl fmt::Display for RevocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(what) => write!(f, "revocation store unavailable: {what}"),
            Self::Full => f.write_str("revocation store is full"),
            Self::Config(what) => write!(f, "revocation store misconfigured: {what}"),
        }
    }
}

impl std::error::Error for RevocationError {}

/// A revocation list, shared by the verifier (which asks) and the issuer,
/// the logout route or an admin tool (which revoke).
///
/// `expires_at` arguments are the Unix time (seconds) after which the
/// revoked tokens are dead anyway (their `exp`); stores keep an entry a
/// grace period longer, to cover the verifier's leeway.
///
/// Implementations must be cheap to call concurrently. The methods return
/// boxed futures so that the trait is object-safe (`Arc<dyn Revocation>`).
pub trait Revocation: Send + Sync + fmt::Debug + 'static {
    /// Whether `token` is revoked: by its `jti`, its `sid`, or its `sub`
    /// revoked for tokens issued before a cut-off (a token without `iat`
    /// then counts as revoked).
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when the store cannot answer.
    fn is_revoked<'a>(
        &'a self,
        token: &'a TokenRef<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>>;

    /// The same answer without waiting, when the store has it at hand (an
    /// in-memory store always; a shared store from its short local cache).
    ///
    /// `None` means "ask [`is_revoked`](Self::is_revoked)".
    ///
    /// The default
    /// never has it at hand.
    fn is_revoked_now(&self, token: &TokenRef<'_>) -> Option<Result<bool, RevocationError>> {
        let _ = token;
        None
    }

    /// Revokes the token whose `jti` is `jti`, until `expires_at`.
    ///
    /// Returns
    /// `true` when this call revoked it and `false` when it already was
    /// revoked: atomically, so that of two concurrent calls exactly one
    /// gets `true` (refresh rotation spends a token this way).
    ///
    /// # Errors
    /// [`RevocationError`] when the store cannot record it.
    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>>;

    /// Spends a refresh token for one exchange (refresh rotation).
    ///
    /// The token is the one of generation `spend.generation` in the
    /// session `spend.sid`, spent until `spend.expires_at` (that token's
    /// `exp`). Returns `true` when
    /// this exchange now holds the spend and may issue the next pair, and
    /// `false` for reuse. Atomic, as [`revoke_token`](Self::revoke_token):
    /// of concurrent calls naming different attempts, at most one holds
    /// the spend at a time.
    ///
    /// `true` when:
    /// - neither this generation nor a later one of the session was spent
    ///   (the spend is recorded: the next generation to spend, the time
    ///   `spend.now`, the token's `jti` and `spend.attempt`, unconfirmed);
    /// - or this attempt already recorded it (a command retried after a
    ///   broken connection keeps its answer);
    /// - or the same token (same `jti`) was spent by another exchange that
    ///   was never [confirmed](Self::confirm_refresh), less than
    ///   `spend.retry_grace` seconds before `spend.now`, and no later
    ///   generation was spent since: that exchange failed (or is still
    ///   running) and this is the client's retry, which takes the spend
    ///   over (keeping the first spend's time). The exchange taken over
    ///   can no longer be confirmed.
    ///
    /// A store keeps one entry per session however often it refreshes, so
    /// that one client refreshing in a loop cannot fill the list.
    ///
    /// The default spends an entry per token through
    /// [`revoke_token`](Self::revoke_token) (a key `sid#generation`, which
    /// no `jti` of this crate's tokens can equal) and has no retry grace:
    /// any second presentation is reuse, so a failed exchange's retry
    /// revokes the session. The crate's stores override it.
    ///
    /// # Errors
    /// [`RevocationError`] when the store cannot record it (it may have
    /// recorded it all the same: the reply was lost).
    fn spend_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let key = format!("{}#{}", spend.sid, spend.generation);
            self.revoke_token(&key, spend.expires_at).await
        })
    }

    /// Confirms the spend recorded by `spend`, closing it to retries.
    ///
    /// Called by an exchange ([`spend_refresh`](Self::spend_refresh)) once
    /// it has its new pair and is about to return it: from then on no other exchange can take the spend over, and any further
    /// presentation of the token is reuse. Returns `true` when this attempt
    /// still held the spend (or had confirmed it already), `false` when
    /// another exchange took it over or a later generation was spent (this
    /// exchange must not return its pair).
    ///
    /// The default confirms nothing and returns `true` (its spends cannot
    /// be taken over).
    ///
    /// # Errors
    /// [`RevocationError`] when the store cannot record it.
    fn confirm_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        let _ = spend;
        Box::pin(async { Ok(true) })
    }

    /// Revokes every token whose `sid` is `sid` (one login session and all
    /// the tokens refreshed from it), until `expires_at`.
    ///
    /// # Errors
    /// [`RevocationError`] when the store cannot record it.
    fn revoke_family<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>>;

    /// Revokes every token of `sub` issued before `issued_before` (tokens
    /// whose `iat` is smaller), until `expires_at` (the latest `exp` such a
    /// token can have).
    ///
    /// A later cut-off replaces an earlier one, never the
    /// reverse.
    ///
    /// # Errors
    /// [`RevocationError`] when the store cannot record it.
    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: u64,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>>;
}

/// The keys a token's check reads, in a fixed order: jti, sid, sub.
#[cfg(feature = "redis")]
pub(crate) fn keys_of(token: &TokenRef<'_>) -> [Option<String>; 3] {
    [
        token.jti.map(|j| format!("jti:{j}")),
        token.sid.map(|s| format!("sid:{s}")),
        token.sub.map(|s| format!("sub:{s}")),
    ]
}

/// The verdict from the values found for [`keys_of`]: any jti or sid entry
/// revokes; a sub entry holds a cut-off that revokes tokens issued before it.
pub(crate) fn verdict(token: &TokenRef<'_>, found: [Option<u64>; 3]) -> bool {
    let [jti, sid, sub] = found;
    if jti.is_some() || sid.is_some() {
        return true;
    }
    match (sub, token.iat) {
        (Some(cutoff), Some(iat)) => iat < cutoff,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// How long an entry outlives the `expires_at` it was given: covers the
/// verifier's leeway (60 s by default), during which an expired token still
/// verifies.
pub(crate) const DEFAULT_GRACE_SECS: u64 = 300;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ref_reads_registered_claims() {
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "jti": "j", "sid": "s", "sub": "u", "iat": 10, "exp": 20.5, "other": 1
        }))
        .unwrap();
        let t = TokenRef::from_claims(&claims);
        assert_eq!(
            t,
            TokenRef {
                jti: Some("j"),
                sid: Some("s"),
                sub: Some("u"),
                iat: Some(10),
                exp: Some(20)
            }
        );
        let claims: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"jti": 7, "iat": -1})).unwrap();
        assert_eq!(TokenRef::from_claims(&claims), TokenRef::default());
    }

    #[test]
    fn subject_cutoff_revokes_only_tokens_issued_before_it() {
        let t = |iat| TokenRef {
            sub: Some("u"),
            iat,
            ..TokenRef::default()
        };
        assert!(verdict(&t(Some(99)), [None, None, Some(100)]));
        assert!(!verdict(&t(Some(100)), [None, None, Some(100)]));
        assert!(verdict(&t(None), [None, None, Some(100)]));
        assert!(!verdict(&t(Some(1)), [None, None, None]));
        assert!(verdict(&t(Some(1)), [Some(0), None, None]));
        assert!(verdict(&t(Some(1)), [None, Some(0), None]));
    }
}
