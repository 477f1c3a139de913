//! Sender-constrained tokens: DPoP (RFC 9449).

mod htu;
mod nonce;
mod proof;
#[cfg(feature = "redis")]
mod redis;
mod replay;
mod thumbprint;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use crate::clock::Clock;
use crate::error::{AuthError, AuthErrorKind, ConfigError};
use crate::keys::Algorithm;
use crate::keys::AlgorithmSet;

#[cfg(feature = "redis")]
pub use self::redis::RedisReplayStore;
pub use replay::{MemoryReplayStore, ReplayStore, ReplayStoreError};
pub use thumbprint::jwk_thumbprint;

/// Whether a route takes DPoP-bound tokens.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Bearer only (the default); an `Authorization: DPoP` header counts as
    /// no credentials.
    #[default]
    Off,
    /// Both schemes: `Bearer` for tokens without `cnf.jkt`, `DPoP` with a
    /// proof for any token bound to the proof's key.
    Allowed,
    /// `DPoP` only: every request needs a proof and a token bound to it.
    Required,
}

/// The asymmetric algorithms a proof may use by default.
const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// Sender-constrained tokens: DPoP (RFC 9449).
///
/// A bearer token works for whoever holds it. A DPoP-bound token names the
/// thumbprint of a client key in its `cnf.jkt` claim, and each request
/// carries a proof (`DPoP` header) signed by that key, for that method and
/// URL, once. A stolen token alone is then useless.
///
/// ```
/// use tower_jwt_auth::{dpop::DpopConfig, dpop::DpopMode};
/// use tower_jwt_auth::Authenticator;
///
/// let auth = Authenticator::builder()
///     .hmac_secret([7u8; 32])
///     // DPoP accepted (and Bearer for unbound tokens) on every route...
///     .dpop(DpopConfig::new(DpopMode::Allowed).public_url("https://api.example"))
///     .build()?;
/// let mixed = auth.layer();
/// // ...and required on this one.
/// let strict = auth.layer().dpop(DpopMode::Required);
/// # let _ = (mixed, strict);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
///
/// # What is checked
/// For `Authorization: DPoP <token>` with exactly one `DPoP` header (RFC
/// 9449 §4.3 and §7.1): the proof is a JWS with `typ: dpop+jwt`, an allowed
/// asymmetric `alg`, and a `jwk` header holding a public key (private
/// members refused; the key passes the same import policy as configured
/// keys, so no RSA under 2048 bits); its signature verifies with that key;
/// `htm` is the method; `htu` is the request URL without query and
/// fragment, compared after RFC 3986 normalization, with the origin taken
/// from [`DpopConfig::public_url`] (never from `Host`); `iat` is within the
/// window; `ath` is the access token's SHA-256; `nonce` is a server nonce
/// when nonces are on; the `jti` was not seen before ([`ReplayStore`]). The
/// access token is verified as a bearer token is, and its `cnf.jkt` must be
/// the proof key's RFC 7638 thumbprint.
///
/// A token with `cnf.jkt` is never accepted as `Bearer`, whatever the mode:
/// the issuer bound it to a key, and accepting it without a proof would
/// undo the binding.
///
/// # Responses
/// A broken proof: 401 `WWW-Authenticate: DPoP error="invalid_dpop_proof",
/// algs="…"`; a missing or stale nonce: 401 `error="use_dpop_nonce"` with a
/// `DPoP-Nonce` header; a successful response carries a fresh `DPoP-Nonce`
/// when the proof's nonce is past half its life. With
/// [`DpopMode::Allowed`], challenges name both schemes. gRPC calls get
/// `UNAUTHENTICATED` as for any rejection.
///
/// # Handlers
/// A request accepted with DPoP carries a [`DpopBound`] in its extensions,
/// next to its [`Claims`](crate::Claims).
///
/// DPoP settings of an [`Authenticator`](crate::Authenticator), given to
/// [`AuthenticatorBuilder::dpop`](crate::AuthenticatorBuilder::dpop).
/// Routes take its mode unless they set their own
/// ([`JwtAuthLayer::dpop`](crate::JwtAuthLayer::dpop)).
#[derive(Clone)]
pub struct DpopConfig {
    mode: DpopMode,
    algorithms: Vec<Algorithm>,
    iat_window: Duration,
    replay_window: Option<Duration>,
    public_url: Option<String>,
    trust_forwarded: bool,
    nonce_lifetime: Option<Duration>,
    nonce_key: Option<Vec<u8>>,
    store: Option<Arc<dyn ReplayStore>>,
    max_proof_len: usize,
}

impl fmt::Debug for DpopConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopConfig")
            .field("mode", &self.mode)
            .field("algorithms", &self.algorithms)
            .field("iat_window", &self.iat_window)
            .field("replay_window", &self.replay_window)
            .field("public_url", &self.public_url)
            .field("trust_forwarded", &self.trust_forwarded)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("nonce_key", &self.nonce_key.as_ref().map(|_| "<redacted>"))
            .field("store", &self.store.as_ref().map(|_| "<custom>"))
            .finish()
    }
}

