//! The crypto backend: exactly one jsonwebtoken `CryptoProvider`, chosen by
//! this crate's features, used directly so that verification never depends on
//! (or panics for lack of) a process-wide default.

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "tower-jwt-auth needs a crypto backend: enable the feature `aws-lc-rs` (default) or `rust-crypto`"
);

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::keys::KeyKind;

/// The provider this crate verifies with: aws-lc-rs when its feature is on
/// (also when both are), else RustCrypto.
pub(crate) fn provider() -> &'static CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
}

/// With both backend features on, jsonwebtoken cannot pick a process default
/// and its own `encode`/`decode` panic. Install ours explicitly; a provider
/// that is already installed (by the application, or by an earlier call)
/// is kept.
pub(crate) fn install_default_provider() {
    #[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]
    {
        let _ = provider().install_default();
    }
}

/// The rustls crypto provider of the crate's TLS (`remote` fetches,
/// `rediss://`): the backend's library, aws-lc-rs (also when both backends
/// are on), else ring under `rust-crypto` alone.
#[cfg(any(feature = "remote", feature = "redis"))]
pub(crate) fn tls_provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    {
        rustls::crypto::aws_lc_rs::default_provider()
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        rustls::crypto::ring::default_provider()
    }
}

/// Installs [`tls_provider`] as the process-wide rustls provider (which the
/// redis crate's TLS reads) unless the application installed one; never
/// panics, whoever installed first.
#[cfg(feature = "redis")]
pub(crate) fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err: another thread installed one meanwhile, which is as good.
        let _ = tls_provider().install_default();
    }
}

/// Verifies `signature` (raw bytes) over `message` with `key` for `alg`.
pub(crate) fn verify(
    message: &[u8],
    signature: Vec<u8>,
    key: &DecodingKey,
    alg: Algorithm,
) -> bool {
    match (provider().verifier_factory)(&alg, key) {
        Ok(verifier) => verifier.verify(message, &signature).is_ok(),
        Err(_) => false,
    }
}

/// (n, e) of a PKCS#1 `RSAPublicKey` DER.
pub(crate) fn rsa_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    (provider().key_utils.rsa_pub_components_from_public_key)(der).ok()
}

/// Whether `point` (uncompressed SEC1) lies on the curve of `kind`.
pub(crate) fn ec_point_is_valid(kind: KeyKind, point: &[u8]) -> bool {
    match kind {
        KeyKind::EcP256 => p256::PublicKey::from_sec1_bytes(point).is_ok(),
        KeyKind::EcP384 => p384::PublicKey::from_sec1_bytes(point).is_ok(),
        _ => false,
    }
}
