//! [`Key`]: key material bound to the algorithms it may verify.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::{Algorithm, DecodingKey};

use super::checks::hmac_algorithms;
use super::AlgorithmSet;
use crate::error::KeyError;

/// What kind of key material a [`Key`] holds (no material itself).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// An HMAC secret of this many bytes.
    Hmac {
        /// Length of the secret in bytes.
        len: usize,
    },
    /// An RSA public key with a modulus of this many bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// An EC P-256 public key.
    EcP256,
    /// An EC P-384 public key.
    EcP384,
    /// An Ed25519 public key.
    Ed25519,
}

/// One verification key and the algorithms it may verify.
///
/// `Debug` shows the kind, `kid` and algorithms, never key material.
#[derive(Clone)]
pub struct Key {
    pub(super) kid: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) kind: KeyKind,
    pub(super) algorithms: AlgorithmSet,
    pub(super) decoding: DecodingKey,
    pub(super) id: KeyId,
    /// Fetched from a remote JWK Set: usable only while that source is
    /// within its maximum stale age (see `keys::remote`).
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(super) remote: bool,
}

/// A key's identity: assigned once when the key is imported and kept by its
/// clones, so two `KeyId`s are equal exactly when they name the same
/// imported key. A remote refresh that fetches an unchanged JWK again keeps
/// its `KeyId`; a changed or removed key's id leaves the set. Whatever was
/// verified with a key (a cached token, say) is still good exactly while
/// [`KeySet::contains_id`](super::KeySet::contains_id) holds for its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyId(u64);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("kind", &self.kind)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HMAC secret (raw bytes). It verifies `HS256` from 32 bytes,
    /// `HS384` from 48 and `HS512` from 64 (RFC 7518 §3.2).
    ///
    /// # Errors
    /// [`KeyError::HmacTooShort`] for a secret under 32 bytes.
    pub fn hmac(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        if secret.len() < 32 {
            return Err(KeyError::HmacTooShort { len: secret.len() });
        }
        Ok(Self::hmac_unchecked(secret, hmac_algorithms(secret.len())))
    }

    /// DANGER: an HMAC secret shorter than RFC 7518 requires, for legacy
    /// issuers only.
    ///
    /// A short secret can be brute-forced offline from any
    /// token it signed. It verifies `HS256`, `HS384` and `HS512`.
    ///
    /// # Errors
    /// [`KeyError::HmacTooShort`] for an empty secret.
    pub fn danger_hmac_short_secret(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        if secret.is_empty() {
            return Err(KeyError::HmacTooShort { len: 0 });
        }
        let algs = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
            .into_iter()
            .collect();
        Ok(Self::hmac_unchecked(secret, algs))
    }

    fn hmac_unchecked(secret: &[u8], algorithms: AlgorithmSet) -> Self {
        Self::new(
            KeyKind::Hmac { len: secret.len() },
            algorithms,
            DecodingKey::from_secret(secret),
        )
    }

    /// A key without `kid` or issuer, with a fresh [`KeyId`].
    pub(super) fn new(kind: KeyKind, algorithms: AlgorithmSet, decoding: DecodingKey) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            kid: None,
            issuer: None,
            kind,
            algorithms,
            decoding,
            id: KeyId(NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            remote: false,
        }
    }

    /// Sets the key id that tokens name in their `kid` header.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Binds the key to one issuer: a token it verifies must carry exactly
    /// this `iss`.
    ///
    /// With several issuers in one authenticator, bind each key
    /// to its issuer, or one issuer's key can mint tokens in another's name.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The issuer this key is bound to, if any.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// Narrows the algorithms this key may verify to those also in `algs`
    /// (it never widens them: an RSA key cannot be made to verify `HS256`).
    #[must_use]
    pub fn with_algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = self.algorithms.intersection(algs.into_iter().collect());
        self
    }

    /// The key id, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// What kind of key this is.
    #[must_use]
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The algorithms this key may verify.
    #[must_use]
    pub fn algorithms(&self) -> AlgorithmSet {
        self.algorithms
    }

    /// This key's identity (see [`KeyId`]).
    #[allow(dead_code)] // for the verified-token cache
    pub(crate) fn id(&self) -> KeyId {
        self.id
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn debug_never_shows_key_material() {
        let k = Key::hmac(SECRET).unwrap().with_kid("k1");
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
        assert!(dbg.contains("k1"));
    }

    #[test]
    fn rsa_key_never_verifies_hmac() {
        let pem = include_bytes!("../../tests/fixtures/rsa2048_public.pem");
        let k = Key::from_pem(pem).unwrap();
        assert_eq!(k.kind(), KeyKind::Rsa { bits: 2048 });
        assert!(k.algorithms().contains(Algorithm::PS256));
        assert!(!k.algorithms().contains(Algorithm::HS256));
        let k = k.with_algorithms([Algorithm::HS256, Algorithm::RS256]);
        assert_eq!(
            k.algorithms().iter().collect::<Vec<_>>(),
            [Algorithm::RS256]
        );
    }
}