impl DpopConfig {
    /// Settings with `mode` as the default of every route; the other
    /// defaults: ES256/ES384/EdDSA/PS*/RS* proofs, a 60 s `iat` window each
    /// way (plus the authenticator's leeway), an in-memory replay store, no
    /// nonces.
    ///
    /// A [`public_url`](Self::public_url) is required.
    #[must_use]
    pub fn new(mode: DpopMode) -> Self {
        Self {
            mode,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            iat_window: Duration::from_secs(60),
            replay_window: None,
            public_url: None,
            trust_forwarded: false,
            nonce_lifetime: None,
            nonce_key: None,
            store: None,
            max_proof_len: 8 * 1024,
        }
    }

    /// The origin clients use (`https://api.example`), from which the
    /// expected `htu` is built: this URL followed by the request path.
    ///
    /// A
    /// path in it (`https://example.com/api`) is put before every request
    /// path, for a proxy that strips it. The request's `Host` header is
    /// never used: it is the client's to choose.
    #[must_use]
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }

    /// Takes the origin from `Forwarded` (RFC 7239, last element) or
    /// `X-Forwarded-Proto` + `X-Forwarded-Host` when present, falling back
    /// to [`public_url`](Self::public_url).
    ///
    /// Only behind a proxy that sets
    /// (or strips) these headers on every request: otherwise a client
    /// chooses the origin its proof is checked against.
    #[must_use]
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.trust_forwarded = trust;
        self
    }

    /// The `alg` values a proof may use; symmetric ones (`HS*`) are
    /// refused by [`build`](crate::AuthenticatorBuilder::build), `none`
    /// never parses.
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// How far a proof's `iat` may be from now, each way, before the
    /// authenticator's leeway is added (default 60 s; whole seconds).
    #[must_use]
    pub fn iat_window(mut self, window: Duration) -> Self {
        self.iat_window = window;
        self
    }

    /// How long after its `iat` a proof's `jti` is remembered.
    ///
    /// Default and
    /// minimum: the `iat` window plus the leeway, the time a proof stays
    /// acceptable; a shorter one is a configuration error.
    #[must_use]
    pub fn replay_window(mut self, window: Duration) -> Self {
        self.replay_window = Some(window);
        self
    }

    /// Where seen proofs are remembered (default: a
    /// [`MemoryReplayStore`] per authenticator).
    ///
    /// Give every instance of a
    /// fleet the same shared store: `RedisReplayStore` (feature `redis`).
    #[must_use]
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Turns on server nonces (RFC 9449 §9): a proof must carry a nonce
    /// this server issued at most `lifetime` ago (at least 4 s), or it gets
    /// 401 `use_dpop_nonce` with a fresh one in `DPoP-Nonce`.
    #[must_use]
    pub fn nonces(mut self, lifetime: Duration) -> Self {
        self.nonce_lifetime = Some(lifetime);
        self
    }

    /// The key nonces are made with (at least 32 bytes).
    ///
    /// Default: random
    /// per process; give every instance of a fleet the same key so that a
    /// nonce from one is accepted by the others.
    #[must_use]
    pub fn nonce_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.nonce_key = Some(key.as_ref().to_vec());
        self
    }

    /// Largest accepted proof, in bytes (default 8 KiB).
    #[must_use]
    pub fn max_proof_len(mut self, len: usize) -> Self {
        self.max_proof_len = len;
        self
    }

    pub(crate) fn build(self, leeway: u64, clock: Arc<dyn Clock>) -> Result<Dpop, ConfigError> {
        let bad = ConfigError::Dpop;
        let mut algorithms = AlgorithmSet::empty();
        for alg in self.algorithms {
            if alg.family() == jsonwebtoken::AlgorithmFamily::Hmac {
                return Err(bad("a proof algorithm must be asymmetric (no HS*)"));
            }
            algorithms.insert(alg);
        }
        if algorithms.is_empty() {
            return Err(bad("no proof algorithm allowed"));
        }
        let public_url =
            htu::PublicUrl::new(self.public_url.as_deref(), self.trust_forwarded).map_err(bad)?;
        let iat_window = self.iat_window.as_secs();
        // Saturating: a huge window or leeway means "any iat", not a panic.
        let minimum = iat_window.saturating_add(leeway);
        let replay_window = match self.replay_window {
            None => minimum,
            Some(w) if w.as_secs() >= minimum => w.as_secs(),
            Some(_) => {
                return Err(bad(
                    "the replay window is shorter than the iat window plus the leeway",
                ))
            }
        };
        let nonces = match self.nonce_lifetime {
            None => None,
            Some(lifetime) => {
                let key = match self.nonce_key {
                    Some(key) if key.len() >= 32 => key,
                    Some(_) => return Err(bad("the nonce key must be at least 32 bytes")),
                    None => {
                        let mut key = vec![0u8; 32];
                        getrandom::fill(&mut key)
                            .map_err(|_| bad("no randomness for the nonce key"))?;
                        key
                    }
                };
                Some(nonce::Nonces::new(&key, lifetime.as_secs()).ok_or(bad("invalid nonce key"))?)
            }
        };
        Ok(Dpop {
            mode: self.mode,
            algorithms,
            iat_past: iat_window,
            iat_future: iat_window,
            leeway,
            replay_window,
            public_url,
            nonces,
            store: self
                .store
                .unwrap_or_else(|| Arc::new(MemoryReplayStore::default())),
            clock,
            max_proof_len: self.max_proof_len,
        })
    }
}

