//! Throwaway key pairs, generated with the crypto backend that verifies them
//! (aws-lc-rs when its feature is on, as in `crypto.rs`; else RustCrypto),
//! and fixed keys (a secret, a private key PEM) whose public JWK is derived
//! with the same backend.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Map, Value};

/// A generated key: what signs, and the public JWK members that verify.
#[derive(Clone)]
pub(super) struct Generated {
    pub(super) encoding: EncodingKey,
    /// `kty` and the key members (`n`/`e`, `crv`/`x`/`y`, or `k` for HMAC).
    pub(super) jwk: Map<String, Value>,
    /// The HMAC secret, for HMAC keys only.
    pub(super) secret: Option<Vec<u8>>,
}

/// Why a key could not be generated (the OS random source failed) or a
/// private key could not be read for the algorithm.
#[derive(Debug)]
pub(super) struct KeygenError;

pub(super) fn b64(bytes: &[u8]) -> Value {
    Value::String(URL_SAFE_NO_PAD.encode(bytes))
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The key of a private key PEM for `alg` (`RS*`/`PS*`: RSA in PKCS#8 or
/// PKCS#1; `ES256`/`ES384`: P-256/P-384 in PKCS#8; `EdDSA`: Ed25519 in
/// PKCS#8), its public JWK members derived by the backend.
pub(super) fn from_pem(alg: Algorithm, private_pem: &[u8]) -> Result<Generated, KeygenError> {
    let block = pem::parse(private_pem).map_err(|_| KeygenError)?;
    let (label, der) = (block.tag(), block.contents());
    let pkcs8 = label == "PRIVATE KEY";
    let (encoding, jwk) = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => return Err(KeygenError),
        Algorithm::ES256 | Algorithm::ES384 if pkcs8 => (
            EncodingKey::from_ec_pem(private_pem),
            backend::ec_jwk(alg == Algorithm::ES384, der)?,
        ),
        Algorithm::EdDSA if pkcs8 => (
            EncodingKey::from_ed_pem(private_pem),
            backend::ed25519_jwk(der)?,
        ),
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512
            if pkcs8 || label == "RSA PRIVATE KEY" =>
        {
            (
                EncodingKey::from_rsa_pem(private_pem),
                backend::rsa_jwk(der, pkcs8)?,
            )
        }
        _ => return Err(KeygenError),
    };
    Ok(Generated {
        encoding: encoding.map_err(|_| KeygenError)?,
        jwk,
        secret: None,
    })
}

/// The key of an HMAC secret (its length is checked by the caller).
pub(super) fn from_secret(secret: &[u8]) -> Generated {
    Generated {
        encoding: EncodingKey::from_secret(secret),
        jwk: obj(json!({"kty": "oct", "k": b64(secret)})),
        secret: Some(secret.to_vec()),
    }
}

/// A PEM block (64-column base64), as jsonwebtoken's PEM readers expect.
#[allow(dead_code)] // only the aws-lc-rs RSA path needs it
fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(super) fn generate(alg: Algorithm) -> Result<Generated, KeygenError> {
    match alg {
        Algorithm::HS256 => hmac(32),
        Algorithm::HS384 => hmac(48),
        Algorithm::HS512 => hmac(64),
        Algorithm::ES256 => backend::ec(false),
        Algorithm::ES384 => backend::ec(true),
        Algorithm::EdDSA => backend::ed25519(),
        // RS*, PS*: one RSA-2048 key serves every RSA algorithm.
        _ => backend::rsa(),
    }
}

/// RFC 7518 §3.2: a secret as long as the hash output.
fn hmac(len: usize) -> Result<Generated, KeygenError> {
    let mut secret = vec![0u8; len];
    backend::fill(&mut secret)?;
    Ok(from_secret(&secret))
}

#[cfg(feature = "aws-lc-rs")]
mod backend {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{
        EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _,
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    };
    use jsonwebtoken::EncodingKey;
    use serde_json::{json, Map, Value};

    use super::{b64, obj, pem, Generated, KeygenError};

    pub(super) fn fill(buf: &mut [u8]) -> Result<(), KeygenError> {
        aws_lc_rs::rand::SecureRandom::fill(&SystemRandom::new(), buf).map_err(|_| KeygenError)
    }

    pub(super) fn rsa() -> Result<Generated, KeygenError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeygenError)?;
        let pkcs8 = AsDer::as_der(&pair).map_err(|_| KeygenError)?;
        // jsonwebtoken signs RSA with a PKCS#1 key; its PEM reader unwraps
        // the PKCS#8 document.
        let encoding = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes())
            .map_err(|_| KeygenError)?;
        Ok(Generated {
            encoding,
            jwk: rsa_public(&pair),
            secret: None,
        })
    }

    /// The public JWK members of an RSA private key (PKCS#8 or PKCS#1 DER).
    pub(super) fn rsa_jwk(der: &[u8], pkcs8: bool) -> Result<Map<String, Value>, KeygenError> {
        let pair = if pkcs8 {
            RsaKeyPair::from_pkcs8(der)
        } else {
            RsaKeyPair::from_der(der)
        };
        pair.map(|pair| rsa_public(&pair)).map_err(|_| KeygenError)
    }

    fn rsa_public(pair: &RsaKeyPair) -> Map<String, Value> {
        let public = pair.public_key();
        obj(json!({
            "kty": "RSA",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        }))
    }

    fn curve(p384: bool) -> &'static EcdsaSigningAlgorithm {
        if p384 {
            &ECDSA_P384_SHA384_FIXED_SIGNING
        } else {
            &ECDSA_P256_SHA256_FIXED_SIGNING
        }
    }

    pub(super) fn ec(p384: bool) -> Result<Generated, KeygenError> {
        let pair = EcdsaKeyPair::generate(curve(p384)).map_err(|_| KeygenError)?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeygenError)?;
        Ok(Generated {
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: ec_public(p384, &pair)?,
            secret: None,
        })
    }

    /// The public JWK members of a P-256 (or P-384) private key in PKCS#8.
    pub(super) fn ec_jwk(p384: bool, der: &[u8]) -> Result<Map<String, Value>, KeygenError> {
        let pair = EcdsaKeyPair::from_pkcs8(curve(p384), der).map_err(|_| KeygenError)?;
        ec_public(p384, &pair)
    }

    fn ec_public(p384: bool, pair: &EcdsaKeyPair) -> Result<Map<String, Value>, KeygenError> {
        let (crv, len) = if p384 { ("P-384", 48) } else { ("P-256", 32) };
        // Uncompressed SEC1 point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        if point.len() != 1 + 2 * len {
            return Err(KeygenError);
        }
        Ok(obj(json!({
            "kty": "EC",
            "crv": crv,
            "x": b64(&point[1..1 + len]),
            "y": b64(&point[1 + len..]),
        })))
    }

    pub(super) fn ed25519() -> Result<Generated, KeygenError> {
        let pair = Ed25519KeyPair::generate().map_err(|_| KeygenError)?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeygenError)?;
        Ok(Generated {
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: ed25519_public(&pair),
            secret: None,
        })
    }

    /// The public JWK members of an Ed25519 private key in PKCS#8.
    pub(super) fn ed25519_jwk(der: &[u8]) -> Result<Map<String, Value>, KeygenError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| KeygenError)?;
        Ok(ed25519_public(&pair))
    }

    fn ed25519_public(pair: &Ed25519KeyPair) -> Map<String, Value> {
        obj(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(pair.public_key().as_ref()),
        }))
    }
}

