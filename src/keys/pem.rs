//! PEM public keys: RSA (SPKI or PKCS#1), EC P-256/P-384, Ed25519.

use jsonwebtoken::DecodingKey;

use super::Key;
use crate::crypto;
use crate::error::KeyError;

impl Key {
    /// A PEM public key: RSA (`PUBLIC KEY` or `RSA PUBLIC KEY`), EC P-256 or
    /// P-384, or Ed25519.
    ///
    /// Private keys are refused: a verifier needs only
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
}

fn pem_label(pem: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyKind;

    #[test]
    fn pem_keys_of_each_type_import() {
        let ec = Key::from_pem(include_bytes!("../../tests/fixtures/ec256_public.pem")).unwrap();
        assert_eq!(ec.kind(), KeyKind::EcP256);
        let ec = Key::from_pem(include_bytes!("../../tests/fixtures/ec384_public.pem")).unwrap();
        assert_eq!(ec.kind(), KeyKind::EcP384);
        let ed = Key::from_pem(include_bytes!("../../tests/fixtures/ed25519_public.pem")).unwrap();
        assert_eq!(ed.kind(), KeyKind::Ed25519);
    }

    #[test]
    fn private_and_weak_pems_are_refused() {
        for pem in [
            &include_bytes!("../../tests/fixtures/rsa2048_private.pem")[..],
            include_bytes!("../../tests/fixtures/ec256_private.pem"),
            b"not a pem",
        ] {
            assert_eq!(Key::from_pem(pem).unwrap_err(), KeyError::InvalidPem);
        }
        assert_eq!(
            Key::from_pem(include_bytes!("../../tests/fixtures/rsa1024_public.pem")).unwrap_err(),
            KeyError::RsaTooSmall { bits: 1024 }
        );
    }
}
