//! SPIFFE JWT-SVIDs on the builder: trust bundles as key sources, and the
//! SPIFFE ID rules of `sub`.

use std::path::Path;

use jsonwebtoken::Algorithm;

use super::AuthenticatorBuilder;
use crate::error::ConfigError;
use crate::keys::{AlgorithmSet, FileKind, KeyFile, KeySet};
use crate::spiffe::SpiffeIds;

/// The algorithms a JWT-SVID may use (JWT-SVID §3: RSA, ECDSA, RSA-PSS).
const JWT_SVID_ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

impl<C> AuthenticatorBuilder<C> {
    /// Keys of a SPIFFE trust bundle (its JWK Set form, as SPIRE and the
    /// SPIFFE bundle endpoint publish it): the `jwt-svid` keys, under the
    /// same import policy as any key.
    ///
    /// Only a source declared a bundle takes
    /// `jwt-svid` keys ([`jwk_set`](Self::jwk_set) skips them). Use with
    /// [`spiffe`](Self::spiffe).
    ///
    /// # Errors
    /// [`ConfigError::Key`] as
    /// [`KeySet::from_spiffe_bundle_json`](crate::keys::KeySet::from_spiffe_bundle_json).
    pub fn spiffe_bundle(mut self, json: &str) -> Result<Self, ConfigError> {
        for key in KeySet::from_spiffe_bundle_json(json)?.iter() {
            self.keys.push(key.clone())?;
        }
        Ok(self)
    }

    /// [`spiffe_bundle`](Self::spiffe_bundle) from a file, read now and again when it changes.
    ///
    /// E.g. the bundle a SPIRE agent writes; see
    /// [`KeyFileOptions`](crate::keys::KeyFileOptions) for how it is watched.
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be read, else as
    /// [`spiffe_bundle`](Self::spiffe_bundle).
    pub fn spiffe_bundle_file(mut self, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let file = KeyFile::load(path.as_ref(), FileKind::SpiffeBundle)?;
        self.key_files.push(file);
        Ok(self)
    }

    /// Keys of a SPIFFE trust bundle at a URL (feature `remote`; a SPIFFE
    /// bundle endpoint with `https_web` profile), fetched and refreshed as
    /// [`jwks_url`](Self::jwks_url), taking its `jwt-svid` keys.
    #[cfg(feature = "remote")]
    #[must_use]
    pub fn spiffe_bundle_url(mut self, url: impl Into<String>) -> Self {
        self.set_remote(super::RemoteSpec::SpiffeBundle(url.into()));
        self
    }

    /// Accepts JWT-SVIDs (SPIFFE JWT-SVID standard): `sub` must be a SPIFFE
    /// ID that `ids` admits, an audience must be configured
    /// ([`audience`](Self::audience); `aud` is then required and checked),
    /// and the algorithms are limited to those a JWT-SVID may use (RS*,
    /// ES256/ES384, PS*).
    ///
    /// `exp` is required as for every token.
    ///
    /// ```
    /// use tower_jwt_auth::{Authenticator, rules::SpiffeIds};
    ///
    /// # fn main() -> Result<(), tower_jwt_auth::ConfigError> {
    /// // A SPIRE trust bundle: `use: jwt-svid` keys (and x509-svid ones).
    /// let bundle = r#"{"keys": [{"kty": "EC", "crv": "P-256", "use": "jwt-svid",
    ///     "kid": "svid-1", "x": "fA9ylB6xDbbFnkRoYUq9JLpJ1hPcZdALARFKxxc2wdY",
    ///     "y": "o8LhECzSK_THLa5pDp7xYwGaMqmJyelaRqIrtuQEwT8"}],
    ///     "spiffe_sequence": 1}"#;
    /// let auth = Authenticator::builder()
    ///     .spiffe_bundle(&bundle)?
    ///     .spiffe(SpiffeIds::trust_domain("example.org").path_prefix("/ns/prod"))
    ///     .audience(["spiffe://example.org/ns/prod/sa/api"])
    ///     .build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    #[must_use]
    pub fn spiffe(mut self, ids: SpiffeIds) -> Self {
        self.rules.spiffe = Some(ids);
        self
    }

    /// The JWT-SVID rules at build: a usable trust domain, an audience, the
    /// JWT-SVID algorithms.
    pub(super) fn check_spiffe(&mut self) -> Result<(), ConfigError> {
        let Some(ids) = &self.rules.spiffe else {
            return Ok(());
        };
        if !ids.is_valid() {
            return Err(ConfigError::Spiffe(
                "the trust domain or path prefix is not a valid SPIFFE ID part",
            ));
        }
        if self.rules.audiences.is_none() {
            return Err(ConfigError::Spiffe(
                "a JWT-SVID must be checked against an audience: set `audience([..])`",
            ));
        }
        let svid: AlgorithmSet = JWT_SVID_ALGORITHMS.into_iter().collect();
        self.algorithms = Some(self.algorithms.map_or(svid, |a| a.intersection(svid)));
        Ok(())
    }
}