#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
mod backend {
    use jsonwebtoken::EncodingKey;
    use rand_core::{OsRng, RngCore};
    use serde_json::{json, Map, Value};

    use super::{b64, obj, Generated, KeygenError};

    pub(super) fn fill(buf: &mut [u8]) -> Result<(), KeygenError> {
        OsRng.try_fill_bytes(buf).map_err(|_| KeygenError)
    }

    /// RustCrypto's RSA key generation takes seconds per key in a debug
    /// build, so the process generates one and every RSA issuer shares it
    /// (their `kid`s still differ).
    pub(super) fn rsa() -> Result<Generated, KeygenError> {
        static SHARED: std::sync::OnceLock<Option<Generated>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| generate_rsa().ok())
            .clone()
            .ok_or(KeygenError)
    }

    fn generate_rsa() -> Result<Generated, KeygenError> {
        use rsa::pkcs1::EncodeRsaPrivateKey;

        let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).map_err(|_| KeygenError)?;
        let der = key.to_pkcs1_der().map_err(|_| KeygenError)?;
        Ok(Generated {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: rsa_public(&key),
            secret: None,
        })
    }

    /// The public JWK members of an RSA private key (PKCS#8 or PKCS#1 DER).
    pub(super) fn rsa_jwk(der: &[u8], pkcs8: bool) -> Result<Map<String, Value>, KeygenError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;

        let key = if pkcs8 {
            rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|_| KeygenError)?
        } else {
            rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|_| KeygenError)?
        };
        Ok(rsa_public(&key))
    }

    fn rsa_public(key: &rsa::RsaPrivateKey) -> Map<String, Value> {
        use rsa::traits::PublicKeyParts;

        obj(json!({
            "kty": "RSA",
            "n": b64(&key.n().to_bytes_be()),
            "e": b64(&key.e().to_bytes_be()),
        }))
    }

    pub(super) fn ec(p384: bool) -> Result<Generated, KeygenError> {
        use p256::pkcs8::EncodePrivateKey;

        if p384 {
            return ec384();
        }
        let key = p256::SecretKey::random(&mut OsRng);
        let der = key.to_pkcs8_der().map_err(|_| KeygenError)?;
        Ok(Generated {
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            jwk: p256_public(&key)?,
            secret: None,
        })
    }

    fn ec384() -> Result<Generated, KeygenError> {
        use p384::pkcs8::EncodePrivateKey;

        let key = p384::SecretKey::random(&mut OsRng);
        let der = key.to_pkcs8_der().map_err(|_| KeygenError)?;
        Ok(Generated {
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            jwk: p384_public(&key)?,
            secret: None,
        })
    }

    /// The public JWK members of a P-256 (or P-384) private key in PKCS#8.
    pub(super) fn ec_jwk(p384: bool, der: &[u8]) -> Result<Map<String, Value>, KeygenError> {
        if p384 {
            use p384::pkcs8::DecodePrivateKey;
            p384_public(&p384::SecretKey::from_pkcs8_der(der).map_err(|_| KeygenError)?)
        } else {
            use p256::pkcs8::DecodePrivateKey;
            p256_public(&p256::SecretKey::from_pkcs8_der(der).map_err(|_| KeygenError)?)
        }
    }

    fn p256_public(key: &p256::SecretKey) -> Result<Map<String, Value>, KeygenError> {
        let point =
            p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(KeygenError);
        };
        Ok(obj(
            json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}),
        ))
    }

    fn p384_public(key: &p384::SecretKey) -> Result<Map<String, Value>, KeygenError> {
        let point =
            p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key.public_key(), false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(KeygenError);
        };
        Ok(obj(
            json!({"kty": "EC", "crv": "P-384", "x": b64(x), "y": b64(y)}),
        ))
    }

    pub(super) fn ed25519() -> Result<Generated, KeygenError> {
        use ed25519_dalek::pkcs8::EncodePrivateKey;

        let mut seed = [0u8; 32];
        fill(&mut seed)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let der = key.to_pkcs8_der().map_err(|_| KeygenError)?;
        Ok(Generated {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            jwk: ed25519_public(&key),
            secret: None,
        })
    }

    /// The public JWK members of an Ed25519 private key in PKCS#8.
    pub(super) fn ed25519_jwk(der: &[u8]) -> Result<Map<String, Value>, KeygenError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;

        let key = ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|_| KeygenError)?;
        Ok(ed25519_public(&key))
    }

    fn ed25519_public(key: &ed25519_dalek::SigningKey) -> Map<String, Value> {
        obj(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(key.verifying_key().as_bytes()),
        }))
    }
}
