//! Verification keys and the algorithms each may verify.
//!
//! A [`Key`] binds key material to the set of `alg` values it may verify:
//! no RSA or EC key verifies `HS*` (the classic algorithm-confusion attack),
//! an HMAC key verifies only `HS*`, a P-256 key only `ES256`. A token's `alg`
//! must be allowed by the configured allow-list *and* by its key.
//!
//! Import policy (RFC 7518, RFC 8725 §3.5):
//! - HMAC secrets of at least 32 bytes; a secret verifies `HS384` only from
//!   48 bytes and `HS512` only from 64 bytes (a key as long as the hash).
//!   Shorter legacy secrets need the loudly named
//!   [`Key::danger_hmac_short_secret`].
//! - RSA moduli of at least 2048 bits, with an odd public exponent above 1,
//!   and without the ROCA fingerprint (CVE-2017-15361).
//! - EC points must lie on P-256 or P-384; Ed25519 keys are 32 bytes.
//! - JWK Sets: keys with `use` other than `sig`, or `key_ops` without
//!   `verify`, or a `kty`/`crv`/`alg` this crate does not verify with, are
//!   skipped; malformed keys, private key material, duplicate `kid`s, a
//!   set mixing `oct` and asymmetric keys, or an `alg` that contradicts the
//!   key type fail the import.
//!
//! ```
//! use tower_jwt_auth::keys::{Key, KeySet};
//!
//! let mut keys = KeySet::new();
//! keys.push(Key::hmac(b"an example secret of 32+ bytes!!")?.with_kid("k1"))?;
//! assert_eq!(keys.len(), 1);
//! # Ok::<(), tower_jwt_auth::KeyError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use crate::crypto;
use crate::error::{AuthErrorKind, ConfigError, KeyError};

const ALL_ALGORITHMS: [Algorithm; 12] = [
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

/// The largest RSA modulus the backend verifies: aws-lc-rs accepts up to
/// 8192 bits, RustCrypto's `rsa` up to 4096.
#[cfg(feature = "aws-lc-rs")]
const MAX_RSA_BITS: usize = 8192;
#[cfg(not(feature = "aws-lc-rs"))]
const MAX_RSA_BITS: usize = 4096;

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// A small set of [`Algorithm`]s (a bit set; cheap to copy and test).
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
    kid: Option<String>,
    issuer: Option<String>,
    kind: KeyKind,
    algorithms: AlgorithmSet,
    decoding: DecodingKey,
}

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
    /// issuers only. A short secret can be brute-forced offline from any
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
        Self {
            kid: None,
            issuer: None,
            kind: KeyKind::Hmac { len: secret.len() },
            algorithms,
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A PEM public key: RSA (`PUBLIC KEY` or `RSA PUBLIC KEY`), EC P-256 or
    /// P-384, or Ed25519. Private keys are refused: a verifier needs only
    /// the public half.
    ///
    /// # Errors
    /// [`KeyError::InvalidPem`] for anything else; the policy errors of the
    /// key type (RSA size, EC point, ...).
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let pem = pem.as_ref();
        let label = pem_label(pem).ok_or(KeyError::InvalidPem)?;
        match label {
            "RSA PUBLIC KEY" => {
                let k = DecodingKey::from_rsa_pem(pem).map_err(|_| KeyError::InvalidPem)?;
                Self::rsa_from_der(&k)
            }
            "PUBLIC KEY" => {
                // The SPKI may hold any key type: it is RSA when its inner
                // bit string parses as an RSAPublicKey.
                if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
                    let der = k.try_get_as_bytes().unwrap_or_default();
                    if let Some((n, e)) = crypto::rsa_components(der) {
                        return Self::rsa(&n, &e);
                    }
                }
                if let Ok(k) = DecodingKey::from_ec_pem(pem) {
                    let point = k.try_get_as_bytes().map_err(|_| KeyError::InvalidPem)?;
                    return Self::ec_from_point(point);
                }
                if let Ok(k) = DecodingKey::from_ed_pem(pem) {
                    let x = k.try_get_as_bytes().map_err(|_| KeyError::InvalidPem)?;
                    return Self::ed25519(x);
                }
                Err(KeyError::InvalidPem)
            }
            _ => Err(KeyError::InvalidPem),
        }
    }

    fn rsa_from_der(k: &DecodingKey) -> Result<Self, KeyError> {
        let der = k.try_get_as_bytes().map_err(|_| KeyError::InvalidPem)?;
        let (n, e) = crypto::rsa_components(der).ok_or(KeyError::InvalidPem)?;
        Self::rsa(&n, &e)
    }

    fn rsa(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        // An empty (or all-zero) modulus has 0 bits: no underflow (found by
        // the import_jwks fuzz target).
        let bits = n
            .first()
            .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
        if bits < 2048 {
            return Err(KeyError::RsaTooSmall { bits });
        }
        // e must be odd and > 1; RFC 8017 §3.1 bounds it by n, real keys
        // use 65537, and the backends cap it near 2^32.
        let odd = e.last().is_some_and(|b| b & 1 == 1);
        if !odd || e == [1] || e.len() > 4 {
            return Err(KeyError::RsaBadExponent);
        }
        // A key the backend cannot verify with would reject every token:
        // refuse it at import, where the operator sees why.
        if bits > MAX_RSA_BITS {
            return Err(KeyError::RsaTooLarge { bits });
        }
        if has_roca_fingerprint(n) {
            return Err(KeyError::RsaRocaVulnerable);
        }
        Ok(Self {
            kid: None,
            issuer: None,
            kind: KeyKind::Rsa { bits },
            algorithms: RSA_ALGORITHMS.into_iter().collect(),
            decoding: DecodingKey::from_rsa_raw_components(n, e),
        })
    }

    /// An uncompressed SEC1 point (`04 || x || y`) on P-256 or P-384.
    fn ec_from_point(point: &[u8]) -> Result<Self, KeyError> {
        let (kind, alg) = match point.len() {
            65 => (KeyKind::EcP256, Algorithm::ES256),
            97 => (KeyKind::EcP384, Algorithm::ES384),
            _ => return Err(KeyError::InvalidEcKey),
        };
        if !crypto::ec_point_is_valid(kind, point) {
            return Err(KeyError::InvalidEcKey);
        }
        Ok(Self {
            kid: None,
            issuer: None,
            kind,
            algorithms: [alg].into_iter().collect(),
            decoding: DecodingKey::from_ec_der(point),
        })
    }

    fn ed25519(x: &[u8]) -> Result<Self, KeyError> {
        if x.len() != 32 {
            return Err(KeyError::InvalidEdKey);
        }
        Ok(Self {
            kid: None,
            issuer: None,
            kind: KeyKind::Ed25519,
            algorithms: [Algorithm::EdDSA].into_iter().collect(),
            decoding: DecodingKey::from_ed_der(x),
        })
    }

    /// Sets the key id that tokens name in their `kid` header.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Binds the key to one issuer: a token it verifies must carry exactly
    /// this `iss`. With several issuers in one authenticator, bind each key
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

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

