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
use std::ops::Deref;
use std::sync::Arc;

use serde_json::Value;

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

/// Left in the extensions by every `JwtAuth` that let a request through, so
/// an extractor can tell "no layer on this route" (a bug: 500) from "optional
/// route, no token" and from "the layer decodes another claims type".
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
pub(crate) struct AuthMarker {
    pub(crate) claims_type: TypeId,
    pub(crate) claims_type_name: &'static str,
    /// The layer's realm, for the extractor's own challenges.
    pub(crate) realm: Option<Arc<str>>,
}

impl AuthMarker {
    pub(crate) fn of<C: 'static>(realm: Option<Arc<str>>) -> Self {
        Self {
            claims_type: TypeId::of::<C>(),
            claims_type_name: std::any::type_name::<C>(),
            realm,
        }
    }
}
