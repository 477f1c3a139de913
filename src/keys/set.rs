//! [`KeySet`]: the keys of an authenticator and the lookup by `kid`.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::Algorithm;

use super::{AlgorithmSet, Key, KeyId};
use crate::error::{AuthErrorKind, KeyError};

/// Verification keys and the algorithms each may verify.
///
/// A [`Key`] binds key material to the set of `alg` values it may verify:
/// no RSA or EC key verifies `HS*` (the classic algorithm-confusion attack),
/// an HMAC key verifies only `HS*`, a P-256 key only `ES256`. A token's `alg`
/// must be allowed by the configured allow-list *and* by its key.
///
/// Import policy (RFC 7518, RFC 8725 §3.5):
/// - HMAC secrets of at least 32 bytes; a secret verifies `HS384` only from
///   48 bytes and `HS512` only from 64 bytes (a key as long as the hash).
///   Shorter legacy secrets need the loudly named
///   [`Key::danger_hmac_short_secret`].
/// - RSA moduli of at least 2048 bits, with an odd public exponent above 1,
///   and without the ROCA fingerprint (CVE-2017-15361).
/// - EC points must lie on P-256 or P-384; Ed25519 keys are 32 bytes.
/// - JWK Sets: keys with `use` other than `sig`, or `key_ops` without
///   `verify`, or a `kty`/`crv`/`alg` this crate does not verify with, are
///   skipped; malformed keys, private key material, duplicate `kid`s, a
///   set mixing `oct` and asymmetric keys, or an `alg` that contradicts the
///   key type fail the import.
///
/// ```
/// use tower_jwt_auth::{keys::Key, keys::KeySet};
///
/// let mut keys = KeySet::new();
/// keys.push(Key::hmac(b"an example secret of 32+ bytes!!")?.with_kid("k1"))?;
/// assert_eq!(keys.len(), 1);
/// # Ok::<(), tower_jwt_auth::keys::KeyError>(())
/// ```
///
/// One concern per file: [`Key`] and its accessors (`key.rs`), the import
/// checks every key passes (`checks.rs`), PEM parsing (`pem.rs`), JWK Set
/// parsing (`jwk.rs`), and the [`KeySet`] with its lookup (`set.rs`).
///
/// The verification keys of an authenticator, looked up by `kid`.
///
/// `Debug` lists the keys' kinds, ids and algorithms, never key material.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    by_kid: HashMap<String, usize>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.keys).finish()
    }
}
impl KeySet {
    /// An empty key set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`] when a key with the same `kid` is present.
    pub fn push(&mut self, key: Key) -> Result<(), KeyError> {
        if let Some(kid) = &key.kid {
            if self.by_kid.contains_key(kid) {
                return Err(KeyError::DuplicateKid { kid: kid.clone() });
            }
            self.by_kid.insert(kid.clone(), self.keys.len());
        }
        self.keys.push(key);
        Ok(())
    }

    /// Adds every key of `other`.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`] when both sets use a `kid`.
    pub fn extend(&mut self, other: KeySet) -> Result<(), KeyError> {
        other.keys.into_iter().try_for_each(|k| self.push(k))
    }

    /// Binds every key of the set to `issuer` (see [`Key::with_issuer`]).
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        for key in &mut self.keys {
            key.issuer = Some(issuer.clone());
        }
        self
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// Every algorithm some key may verify.
    #[must_use]
    pub fn algorithms(&self) -> AlgorithmSet {
        self.keys
            .iter()
            .fold(AlgorithmSet::empty(), |s, k| s.union(k.algorithms))
    }

    /// Whether the key with this identity is in the set: what a token
    /// verified earlier with that key needs to stay valid (cheap: a scan of
    /// a few integers).
    #[allow(dead_code)] // for the verified-token cache
    pub(crate) fn contains_id(&self, id: KeyId) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// Picks the key for a token: the key named by `kid`; else (no `kid`, or
    /// a `kid` no key has) the single key without a `kid` that may verify
    /// `alg` — or, for a token without `kid`, the single key of the whole set
    /// that may. Never tries several keys.
    pub(crate) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Key, AuthErrorKind> {
        if let Some(kid) = kid {
            if let Some(&i) = self.by_kid.get(kid) {
                let key = &self.keys[i];
                return if key.algorithms.contains(alg) {
                    Ok(key)
                } else {
                    Err(AuthErrorKind::DisallowedAlgorithm)
                };
            }
        }
        let mut fits = self
            .keys
            .iter()
            .filter(|k| (kid.is_none() || k.kid.is_none()) && k.algorithms.contains(alg));
        match (fits.next(), fits.next()) {
            (Some(key), None) => Ok(key),
            _ => Err(AuthErrorKind::UnknownKey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn select_by_kid_then_single_fitting_key() {
        let mut set = KeySet::new();
        set.push(Key::hmac(SECRET).unwrap()).unwrap();
        set.push(
            Key::from_pem(include_bytes!("../../tests/fixtures/rsa2048_public.pem"))
                .unwrap()
                .with_kid("r"),
        )
        .unwrap();
        assert!(set.select(None, Algorithm::HS256).is_ok());
        assert_eq!(
            set.select(Some("r"), Algorithm::RS256).unwrap().kid(),
            Some("r")
        );
        assert_eq!(
            set.select(Some("r"), Algorithm::HS256).unwrap_err(),
            AuthErrorKind::DisallowedAlgorithm
        );
        assert_eq!(
            set.select(Some("nope"), Algorithm::RS256).unwrap_err(),
            AuthErrorKind::UnknownKey
        );
        // A token without kid may use the single RSA key even though it has a kid.
        assert!(set.select(None, Algorithm::RS256).is_ok());
        set.push(Key::hmac([1u8; 32]).unwrap()).unwrap();
        assert_eq!(
            set.select(None, Algorithm::HS256).unwrap_err(),
            AuthErrorKind::UnknownKey,
            "two keys fit: ambiguous, never tried in turn"
        );
    }
}