fn hmac_algorithms(len: usize) -> AlgorithmSet {
    let mut s = AlgorithmSet::empty();
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        if len >= min {
            s.insert(alg);
        }
    }
    s
}

/// The small primes of the ROCA fingerprint test.
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// Whether the RSA modulus `n` (big-endian) has the ROCA fingerprint:
/// Infineon's flawed generator made primes `k * M + (65537^a mod M)`, with
/// `M` the product of the first primes, so for every small prime `p` of the
/// published test, `n mod p` lies in the subgroup of `(Z/pZ)*` generated by
/// 65537. A random modulus passes all 38 tests with negligible probability.
/// Nemec, Sys, Svenda, Klinec, Matyas: "The Return of Coppersmith's Attack:
/// Practical Factorization of Widely Used RSA Moduli", ACM CCS 2017.
/// Cost: 38 reductions of `n` and walks of at most 166 steps.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&p| {
        let residue = n
            .iter()
            .fold(0u32, |acc, &byte| (acc * 256 + u32::from(byte)) % p);
        in_roca_subgroup(residue, p)
    })
}

/// Whether `residue` is a power of 65537 modulo the small prime `p`.
fn in_roca_subgroup(residue: u32, p: u32) -> bool {
    let generator = 65537 % p;
    let mut x = 1;
    loop {
        if x == residue {
            return true;
        }
        x = x * generator % p;
        if x == 1 {
            return false;
        }
    }
}

fn strip_leading_zeros(mut v: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = v {
        v = rest;
    }
    v
}

