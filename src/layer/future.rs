//! The [`ResponseFuture`] of [`JwtAuth`](super::JwtAuth).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::Responder;
use crate::gate::Pending;
use crate::response::ErrorResponder;

pin_project! {
    /// The response future of [`JwtAuth`](crate::JwtAuth).
    ///
    /// The wrapped service's future, a ready rejection, or (only when the
    /// decision waits on I/O, such as the refetch of a remote key set for
    /// an unknown `kid`) a pending decision followed by the wrapped
    /// service's future. The first two are never boxed.
    pub struct ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        kind: Kind<S, ReqBody, C, R>,
        // A fresh DPoP nonce for the response (RFC 9449 §8.2).
        dpop_nonce: Option<HeaderValue>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>>,
    {
        Inner { #[pin] future: S::Future },
        Reject { response: Option<S::Response> },
        Pending {
            #[pin]
            decision: Pending<C>,
            waiting: Option<Waiting<S, ReqBody, R>>,
        },
    }
}

/// What a pending decision needs to go on: the inner service that was made
/// ready for this request (the one in `JwtAuth` was swapped for a clone, as
/// tower-http's async authorization does), the request, and the responder.
struct Waiting<S, ReqBody, R> {
    service: S,
    request: Request<ReqBody>,
    responder: Responder<R>,
}

impl<S, ReqBody, C, R> ResponseFuture<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn inner(future: S::Future, dpop_nonce: Option<HeaderValue>) -> Self {
        Self {
            kind: Kind::Inner { future },
            dpop_nonce,
        }
    }

    pub(crate) fn reject(response: S::Response) -> Self {
        Self {
            kind: Kind::Reject {
                response: Some(response),
            },
            dpop_nonce: None,
        }
    }

    pub(crate) fn pending(
        decision: Pending<C>,
        service: S,
        request: Request<ReqBody>,
        responder: Responder<R>,
    ) -> Self {
        Self {
            kind: Kind::Pending {
                decision,
                waiting: Some(Waiting {
                    service,
                    request,
                    responder,
                }),
            },
            dpop_nonce: None,
        }
    }
}

impl<S, ReqBody, ResBody, C, R> Future for ResponseFuture<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: Send + Sync + 'static,
    R: ErrorResponder<ResBody>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            match this.kind.as_mut().project() {
                KindProj::Inner { future } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(nonce) = this.dpop_nonce.take() {
                        response.headers_mut().insert("dpop-nonce", nonce);
                    }
                    return Poll::Ready(Ok(response));
                }
                KindProj::Reject { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("ResponseFuture polled after completion")))
                }
                KindProj::Pending { decision, waiting } => {
                    let decided = ready!(decision.poll(cx));
                    let Waiting {
                        mut service,
                        mut request,
                        responder,
                    } = waiting
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match decided {
                        Ok(accepted) => {
                            *this.dpop_nonce = accepted.dpop_nonce().cloned();
                            accepted.forward_into(request.headers_mut());
                            accepted.insert_into(request.extensions_mut());
                            let future = service.call(request);
                            this.kind.set(Kind::Inner { future });
                        }
                        Err(rejection) => {
                            return Poll::Ready(Ok(responder.respond(&rejection, &request)));
                        }
                    }
                }
            }
        }
    }
}

impl<S, ReqBody, C, R> std::fmt::Debug for ResponseFuture<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use http::StatusCode;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::error::{AuthError, AuthErrorKind};
    use crate::gate::Accepted;
    use crate::response::{Challenge, DefaultErrorResponse, Rejection};
    use crate::Claims;

    /// An inner service that counts its calls and answers with the `sub` of
    /// the claims it was given.
    fn echo(
        calls: Arc<AtomicUsize>,
    ) -> impl Service<
        Request<()>,
        Response = Response<String>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<String>, Infallible>>,
    > + Clone {
        tower::service_fn(move |req: Request<()>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let sub = req
                .extensions()
                .get::<Claims>()
                .and_then(|c| c.as_ref()["sub"].as_str().map(str::to_owned))
                .unwrap_or_default();
            async move { Ok::<_, Infallible>(Response::new(sub)) }
        })
    }

    #[tokio::test]
    async fn pending_then_accepted_calls_the_inner_service_with_the_claims() {
        let calls = Arc::new(AtomicUsize::new(0));
        let service = echo(calls.clone()).ready_oneshot().await.unwrap();
        let decision = Pending::<Value>::from_future(async {
            tokio::task::yield_now().await;
            let claims = Claims::new(serde_json::json!({"sub": "alice"}));
            Ok(Accepted::new(Some(claims), None, Challenge::default()))
        });
        let future = ResponseFuture::pending(
            decision,
            service,
            Request::new(()),
            Responder::completing(DefaultErrorResponse),
        );
        let response = future.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body(), "alice");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn pending_then_rejected_answers_without_calling_the_inner_service() {
        let calls = Arc::new(AtomicUsize::new(0));
        let service = echo(calls.clone());
        let decision = Pending::<Value>::from_future(async {
            tokio::task::yield_now().await;
            let error = AuthError::new(AuthErrorKind::KeySourceUnavailable);
            Err(Rejection::new(error, Challenge::default()))
        });
        let future = ResponseFuture::pending(
            decision,
            service,
            Request::new(()),
            Responder::completing(DefaultErrorResponse),
        );
        let response = future.await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    /// A custom responder's bare 401 from the pending path (the decision
    /// waited on I/O) gets the challenge, as from a ready rejection.
    #[tokio::test]
    async fn pending_then_rejected_completes_a_custom_responders_answer() {
        let calls = Arc::new(AtomicUsize::new(0));
        let service = echo(calls.clone());
        let decision = Pending::<Value>::from_future(async {
            tokio::task::yield_now().await;
            let challenge =
                Challenge::bearer(Some("api")).with_resource_metadata("https://api.example/meta");
            Err(Rejection::new(AuthErrorKind::Expired.into(), challenge))
        });
        let bare = |e: &AuthError, _: &crate::response::RequestHead<'_>| {
            let mut res = Response::new(String::from("custom"));
            *res.status_mut() = e.status();
            res
        };
        let future = ResponseFuture::pending(
            decision,
            service,
            Request::new(()),
            Responder::completing(bare),
        );
        let response = future.await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.body(), "custom");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"api\", error=\"invalid_token\", \
             error_description=\"the token has expired\", \
             resource_metadata=\"https://api.example/meta\""
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
