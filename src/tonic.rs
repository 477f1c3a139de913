//! The tonic interceptor (feature `tonic`): an adapter around the [`Gate`].

use std::fmt;

use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Code, Request, Status};

use crate::authenticator::Authenticator;
use crate::gate::{Decision, Gate};
use crate::layer::JwtAuthLayer;
use crate::response::Rejection;

/// A tonic interceptor (feature `tonic`), for services that prefer
/// `with_interceptor` to a tower layer.
///
/// It asks the same [`Gate`] as
/// [`JwtAuthLayer`] (so DPoP, route rules and revocation behave the same)
/// and answers with a [`Status`]: `UNAUTHENTICATED` (16),
/// `PERMISSION_DENIED` (7) for a missing scope or role, `UNAVAILABLE` (14)
/// when keys, the revocation list or the replay store are unavailable.
///
/// # Layer or interceptor?
/// Prefer the layer (`Server::builder().layer(auth.layer())`). An
/// interceptor is synchronous: it cannot wait for I/O, so a decision that
/// must wait is started in the background and that one call is refused:
/// - a token whose `kid` was just published by a remote key source gets
///   `UNAUTHENTICATED` until the refetch it starts completes;
/// - with a revocation list over the network (`RedisRevocation`), a token
///   whose answer is not in the list's local cache gets `UNAVAILABLE`, and
///   the lookup it starts fills that cache, so the next call with it is
///   decided at once (within the local cache's lifetime, 1 s by default);
/// - with a replay store over the network (`RedisReplayStore`), every DPoP
///   call would wait on it: DPoP through an interceptor needs an in-memory
///   store.
///
/// The layer waits in each of these cases, and the call goes through.
///
/// ```
/// use tonic::Request;
/// use tonic::service::Interceptor;
/// use tower_jwt_auth::Authenticator;
///
/// let auth = Authenticator::builder().hmac_secret([7u8; 32]).build()?;
/// let mut interceptor = auth.layer().require_scope("greet").interceptor();
/// // GreeterServer::with_interceptor(greeter, interceptor) in a server;
/// // here, a call without a token:
/// let status = interceptor.call(Request::new(())).unwrap_err();
/// assert_eq!(status.code(), tonic::Code::Unauthenticated);
/// # Ok::<(), tower_jwt_auth::ConfigError>(())
/// ```
///
/// The handler reads the claims as with the layer:
/// `request.extensions().get::<Claims>()`.
///
/// Made by [`JwtAuthLayer::interceptor`] or [`Authenticator::interceptor`].
pub struct JwtInterceptor<C = serde_json::Value> {
    gate: Gate<C>,
}

impl<C> Clone for JwtInterceptor<C> {
    fn clone(&self) -> Self {
        Self {
            gate: self.gate.clone(),
        }
    }
}

impl<C> fmt::Debug for JwtInterceptor<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtInterceptor")
            .field("gate", &self.gate)
            .finish()
    }
}

impl<C> JwtAuthLayer<C> {
    /// The same authentication and route rules as a tonic interceptor.
    ///
    /// The
    /// layer's token sources apply to the call's metadata (the URI is not
    /// available to an interceptor, so a query source finds nothing, and a
    /// DPoP proof is checked against the path `/`: give DPoP routes of a
    /// gRPC server a [`public_url`](crate::dpop::DpopConfig::public_url) that
    /// clients put in their proofs' `htu`).
    #[must_use]
    pub fn interceptor(self) -> JwtInterceptor<C> {
        JwtInterceptor {
            gate: self.into_gate(),
        }
    }
}

impl<C> Authenticator<C> {
    /// An interceptor that requires a valid token:
    /// `GreeterServer::with_interceptor(greeter, auth.interceptor())`.
    ///
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
        // gRPC calls are POSTs; tonic gives interceptors no URI.
        let decision = self.gate.decide_at(&http::Method::POST, None, &headers);
        let rejection = match decision {
            Decision::Accept(accepted) => {
                accepted.insert_into(&mut extensions);
                return Ok(Request::from_parts(
                    MetadataMap::from_headers(headers),
                    extensions,
                    (),
                ));
            }
            Decision::Reject(rejection) => rejection,
            Decision::Pending(pending) => pending.detach(),
        };
        Err(to_status(&rejection))
    }
}

/// The gRPC status of a rejection, with the fixed description as message,
/// the first challenge as `www-authenticate` metadata, and a `dpop-nonce`
/// when due.
#[must_use]
pub fn to_status(rejection: &Rejection) -> Status {
    let error = rejection.error();
    // The one table: `AuthErrorKind::grpc_status`.
    let code = Code::from(i32::from(error.grpc_status()));
    let mut status = Status::new(code, error.kind().description());
    let challenge = rejection.challenge();
    if let Some(value) = challenge
        .www_authenticate(error)
        .into_iter()
        .next()
        .and_then(|v| MetadataValue::try_from(v.as_bytes()).ok())
    {
        status.metadata_mut().insert("www-authenticate", value);
    }
    if let Some(nonce) = challenge
        .dpop_nonce()
        .and_then(|v| MetadataValue::try_from(v.as_bytes()).ok())
    {
        status.metadata_mut().insert("dpop-nonce", nonce);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{AuthError, AuthErrorKind, ALL};
    use crate::response::Challenge;

    /// The status comes from `AuthErrorKind::grpc_status`, the one table,
    /// for every kind: 403s are `PERMISSION_DENIED`, 503s `UNAVAILABLE`,
    /// the rest `UNAUTHENTICATED`.
    #[test]
    fn to_status_uses_the_kinds_grpc_code() {
        for kind in ALL {
            let rejection = Rejection::new(AuthError::new(kind), Challenge::default());
            let status = to_status(&rejection);
            assert_eq!(
                status.code() as i32,
                i32::from(kind.grpc_status()),
                "{kind:?}"
            );
            let named = match kind.status().as_u16() {
                403 => Code::PermissionDenied,
                503 => Code::Unavailable,
                _ => Code::Unauthenticated,
            };
            assert_eq!(status.code(), named, "{kind:?}");
            assert_eq!(status.message(), kind.description(), "{kind:?}");
        }
        assert_eq!(
            to_status(&Rejection::new(
                AuthErrorKind::Forbidden.into(),
                Challenge::default()
            ))
            .code(),
            Code::PermissionDenied
        );
    }
}
