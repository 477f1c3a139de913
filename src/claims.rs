//! [`Claims`]: what the layer puts into the request extensions.
//!
//! ```
//! use tower_jwt_auth::Claims;
//!
//! #[derive(serde::Deserialize)]
//! struct MyClaims { sub: String }
//!
//! fn handler(claims: Claims<MyClaims>) -> String {
//!     format!("hello {}", claims.sub) // derefs to MyClaims
//! }
//! ```

use std::any::TypeId;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The verified claims of a request's token: an `Arc<C>`, cheap to clone.
///
/// `C` is any `serde::de::DeserializeOwned` type; the default
/// `serde_json::Value` keeps the whole claims object. With the `axum`
/// feature, `Claims<C>` and `Option<Claims<C>>` are extractors.
#[derive(Debug)]
pub struct Claims<C = Value>(pub Arc<C>);

impl<C> Claims<C> {
    /// Wraps verified claims.
    #[must_use]
    pub fn new(claims: C) -> Self {
        Self(Arc::new(claims))
    }

    /// The shared claims.
    #[must_use]
    pub fn into_inner(self) -> Arc<C> {
        self.0
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> AsRef<C> for Claims<C> {
    fn as_ref(&self) -> &C {
        &self.0
    }
}

/// The verified claims exactly as the token carries them: the payload's
/// JSON text, untouched.
///
/// Numbers keep every digit (`serde_json::Value` turns
/// an integer beyond 64 bits into a float), member order and spelling stay
/// as the issuer wrote them, and no serde_json feature (`arbitrary_precision`,
/// `raw_value`) has to be turned on for your whole build.
///
/// The same checks run as for any claims type: duplicate member names at any
/// depth are rejected, registered claims are type- and time-checked, route
/// scopes and roles apply. Use it with
/// [`AuthenticatorBuilder::raw_claims`](crate::AuthenticatorBuilder::raw_claims)
/// and extract `Claims<RawClaims>`.
///
/// ```
/// use tower_jwt_auth::{Authenticator, Claims, RawClaims};
///
/// let auth = Authenticator::builder()
///     .raw_claims()
///     .hmac_secret("a secret of at least thirty-two bytes")
///     .build()?;
/// // in a handler: `claims: Claims<RawClaims>`, then `claims.as_str()`
/// # let _ = auth;
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawClaims(Box<str>);

impl RawClaims {
    /// The claims object's JSON text, as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Deserializes the claims into `T` (from the text, so a `u128` or a
    /// string-typed big number field gets every digit).
    ///
    /// # Errors
    /// When the claims do not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl fmt::Debug for RawClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawClaims").field(&&*self.0).finish()
    }
}

impl fmt::Display for RawClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RawClaims {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The payload, already checked to be one JSON object (so UTF-8).
pub(crate) fn decode_raw(bytes: &[u8], _: &mut Option<Map<String, Value>>) -> Option<RawClaims> {
    std::str::from_utf8(bytes)
        .ok()
        .map(|s| RawClaims(Box::from(s)))
}

/// Left in the extensions by every `JwtAuth` that let a request through, so
/// an extractor can tell "no layer on this route" (a bug: 500) from "optional
/// route, no token" and from "the layer decodes another claims type".
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) struct AuthMarker {
    pub(crate) claims_type: TypeId,
    pub(crate) claims_type_name: &'static str,
    /// The layer's `Bearer` challenge (realm, resource metadata), for the
    /// extractor's own 401.
    pub(crate) challenge: crate::response::Challenge,
}

impl AuthMarker {
    pub(crate) fn of<C: 'static>(challenge: crate::response::Challenge) -> Self {
        Self {
            claims_type: TypeId::of::<C>(),
            claims_type_name: std::any::type_name::<C>(),
            challenge,
        }
    }
}
