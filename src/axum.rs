//! axum extractors (feature `axum`): [`Claims<C>`](crate::Claims) and
//! `Option<Claims<C>>`.
//!
//! ```no_run
//! use axum::{routing::get, Json, Router};
//! use tower_jwt_auth::{Authenticator, Claims};
//!
//! async fn me(claims: Claims) -> Json<serde_json::Value> {
//!     Json(claims.as_ref().clone())
//! }
//! async fn maybe(claims: Option<Claims>) -> String {
//!     format!("signed in: {}", claims.is_some())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = Authenticator::builder().hmac_secret(std::env::var("JWT_SECRET")?).build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(me).layer(auth.layer()))
//!     .route("/maybe", get(maybe).layer(auth.optional()));
//! # Ok(()) }
//! ```
//!
//! A handler that extracts claims on a route without the layer is a bug in
//! the application, not the client's fault: the rejection is a 500 whose body
//! says the layer is missing.

use std::any::TypeId;
use std::fmt;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::claims::{AuthMarker, Claims};
use crate::error::{AuthError, AuthErrorKind};

/// Why `Claims<C>` could not be extracted.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClaimsRejection {
    /// The route has no `JwtAuthLayer`: 500 with a message for the developer.
    MissingLayer,
    /// The layer decodes another claims type than the handler asks for: 500.
    /// The type names are in `Display` (for logs), never in the response.
    ClaimsTypeMismatch {
        /// The type the layer decodes.
        layer: &'static str,
        /// The type the handler asked for.
        handler: &'static str,
    },
    /// The route is optional and the request had no token: 401, with the
    /// layer's realm and resource metadata URL.
    Unauthenticated {
        /// How the layer that let the request through asks for a token.
        challenge: crate::response::Challenge,
    },
}

const MISSING_LAYER: &str = "tower-jwt-auth: no claims in the request extensions: did you add \
                             the JwtAuthLayer (`.layer(auth.layer())`) to this route?";

impl fmt::Display for ClaimsRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingLayer => f.write_str(MISSING_LAYER),
            Self::ClaimsTypeMismatch { layer, handler } => write!(
                f,
                "tower-jwt-auth: the layer on this route decodes claims as `{layer}` but the \
                 handler extracts `Claims<{handler}>`: build the authenticator with \
                 `.claims::<{handler}>()`"
            ),
            Self::Unauthenticated { .. } => f.write_str("no bearer token"),
        }
    }
}

impl std::error::Error for ClaimsRejection {}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated { challenge } => {
                challenge.http_response(&AuthError::new(AuthErrorKind::Missing))
            }
            Self::MissingLayer => {
                (StatusCode::INTERNAL_SERVER_ERROR, MISSING_LAYER).into_response()
            }
            mismatch @ Self::ClaimsTypeMismatch { .. } => {
                #[cfg(feature = "tracing")]
                tracing::error!("{mismatch}");
                let _ = mismatch;
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "tower-jwt-auth: the handler extracts another claims type than the layer \
                     decodes: build the authenticator with `.claims::<T>()` for the handler's `T`",
                )
                    .into_response()
            }
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        crate::response::Challenge::bearer(None).http_response(&self)
    }
}

fn lookup<C: Send + Sync + 'static>(parts: &Parts) -> Result<Option<Claims<C>>, ClaimsRejection> {
    if let Some(claims) = parts.extensions.get::<Claims<C>>() {
        return Ok(Some(claims.clone()));
    }
    match parts.extensions.get::<AuthMarker>() {
        None => Err(ClaimsRejection::MissingLayer),
        Some(m) if m.claims_type != TypeId::of::<C>() => Err(ClaimsRejection::ClaimsTypeMismatch {
            layer: m.claims_type_name,
            handler: std::any::type_name::<C>(),
        }),
        Some(_) => Ok(None),
    }
}

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        lookup(parts)?.ok_or_else(|| ClaimsRejection::Unauthenticated {
            challenge: parts
                .extensions
                .get::<AuthMarker>()
                .map(|m| m.challenge.clone())
                .unwrap_or_default(),
        })
    }
}

impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        lookup(parts)
    }
}

impl crate::resource::ResourceMetadata {
    /// The metadata as an axum router (feature `axum`), to
    /// [`merge`](::axum::Router::merge) into the application's: `GET` and
    /// `HEAD` on [`path`](Self::path), as [`service`](Self::service)
    /// answers them. Routers of resources on one host (each its own
    /// path) merge side by side.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower_jwt_auth::Authenticator;
    ///
    /// let auth = Authenticator::builder()
    ///     .hmac_secret("a secret of at least thirty-two bytes")
    ///     .resource("https://api.example/mcp")
    ///     .build()?;
    /// let metadata = auth.resource_metadata().expect("a resource is configured");
    /// let app: Router = Router::new()
    ///     .route("/mcp", get(|| async { "tools" }).layer(auth.layer()))
    ///     .merge(metadata.router());
    /// # let _ = app;
    /// # Ok::<(), tower_jwt_auth::ConfigError>(())
    /// ```
    pub fn router<S>(&self) -> ::axum::Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        ::axum::Router::new().route_service(self.path(), self.service())
    }
}
