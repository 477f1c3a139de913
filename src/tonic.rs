//! A tonic interceptor (feature `tonic`), for services that prefer
//! `with_interceptor` to a tower layer. It is built on the same verifier
//! and route rules as [`JwtAuthLayer`], and answers with a [`Status`]:
//! `UNAUTHENTICATED` (16), `PERMISSION_DENIED` (7) for a missing scope or
//! role, `UNAVAILABLE` (14) when keys are unavailable. An interceptor is
//! synchronous: it cannot wait for a key refetch, so with remote keys a
//! token whose `kid` was just published is refused until the refetch it
//! starts completes; a layer (`Server::builder().layer(auth.layer())`)
//! waits for that refetch instead.
//!
//! ```
//! use tonic::Request;
//! use tonic::service::Interceptor;
//! use tower_jwt_auth::Authenticator;
//!
//! let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
//! let mut interceptor = auth.layer().require_scope("greet").interceptor();
//! // GreeterServer::with_interceptor(greeter, interceptor) in a server;
//! // here, a call without a token:
//! let status = interceptor.call(Request::new(())).unwrap_err();
//! assert_eq!(status.code(), tonic::Code::Unauthenticated);
//! # Ok::<(), tower_jwt_auth::ConfigError>(())
//! ```
//!
//! The handler reads the claims as with the layer:
//! `request.extensions().get::<Claims>()`.

use std::fmt;

use http::Uri;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Code, Request, Status};

use crate::authenticator::Authenticator;
use crate::claims::AuthMarker;
use crate::error::AuthError;
use crate::layer::{authenticate_now, JwtAuthLayer};

/// A tonic [`Interceptor`] that authenticates each call; made by
/// [`JwtAuthLayer::interceptor`] or [`Authenticator::interceptor`].
pub struct JwtInterceptor<C = serde_json::Value> {
    layer: JwtAuthLayer<C>,
}

impl<C> Clone for JwtInterceptor<C> {
    fn clone(&self) -> Self {
        Self {
            layer: self.layer.clone(),
        }
    }
}

impl<C> fmt::Debug for JwtInterceptor<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtInterceptor")
            .field("layer", &self.layer)
            .finish()
    }
}

impl<C> JwtAuthLayer<C> {
    /// The same authentication and route rules as a tonic interceptor. The
    /// layer's token sources apply to the call's metadata (the URI is not
    /// available to an interceptor, so a query source finds nothing).
    #[must_use]
    pub fn interceptor(self) -> JwtInterceptor<C> {
        JwtInterceptor { layer: self }
    }
}

impl<C> Authenticator<C> {
    /// An interceptor that requires a valid token:
    /// `GreeterServer::with_interceptor(greeter, auth.interceptor())`.
    /// For route rules, start from a layer:
    /// `auth.layer().require_role("admin").interceptor()`.
    #[must_use]
    pub fn interceptor(&self) -> JwtInterceptor<C> {
        self.layer().interceptor()
    }
}

impl<C: Send + Sync + 'static> Interceptor for JwtInterceptor<C> {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let (metadata, mut extensions, ()) = request.into_parts();
        let headers = metadata.into_headers();
        let realm = self.layer.verifier().realm_arc();
        match authenticate_now(&self.layer, &headers, &Uri::default()) {
            Ok(claims) => {
                crate::observe::accepted(claims.is_some());
                if let Some(claims) = claims {
                    extensions.insert(claims);
                }
                extensions.insert(AuthMarker::of::<C>(realm));
                Ok(Request::from_parts(
                    MetadataMap::from_headers(headers),
                    extensions,
                    (),
                ))
            }
            Err(error) => {
                error.trace();
                Err(to_status(&error, realm.as_deref()))
            }
        }
    }
}

/// The gRPC status of a rejection, with the fixed description as message
/// and the RFC 6750 challenge as `www-authenticate` metadata.
#[must_use]
pub fn to_status(error: &AuthError, realm: Option<&str>) -> Status {
    let code = match error.grpc_status() {
        7 => Code::PermissionDenied,
        14 => Code::Unavailable,
        _ => Code::Unauthenticated,
    };
    let mut status = Status::new(code, error.kind().description());
    if let Some(challenge) = error
        .www_authenticate(realm)
        .and_then(|v| MetadataValue::try_from(v.as_bytes()).ok())
    {
        status.metadata_mut().insert("www-authenticate", challenge);
    }
    status
}
