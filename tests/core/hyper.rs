//! Plain hyper 1 (no axum): the layer wraps a `service_fn`, served by hyper
//! on 127.0.0.1, with `Full<Bytes>` response bodies. Tokens come from the
//! crate's own `testing::TestIssuer`.

use crate::common;

use std::convert::Infallible;

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::Claims;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let sub = req
        .extensions()
        .get::<Claims>()
        .and_then(|c| c["sub"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "hello {sub}"
    )))))
}

#[tokio::test]
async fn the_layer_serves_plain_hyper() {
    let issuer = TestIssuer::eddsa();
    let auth = issuer.authenticator().build().unwrap();
    let svc = ServiceBuilder::new().layer(auth.layer()).service_fn(hello);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let svc = TowerToHyperService::new(svc.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });

    let r = fetch_bearer(addr, "/", &issuer.token().subject("ada").sign()).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello ada"));
    let r = fetch(addr, "/", None).await;
    assert_eq!(
        (r.status, r.www.as_str(), r.body.as_str()),
        (401, "Bearer", "")
    );
    let r = fetch_bearer(addr, "/", &issuer.token().subject("ada").expired().sign()).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("invalid_token"));
}
