//! Verification keys and the algorithms each may verify.

use std::fmt;

pub use crate::error::KeyError;
/// The JWS algorithms (`RS256`, `ES256`, `EdDSA`, ...), re-exported from
/// [`jsonwebtoken`](https://docs.rs/jsonwebtoken/11).
pub use jsonwebtoken::Algorithm;

mod checks;
mod files;
mod jwk;
mod key;
mod pem;
mod set;
mod source;

#[cfg(feature = "remote")]
pub(crate) mod remote;

pub(crate) use files::{FileKind, KeyFile, ReloadingKeys, Sources};
pub use files::{KeyFileOptions, KeyHandle};
#[cfg(feature = "remote")]
pub(crate) use jwk::Usage;
pub(crate) use key::KeyId;
pub use key::{Key, KeyKind};
pub use set::KeySet;
pub(crate) use source::KeyStore;

/// A wait for a key refetch; it completes when the refetch is done or its
/// time is up, whichever comes first.
pub(crate) type RefetchWait =
    std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>>;

pub(crate) const ALL_ALGORITHMS: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The RFC 9864 fully-specified name of EdDSA with an Ed25519 key.
pub(crate) const ED25519: &str = "Ed25519";

/// The algorithm a JOSE `alg` name denotes: the RFC 7518 / RFC 8037 names
/// jsonwebtoken knows, and RFC 9864's `Ed25519`, which is EdDSA with an
/// Ed25519 key (the only EdDSA keys this crate imports: an `Ed25519` token
/// can only ever verify with an OKP Ed25519 key). Anything else is `None`:
/// `none`, `Ed448` (RFC 9864; no backend verifies it), and the
/// fully-specified ECDSA names `ESP256` / `ESP384` (RFC 9864 registers them
/// for COSE, whose `ES256` does not fix the curve; in JOSE, `ES256` and
/// `ES384` already name P-256 and P-384 exactly, RFC 7518 §3.4, so a JOSE
/// token has no reason to use them).
pub(crate) fn algorithm_named(name: &str) -> Option<Algorithm> {
    if name == ED25519 {
        return Some(Algorithm::EdDSA);
    }
    name.parse().ok()
}

/// A small set of [`Algorithm`]s (a bit set; cheap to copy and test).
///
/// `Algorithm::EdDSA` in a set also admits the RFC 9864 name `Ed25519`
/// (tokens, DPoP proofs and JWK `alg` members): both name EdDSA with an
/// OKP Ed25519 key here, the only EdDSA key this crate imports.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// The empty set.
    #[must_use]
    pub const fn empty() -> Self {
        Self(0)
    }

    fn bit(alg: Algorithm) -> u16 {
        ALL_ALGORITHMS
            .iter()
            .position(|a| *a == alg)
            .map_or(0, |i| 1 << i)
    }

    /// The algorithm a JOSE `alg` name denotes, for parsing allow-lists
    /// from configuration: the RFC 7518 / RFC 8037 names (`RS256`, `ES256`,
    /// `EdDSA`, ...) and RFC 9864's `Ed25519` (EdDSA with an Ed25519 key,
    /// so `Algorithm::EdDSA`).
    ///
    /// `None` for `none`, `Ed448` (unsupported) and
    /// the COSE-only `ESP256` / `ESP384` (in JOSE, `ES256` / `ES384`
    /// already fix the curve).
    ///
    /// ```
    /// use tower_jwt_auth::{keys::Algorithm, keys::AlgorithmSet};
    ///
    /// assert_eq!(AlgorithmSet::algorithm_named("Ed25519"), Some(Algorithm::EdDSA));
    /// assert_eq!(AlgorithmSet::algorithm_named("ES256"), Some(Algorithm::ES256));
    /// assert_eq!(AlgorithmSet::algorithm_named("Ed448"), None);
    /// ```
    #[must_use]
    pub fn algorithm_named(name: &str) -> Option<Algorithm> {
        algorithm_named(name)
    }

    /// Every asymmetric algorithm this crate verifies (RSA, ECDSA, EdDSA):
    /// what a remote JWK Set may bring.
    #[must_use]
    pub fn asymmetric() -> Self {
        ALL_ALGORITHMS
            .into_iter()
            .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            .collect()
    }

    /// Adds `alg`.
    pub fn insert(&mut self, alg: Algorithm) {
        self.0 |= Self::bit(alg);
    }

    /// Whether `alg` is in the set.
    #[must_use]
    pub fn contains(self, alg: Algorithm) -> bool {
        let b = Self::bit(alg);
        b != 0 && self.0 & b == b
    }

    /// The algorithms in both sets.
    #[must_use]
    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The algorithms in either set.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms in the set, in a fixed order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        ALL_ALGORITHMS
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        let mut s = Self::empty();
        for a in iter {
            s.insert(a);
        }
        s
    }
}

impl fmt::Debug for AlgorithmSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}
