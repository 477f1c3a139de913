//! The layer in front of a real tonic gRPC server (the standard health
//! service, no code generation), called by a real tonic client.

use crate::common;

use common::*;
use serde_json::json;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::Authenticator;

async fn start(layer: tower_jwt_auth::JwtAuthLayer) -> Channel {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn check(channel: &Channel, token: Option<&str>) -> Result<(), Code> {
    let mut req = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    HealthClient::new(channel.clone())
        .check(req)
        .await
        .map(|_| ())
        .map_err(|s| s.code())
}

#[tokio::test]
async fn rejections_are_grpc_statuses_with_a_message() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let channel = start(auth.layer()).await;
    let mut req = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", hs256(&json!({"exp": 1})))
            .parse()
            .unwrap(),
    );
    let status = HealthClient::new(channel).check(req).await.unwrap_err();
    // A trailers-only gRPC answer, not an HTTP 401 that tonic had to guess at.
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the token has expired");
}

#[tokio::test]
async fn grpc_calls_need_a_valid_token() {
    let issuer = TestIssuer::rs256();
    let auth = issuer.authenticator().build().unwrap();
    let channel = start(auth.layer()).await;
    assert_eq!(check(&channel, Some(&issuer.token().sign())).await, Ok(()));
    assert_eq!(check(&channel, None).await, Err(Code::Unauthenticated));
    let expired = issuer.token().expired().sign();
    assert_eq!(
        check(&channel, Some(&expired)).await,
        Err(Code::Unauthenticated)
    );

    let scoped = start(auth.layer().require_scope("health")).await;
    let no_scope = issuer.token().scope("read").sign();
    assert_eq!(
        check(&scoped, Some(&no_scope)).await,
        Err(Code::PermissionDenied)
    );
    let with_scope = issuer.token().scope("health").sign();
    assert_eq!(check(&scoped, Some(&with_scope)).await, Ok(()));
}

/// Step-up and the resource metadata through a real tonic client: the
/// status is UNAUTHENTICATED with the step-up description, and the
/// `www-authenticate` metadata is the HTTP challenge.
#[tokio::test]
async fn step_up_is_unauthenticated_and_names_the_resource_metadata() {
    let issuer = TestIssuer::hs256().with_audience("https://grpc.example");
    let auth = issuer
        .authenticator()
        .resource("https://grpc.example")
        .build()
        .unwrap();
    let channel = start(auth.layer().require_acr(["urn:mfa"])).await;
    let mut req = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    let token = issuer.token().claim("acr", "urn:pwd").sign();
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let status = HealthClient::new(channel.clone())
        .check(req)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(
        status.message(),
        "a stronger or more recent authentication is required"
    );
    let www = status.metadata().get("www-authenticate").unwrap();
    assert_eq!(
        www.to_str().unwrap(),
        "Bearer error=\"insufficient_user_authentication\", error_description=\"a stronger or \
         more recent authentication is required\", acr_values=\"urn:mfa\", \
         resource_metadata=\"https://grpc.example/.well-known/oauth-protected-resource\""
    );
    let stepped_up = issuer.token().claim("acr", "urn:mfa").sign();
    assert_eq!(check(&channel, Some(&stepped_up)).await, Ok(()));
}
