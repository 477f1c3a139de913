//! Configuration errors: why a key, a key set or an authenticator could
//! not be built.

use std::fmt;

/// Why a key, a key set or an authenticator could not be configured.
///
/// Messages name the problem and, for JWK Sets, the key's position and `kid`;
/// never key material.
#[non_exhaustive]
#[derive(Debug)]
pub enum ConfigError {
    /// A key could not be imported.
    Key(KeyError),
    /// No key was configured.
    NoKeys,
    /// The algorithm allow-list is empty once intersected with what the keys
    /// can verify.
    NoAlgorithms,
    /// The `realm` contains characters that cannot appear in a quoted string.
    InvalidRealm,
    /// The required token `typ` is empty or not visible ASCII.
    InvalidType,
    /// The protected resource
    /// ([`AuthenticatorBuilder::resource`](crate::AuthenticatorBuilder::resource))
    /// is not an absolute `http`/`https` URL without query, fragment or
    /// user information, or one of its metadata values cannot be served.
    InvalidResource {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An accepted-values list (`issuer`, `audience`) is empty, so no token
    /// could ever pass: almost certainly a configuration mistake.
    EmptyList {
        /// Which list: `"issuer"`, `"audience"` or `"token source"`.
        what: &'static str,
    },
    /// [`Authenticator::by_issuer`](crate::Authenticator::by_issuer): an
    /// authenticator that accepts no issuer cannot be picked by `iss`.
    IssuerRequired,
    /// [`Authenticator::by_issuer`](crate::Authenticator::by_issuer): two
    /// authenticators accept the same issuer.
    DuplicateIssuer {
        /// The issuer accepted twice.
        issuer: String,
    },
    /// A token lifetime of zero seconds.
    InvalidLifetime,
    /// The DPoP settings are unusable (the message says why).
    Dpop(&'static str),
    /// A remote key source (JWK Set URL, OIDC discovery) could not be used
    /// at build: the error names the URL and the reason.
    #[cfg(feature = "remote")]
    RemoteKeys(super::FetchError),
    /// [`AuthenticatorBuilder::spiffe`](crate::AuthenticatorBuilder::spiffe):
    /// an unusable trust domain, or no audience (the message says which).
    Spiffe(&'static str),
    /// [`HttpClientOptions`](crate::remote::HttpClientOptions): a PEM or proxy URL
    /// that does not parse (the message says which; never key material).
    #[cfg(feature = "remote")]
    HttpClient(&'static str),
    /// [`TenantIssuers`](crate::remote::TenantIssuers): an unusable pattern, tenant
    /// list or combination, or any tenant without an audience (the message
    /// says which).
    #[cfg(feature = "remote")]
    Tenants(&'static str),
    /// A remote key source is configured: build with
    /// [`build_async`](crate::AuthenticatorBuilder::build_async), which
    /// fetches the keys first.
    NeedsBuildAsync,
    /// Two remote key sources on one builder: use one authenticator per
    /// issuer ([`Authenticator::by_issuer`](crate::Authenticator::by_issuer)).
    SeveralRemoteSources,
    /// The token introspection endpoint (RFC 7662) could not be set up at
    /// build: a URL refused by the transport policy, or metadata without an
    /// `introspection_endpoint`; the error names the URL and the reason.
    #[cfg(feature = "remote")]
    Introspection(super::FetchError),
    /// Two issuers of one
    /// [`Authenticator::by_issuer`](crate::Authenticator::by_issuer) both
    /// introspect tokens that are not JWTs: which one asks would be a guess.
    SeveralIntrospections,
    /// A [`KeyHandle`](crate::keys::KeyHandle) on a builder with tenant issuers.
    ///
    /// Each tenant's verifier takes a copy of the local keys at build, which
    /// a handle could not replace.
    KeyHandleWithTenants,
    /// An unusable claim-to-header mapping (the message says why).
    ///
    /// [`ClaimHeaders::map`](crate::forward::ClaimHeaders::map) was given a
    /// header name that is invalid, reserved or mapped twice, or an empty
    /// claim name.
    Forward(&'static str),
    /// A key file could not be read.
    Io {
        /// The path that could not be read.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(e) => write!(f, "invalid key: {e}"),
            Self::NoKeys => f.write_str("no verification key configured"),
            Self::NoAlgorithms => {
                f.write_str("no allowed algorithm can be verified by the configured keys")
            }
            Self::InvalidRealm => {
                f.write_str("the realm must be printable ASCII without `\"` or `\\`")
            }
            Self::InvalidResource { reason } => write!(f, "invalid protected resource: {reason}"),
            Self::InvalidType => f.write_str("the required `typ` must be non-empty visible ASCII"),
            Self::EmptyList { what } => {
                write!(f, "the accepted {what} list is empty: no token could pass")
            }
            Self::IssuerRequired => f.write_str(
                "each authenticator of by_issuer must accept an issuer (builder `.issuer([..])`)",
            ),
            Self::DuplicateIssuer { issuer } => {
                write!(f, "issuer {issuer:?} is accepted by two authenticators")
            }
            Self::InvalidLifetime => f.write_str("a token lifetime must be at least one second"),
            Self::Dpop(why) => write!(f, "dpop: {why}"),
            Self::Forward(why) => write!(f, "forwarded claim headers: {why}"),
            Self::Io { path, .. } => write!(f, "cannot read {}", path.display()),
            #[cfg(feature = "remote")]
            Self::RemoteKeys(e) => write!(f, "remote keys: {e}"),
            Self::Spiffe(why) => write!(f, "spiffe: {why}"),
            #[cfg(feature = "remote")]
            Self::HttpClient(why) => write!(f, "http client: {why}"),
            #[cfg(feature = "remote")]
            Self::Tenants(why) => write!(f, "tenant issuers: {why}"),
            #[cfg(feature = "remote")]
            Self::Introspection(e) => write!(f, "token introspection: {e}"),
            Self::SeveralIntrospections => f.write_str(
                "several issuers of one by_issuer authenticator introspect tokens; at most one may",
            ),
            Self::SeveralRemoteSources => f.write_str(
                "one remote key source per authenticator; use one authenticator per issuer",
            ),
            Self::KeyHandleWithTenants => {
                f.write_str("a key handle cannot be combined with tenant issuers")
            }
            Self::NeedsBuildAsync => {
                f.write_str("remote keys are configured: build with `build_async().await`")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Key(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            #[cfg(feature = "remote")]
            Self::RemoteKeys(e) | Self::Introspection(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "remote")]
impl From<super::FetchError> for ConfigError {
    fn from(e: super::FetchError) -> Self {
        Self::RemoteKeys(e)
    }
}

impl From<KeyError> for ConfigError {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

/// Why a key was refused at import.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// An HMAC secret shorter than 32 bytes (RFC 7518 §3.2).
    HmacTooShort {
        /// The secret's length in bytes.
        len: usize,
    },
    /// An RSA modulus shorter than 2048 bits (RFC 7518 §3.3).
    RsaTooSmall {
        /// The modulus size in bits.
        bits: usize,
    },
    /// An RSA modulus larger than the crypto backend verifies (8192 bits
    /// with aws-lc-rs, 4096 with RustCrypto alone): such a key would verify
    /// nothing.
    RsaTooLarge {
        /// The modulus size in bits.
        bits: usize,
    },
    /// An RSA public exponent that is even, 1, or above 2^32.
    RsaBadExponent,
    /// An RSA modulus with the ROCA fingerprint (CVE-2017-15361): generated
    /// by a flawed Infineon library, it can be factored from the public key.
    RsaRocaVulnerable,
    /// An EC key that is not a valid point on a supported curve.
    InvalidEcKey,
    /// An Ed25519 key of the wrong length.
    InvalidEdKey,
    /// The PEM could not be parsed as an RSA, EC or Ed25519 key of the
    /// kind asked for (a public key to verify with, a private key to sign
    /// with).
    InvalidPem,
    /// A JWK Set document that is not a JSON object with a `keys` array.
    InvalidJwkSet,
    /// A JWK that is malformed (missing or mistyped members).
    InvalidJwk {
        /// The key's index in the set.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two keys share a `kid`.
    DuplicateKid {
        /// The duplicated key id.
        kid: String,
    },
    /// A verification key set holds private key material (`d`, `p`, ...).
    PrivateKeyMaterial {
        /// The key's index in the set.
        index: usize,
    },
    /// A JWK Set mixes symmetric (`oct`) and asymmetric keys.
    MixedKeySet,
    /// The key's `alg` does not fit its type or curve.
    AlgorithmMismatch,
    /// The key set holds no usable signature key.
    Empty,
    /// A signing key's private half does not match the public key given
    /// with it.
    KeyPairMismatch,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HmacTooShort { len } => write!(
                f,
                "hmac secret of {len} bytes is too short (at least 32 bytes, RFC 7518 section 3.2)"
            ),
            Self::RsaTooSmall { bits } => {
                write!(
                    f,
                    "rsa key of {bits} bits is too small (at least 2048 bits)"
                )
            }
            Self::RsaTooLarge { bits } => write!(
                f,
                "rsa key of {bits} bits is larger than the crypto backend verifies"
            ),
            Self::RsaBadExponent => f.write_str("rsa public exponent is invalid"),
            Self::RsaRocaVulnerable => f.write_str(
                "rsa key has the ROCA fingerprint (CVE-2017-15361) and can be factored; replace it",
            ),
            Self::InvalidEcKey => f.write_str("ec key is not a valid P-256 or P-384 public key"),
            Self::InvalidEdKey => f.write_str("ed25519 key is invalid"),
            Self::InvalidPem => {
                f.write_str("pem is not a usable rsa, ec (P-256/P-384) or ed25519 key")
            }
            Self::InvalidJwkSet => f.write_str("jwk set is not a json object with a `keys` array"),
            Self::InvalidJwk { index, reason } => write!(f, "jwk at index {index}: {reason}"),
            Self::DuplicateKid { kid } => write!(f, "duplicate kid {kid:?}"),
            Self::PrivateKeyMaterial { index } => write!(
                f,
                "jwk at index {index} contains private key material; publish only public keys"
            ),
            Self::MixedKeySet => f.write_str("jwk set mixes symmetric and asymmetric keys"),
            Self::AlgorithmMismatch => f.write_str("key `alg` does not fit the key type"),
            Self::Empty => f.write_str("no usable signature key"),
            Self::KeyPairMismatch => {
                f.write_str("the private key does not match the public key given with it")
            }
        }
    }
}

impl std::error::Error for KeyError {}