fn pem_label(pem: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

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

    /// Parses a JWK Set (RFC 7517 §5) of public keys, or `oct` secrets.
    ///
    /// # Errors
    /// A [`KeyError`] for a malformed set or key, a key that breaks the
    /// import policy (module docs), or a set with no usable key.
    pub fn from_jwks_json(json: &str) -> Result<Self, KeyError> {
        let doc: Value = serde_json::from_str(json).map_err(|_| KeyError::InvalidJwkSet)?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(KeyError::InvalidJwkSet)?;
        let mut set = KeySet::new();
        let (mut symmetric, mut asymmetric) = (false, false);
        for (index, jwk) in keys.iter().enumerate() {
            let jwk = jwk.as_object().ok_or(KeyError::InvalidJwk {
                index,
                reason: "not a json object",
            })?;
            if let Some(key) = parse_jwk(index, jwk)? {
                if matches!(key.kind, KeyKind::Hmac { .. }) {
                    symmetric = true;
                } else {
                    asymmetric = true;
                }
                set.push(key)?;
            }
        }
        if symmetric && asymmetric {
            return Err(KeyError::MixedKeySet);
        }
        if set.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(set)
    }

    /// Reads and parses a JWK Set file.
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be read, else as
    /// [`from_jwks_json`](Self::from_jwks_json).
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::from_jwks_json(&text)?)
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