/// Left in the request extensions when a request was authenticated with
/// DPoP: the token is bound to the key that signed this request's proof.
///
/// With axum: `Option<Extension<DpopBound>>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopBound {
    thumbprint: Arc<str>,
}

impl DpopBound {
    /// The RFC 7638 SHA-256 thumbprint of the proof key (the token's
    /// `cnf.jkt`), base64url.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

/// The runtime half of [`DpopConfig`], held by the verifier.
pub(crate) struct Dpop {
    mode: DpopMode,
    algorithms: AlgorithmSet,
    iat_past: u64,
    iat_future: u64,
    leeway: u64,
    replay_window: u64,
    public_url: htu::PublicUrl,
    nonces: Option<nonce::Nonces>,
    store: Arc<dyn ReplayStore>,
    clock: Arc<dyn Clock>,
    max_proof_len: usize,
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("mode", &self.mode)
            .field("algorithms", &self.algorithms)
            .field("iat_window", &self.iat_past)
            .field("leeway", &self.leeway)
            .field("replay_window", &self.replay_window)
            .field("public_url", &self.public_url)
            .field("nonces", &self.nonces)
            .finish_non_exhaustive()
    }
}

/// What the replay store records of an accepted proof.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplayRecord {
    /// SHA-256(jkt, jti).
    key: [u8; 32],
    /// Until when the `jti` must be remembered.
    remember_until: u64,
}

impl proof::CheckedProof {
    /// What the request gets once accepted, and what the replay store
    /// records then.
    pub(crate) fn into_parts(self) -> (Proven, ReplayRecord) {
        (
            Proven {
                bound: DpopBound {
                    thumbprint: self.jkt.into(),
                },
                next_nonce: self.next_nonce,
            },
            ReplayRecord {
                key: self.replay_key,
                remember_until: self.remember_until,
            },
        )
    }
}

/// What a DPoP request proved, once the token is verified too.
#[derive(Debug)]
pub(crate) struct Proven {
    pub(crate) bound: DpopBound,
    pub(crate) next_nonce: Option<HeaderValue>,
}

impl Dpop {
    /// The route's mode: its own, else the authenticator's.
    pub(crate) fn mode(&self, route: Option<DpopMode>) -> DpopMode {
        route.unwrap_or(self.mode)
    }

    /// Records an accepted proof's `jti`, once everything else passed (the
    /// proof, the token bound to its key, the route's checks): answered now
    /// (`Ok(None)`), or, with a store that must wait on I/O, a future the
    /// caller awaits and passes to [`replay_verdict`] before accepting the
    /// request.
    ///
    /// # Errors
    /// A replay ([`AuthErrorKind::InvalidDpopProof`]), or a store that
    /// cannot answer ([`AuthErrorKind::DpopStoreUnavailable`]).
    pub(crate) fn record(&self, record: &ReplayRecord) -> Result<Option<PendingRecord>, AuthError> {
        let now = self.clock.now();
        match self
            .store
            .insert_new_async(&record.key, record.remember_until, now)
        {
            Some(pending) => Ok(Some(pending)),
            None => {
                replay_verdict(
                    self.store
                        .insert_new(&record.key, record.remember_until, now),
                )?;
                Ok(None)
            }
        }
    }

    /// The algorithms a proof may use (the challenge's `algs`).
    pub(crate) fn algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }

    /// The current server nonce, when nonces are on.
    pub(crate) fn current_nonce(&self) -> Option<HeaderValue> {
        self.nonces.as_ref().map(|n| n.current(self.clock.now()))
    }
}

/// A replay store's record of a proof, still on its way (a network store).
pub(crate) type PendingRecord =
    crate::revocation::BoxFuture<'static, Result<bool, ReplayStoreError>>;

/// A replay store's answer as the request's fate: a replay is a broken
/// proof, a store that cannot answer fails closed (503).
pub(crate) fn replay_verdict(recorded: Result<bool, ReplayStoreError>) -> Result<(), AuthError> {
    match recorded {
        Ok(true) => Ok(()),
        Ok(false) => Err(AuthErrorKind::InvalidDpopProof.into()),
        Err(_) => Err(AuthErrorKind::DpopStoreUnavailable.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    #[test]
    fn huge_iat_window_and_leeway_saturate_at_build() {
        for (window, leeway) in [
            (Duration::MAX, u64::MAX),
            (Duration::from_secs(u64::MAX - 1), 2),
            (Duration::from_secs(60), u64::MAX),
        ] {
            let dpop = DpopConfig::new(DpopMode::Allowed)
                .public_url("https://api.example")
                .iat_window(window)
                .build(leeway, Arc::new(FixedClock::new(1_800_000_000)))
                .expect("builds");
            assert_eq!(dpop.replay_window, u64::MAX, "{window:?} + {leeway}");
        }
    }
}