const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// One JWK: `Ok(None)` for a key that is not a signature-verification key of
/// a type this crate verifies with (skipped), `Err` for a broken one.
fn parse_jwk(index: usize, jwk: &Map<String, Value>) -> Result<Option<Key>, KeyError> {
    let bad = |reason| KeyError::InvalidJwk { index, reason };
    let opt_str = |name: &str| match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(bad("a member has the wrong type")),
    };
    let b64 = |name: &str| -> Result<Vec<u8>, KeyError> {
        let s = opt_str(name)?.ok_or(bad("a required member is missing"))?;
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad("a member is not base64url"))
    };

    let kty = opt_str("kty")?.ok_or(bad("missing `kty`"))?;
    // Before any skip: a private key in a verification set is a leak to
    // report, whatever the key is for.
    if kty != "oct" && PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(KeyError::PrivateKeyMaterial { index });
    }
    let kid = opt_str("kid")?;
    // RFC 7517 §4.2: `use` other than "sig" is not a signature key.
    if opt_str("use")?.is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    // RFC 7517 §4.3: with `key_ops`, the key may verify only if listed.
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array().ok_or(bad("`key_ops` is not an array"))?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Ok(None);
        }
    }
    let alg = match opt_str("alg")? {
        None => None,
        Some(name) => match name.parse::<Algorithm>() {
            Ok(a) => Some(a),
            Err(_) if name.eq_ignore_ascii_case("none") => return Err(KeyError::AlgorithmMismatch),
            // An algorithm this crate does not verify with (RSA-OAEP, ES512, ...).
            Err(_) => return Ok(None),
        },
    };

    let key = match kty {
        "RSA" => Key::rsa(&b64("n")?, &b64("e")?)?,
        "EC" => {
            let (kind_len, prefix_ok) = match opt_str("crv")? {
                Some("P-256") => (32, true),
                Some("P-384") => (48, true),
                Some(_) => return Ok(None),
                None => return Err(bad("missing `crv`")),
            };
            let (x, y) = (b64("x")?, b64("y")?);
            if !prefix_ok || x.len() != kind_len || y.len() != kind_len {
                return Err(KeyError::InvalidEcKey);
            }
            let mut point = Vec::with_capacity(1 + 2 * kind_len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Key::ec_from_point(&point)?
        }
        "OKP" => match opt_str("crv")? {
            Some("Ed25519") => Key::ed25519(&b64("x")?)?,
            Some(_) => return Ok(None),
            None => return Err(bad("missing `crv`")),
        },
        "oct" => {
            let k = b64("k")?;
            let key = Key::hmac(&k)?;
            // An `alg` longer than the key allows is a policy error, not a skip.
            if let Some(alg) = alg {
                if alg.family() == jsonwebtoken::AlgorithmFamily::Hmac
                    && !key.algorithms.contains(alg)
                {
                    return Err(KeyError::HmacTooShort { len: k.len() });
                }
            }
            key
        }
        _ => return Ok(None),
    };
    let key = match alg {
        Some(alg) if !key.algorithms.contains(alg) => return Err(KeyError::AlgorithmMismatch),
        Some(alg) => key.with_algorithms([alg]),
        None => key,
    };
    Ok(Some(match kid {
        Some(kid) => key.with_kid(kid),
        None => key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn hmac_secret_policy_follows_rfc7518() {
        assert_eq!(
            Key::hmac(&SECRET[..31]).unwrap_err(),
            KeyError::HmacTooShort { len: 31 }
        );
        let k = Key::hmac(SECRET).unwrap();
        assert!(k.algorithms().contains(Algorithm::HS256));
        assert!(!k.algorithms().contains(Algorithm::HS384));
        let k = Key::hmac([7u8; 64]).unwrap();
        assert!(k.algorithms().contains(Algorithm::HS512));
        assert!(Key::danger_hmac_short_secret(b"short").is_ok());
        assert!(Key::danger_hmac_short_secret(b"").is_err());
    }

    #[test]
    fn debug_never_shows_key_material() {
        let k = Key::hmac(SECRET).unwrap().with_kid("k1");
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
        assert!(dbg.contains("k1"));
    }

    #[test]
    fn rsa_key_never_verifies_hmac() {
        let pem = include_bytes!("../tests/fixtures/rsa2048_public.pem");
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

    #[test]
    fn pem_keys_of_each_type_import() {
        let ec = Key::from_pem(include_bytes!("../tests/fixtures/ec256_public.pem")).unwrap();
        assert_eq!(ec.kind(), KeyKind::EcP256);
        let ec = Key::from_pem(include_bytes!("../tests/fixtures/ec384_public.pem")).unwrap();
        assert_eq!(ec.kind(), KeyKind::EcP384);
        let ed = Key::from_pem(include_bytes!("../tests/fixtures/ed25519_public.pem")).unwrap();
        assert_eq!(ed.kind(), KeyKind::Ed25519);
    }

    #[test]
    fn private_and_weak_pems_are_refused() {
        for pem in [
            &include_bytes!("../tests/fixtures/rsa2048_private.pem")[..],
            include_bytes!("../tests/fixtures/ec256_private.pem"),
            b"not a pem",
        ] {
            assert_eq!(Key::from_pem(pem).unwrap_err(), KeyError::InvalidPem);
        }
        assert_eq!(
            Key::from_pem(include_bytes!("../tests/fixtures/rsa1024_public.pem")).unwrap_err(),
            KeyError::RsaTooSmall { bits: 1024 }
        );
    }

    #[test]
    fn jwk_set_imports_and_skips_non_signature_keys() {
        let set = KeySet::from_jwks_json(include_str!("../tests/fixtures/jwks.json")).unwrap();
        assert_eq!(set.len(), 4);
        let json = r#"{"keys":[
            {"kty":"OKP","crv":"X25519","x":"AAAA","kid":"x"},
            {"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB","kid":"e"},
            {"kty":"EC","crv":"P-256","key_ops":["encrypt"],"x":"AA","y":"AA"},
            {"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kid":"h"}]}"#;
        let set = KeySet::from_jwks_json(json).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.iter().next().unwrap().kid(), Some("h"));
    }

    #[test]
    fn jwk_set_policy_errors() {
        let dup = r#"{"keys":[
            {"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kid":"a"},
            {"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY","kid":"a"}]}"#;
        assert_eq!(
            KeySet::from_jwks_json(dup).unwrap_err(),
            KeyError::DuplicateKid { kid: "a".into() }
        );
        assert_eq!(
            KeySet::from_jwks_json(include_str!("../tests/fixtures/jwks_rsa1024.json"))
                .unwrap_err(),
            KeyError::RsaTooSmall { bits: 1024 }
        );
        assert_eq!(
            KeySet::from_jwks_json("[]").unwrap_err(),
            KeyError::InvalidJwkSet
        );
        assert_eq!(
            KeySet::from_jwks_json(r#"{"keys":[]}"#).unwrap_err(),
            KeyError::Empty
        );
        let short = r#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#;
        assert_eq!(
            KeySet::from_jwks_json(short).unwrap_err(),
            KeyError::HmacTooShort { len: 5 }
        );
        let mismatch = r#"{"keys":[{"kty":"oct","alg":"RS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#;
        assert_eq!(
            KeySet::from_jwks_json(mismatch).unwrap_err(),
            KeyError::AlgorithmMismatch
        );
    }

    /// The modulus of Wycheproof `json_web_key_test.json` tcId 7 (group
    /// `jws_rsa_roca_key`): 2049 bits, e = 65537, the ROCA fingerprint.
    const ROCA_N: &str = concat!(
        "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HGaTDUHqPr",
        "Id7fe4r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_",
        "MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7Y",
        "XsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-QYyE"
    );

    #[test]
    fn rsa_keys_with_the_roca_fingerprint_are_refused() {
        let n = URL_SAFE_NO_PAD.decode(ROCA_N).unwrap();
        assert!(has_roca_fingerprint(&n));
        // Big enough and e = 65537: only the fingerprint stops it.
        assert_eq!(
            Key::rsa(&n, &[1, 0, 1]).unwrap_err(),
            KeyError::RsaRocaVulnerable
        );
        let jwks = format!(r#"{{"keys":[{{"kty":"RSA","n":"{ROCA_N}","e":"AQAB"}}]}}"#);
        assert_eq!(
            KeySet::from_jwks_json(&jwks).unwrap_err(),
            KeyError::RsaRocaVulnerable
        );
        // n + 2 (still odd, same size) is no longer in the subgroups.
        let mut other = n.clone();
        *other.last_mut().unwrap() ^= 0b10;
        assert!(!has_roca_fingerprint(&other));
        assert!(Key::rsa(&other, &[1, 0, 1]).is_ok());
        // Ordinary keys pass, including those with a leading zero byte.
        let pem = include_bytes!("../tests/fixtures/rsa2048_public.pem");
        assert!(Key::from_pem(pem).is_ok());
        let padded = [&[0u8][..], &other].concat();
        assert!(!has_roca_fingerprint(&padded));
    }

    #[test]
    fn roca_test_matches_the_published_fingerprints() {
        // The first bit masks of the reference detector (crocs-muni/roca):
        // bit r is set when r is in the subgroup generated by 65537 mod p.
        let published: [(u32, u64); 6] = [
            (3, 6),
            (5, 30),
            (7, 126),
            (11, 1026),
            (13, 5658),
            (17, 107286),
        ];
        for (p, mask) in published {
            let ours = (0..p)
                .filter(|&r| in_roca_subgroup(r, p))
                .fold(0u64, |m, r| m | 1 << r);
            assert_eq!(ours, mask, "p = {p}");
        }
        assert!(ROCA_PRIMES.iter().all(|&p| !in_roca_subgroup(0, p)));
    }

    #[test]
    fn private_jwks_are_refused_even_when_they_would_be_skipped() {
        for extra in [
            r#""use":"enc""#,
            r#""alg":"RSA-OAEP""#,
            r#""key_ops":["decrypt"]"#,
        ] {
            let jwks =
                format!(r#"{{"keys":[{{"kty":"RSA",{extra},"n":"AQAB","e":"AQAB","d":"AQAB"}}]}}"#);
            assert_eq!(
                KeySet::from_jwks_json(&jwks).unwrap_err(),
                KeyError::PrivateKeyMaterial { index: 0 },
                "{extra}"
            );
        }
    }

    #[test]
    fn rsa_keys_the_backend_cannot_use_are_refused() {
        let mut n = vec![0xff; MAX_RSA_BITS / 8 + 1];
        n[0] = 0xc5;
        assert_eq!(
            Key::rsa(&n, &[1, 0, 1]).unwrap_err(),
            KeyError::RsaTooLarge {
                bits: MAX_RSA_BITS + 8
            }
        );
        let n = vec![0xc5; 256];
        assert_eq!(
            Key::rsa(&n, &[1, 0, 0, 0, 1]).unwrap_err(),
            KeyError::RsaBadExponent
        );
        assert_eq!(Key::rsa(&n, &[1]).unwrap_err(), KeyError::RsaBadExponent);
        assert_eq!(
            Key::rsa(&n, &[1, 0, 0]).unwrap_err(),
            KeyError::RsaBadExponent
        );
    }

    #[test]
    fn empty_or_zero_rsa_modulus_is_too_small_not_a_panic() {
        // Found by fuzz/import_jwks: `0 - 8` once the zeros were stripped.
        for n in ["", "AA", "AAAA"] {
            let jwks = format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}","e":"AQAB"}}]}}"#);
            assert_eq!(
                KeySet::from_jwks_json(&jwks).unwrap_err(),
                KeyError::RsaTooSmall { bits: 0 },
                "n = {n:?}"
            );
        }
        assert_eq!(
            Key::rsa(&[], &[1, 0, 1]).unwrap_err(),
            KeyError::RsaTooSmall { bits: 0 }
        );
    }

    #[test]
    fn select_by_kid_then_single_fitting_key() {
        let mut set = KeySet::new();
        set.push(Key::hmac(SECRET).unwrap()).unwrap();
        set.push(
            Key::from_pem(include_bytes!("../tests/fixtures/rsa2048_public.pem"))
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
