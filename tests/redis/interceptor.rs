//! The tonic interceptor asks the same request decision as the layer: a
//! real tonic server (the standard health service) and a real tonic client,
//! with DPoP and with revocation through a real redis-server.

use crate::common;
use crate::common::redis_server;

use std::time::Duration;

use common::dpop::{proof_key, Req};
use jsonwebtoken::Algorithm;
use redis_server::RedisServer;
use serde_json::json;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tower_jwt_auth::revocation::{RedisRevocation, RedisStore, Revocation};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    clock::Clock, clock::SystemClock, dpop::DpopConfig, dpop::DpopMode, tonic::JwtInterceptor,
};

const PUBLIC_URL: &str = "http://grpc.test";
const CHECK_PATH: &str = "/grpc.health.v1.Health/Check";

async fn start(interceptor: JwtInterceptor) -> Channel {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(InterceptedService::new(health, interceptor))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// One health check with these metadata entries.
async fn check(channel: &Channel, metadata: &[(&'static str, String)]) -> Result<(), Code> {
    let mut req = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    for (name, value) in metadata {
        req.metadata_mut().insert(*name, value.parse().unwrap());
    }
    HealthClient::new(channel.clone())
        .check(req)
        .await
        .map(|_| ())
        .map_err(|s| s.code())
}

#[tokio::test]
async fn a_dpop_bound_token_is_accepted_through_the_interceptor() {
    let issuer = TestIssuer::es256();
    let auth = issuer
        .authenticator()
        .dpop(DpopConfig::new(DpopMode::Allowed).public_url(PUBLIC_URL))
        .build()
        .unwrap();
    let channel = start(auth.interceptor()).await;
    let key = proof_key(Algorithm::ES256);
    let token = issuer.token().claim("cnf", json!({"jkt": key.jkt})).sign();
    let proof = || {
        let mut req = Req::with(
            &key,
            PUBLIC_URL,
            CHECK_PATH,
            token.clone(),
            SystemClock.now(),
        );
        req.claims["htm"] = json!("POST");
        req.proof(&key)
    };
    let dpop = |proof: &str| {
        [
            ("authorization", format!("DPoP {token}")),
            ("dpop", proof.to_owned()),
        ]
    };

    let first = proof();
    assert_eq!(check(&channel, &dpop(&first)).await, Ok(()));
    // The same checks as through the layer: a replayed proof, a bound
    // token sent as bearer, a proof for another server.
    assert_eq!(
        check(&channel, &dpop(&first)).await,
        Err(Code::Unauthenticated),
        "replay"
    );
    let bearer = [("authorization", format!("Bearer {token}"))];
    assert_eq!(
        check(&channel, &bearer).await,
        Err(Code::Unauthenticated),
        "bound token as bearer"
    );
    let mut elsewhere = Req::with(
        &key,
        "http://other.test",
        CHECK_PATH,
        token.clone(),
        SystemClock.now(),
    );
    elsewhere.claims["htm"] = json!("POST");
    assert_eq!(
        check(&channel, &dpop(&elsewhere.proof(&key))).await,
        Err(Code::Unauthenticated),
        "proof for another server"
    );
    assert_eq!(
        check(&channel, &dpop(&proof())).await,
        Ok(()),
        "a fresh proof"
    );
}

#[tokio::test]
async fn with_redis_revocation_the_interceptor_accepts_by_the_second_call() {
    let redis = RedisServer::start();
    let store = RedisStore::open(&redis.url()).unwrap();
    let revocation = RedisRevocation::builder(store).build();
    let issuer = TestIssuer::hs256();
    let auth = issuer
        .authenticator()
        .revocation(revocation.clone())
        .build()
        .unwrap();
    let channel = start(auth.interceptor()).await;
    let bearer = |token: &str| [("authorization", format!("Bearer {token}"))];

    let valid = issuer.token().claim("jti", "valid-1").sign();
    let first = check(&channel, &bearer(&valid)).await;
    // The first call may find no answer at hand (then UNAVAILABLE, and the
    // lookup goes on in the background); never forever.
    assert!(
        matches!(first, Ok(()) | Err(Code::Unavailable)),
        "{first:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        check(&channel, &bearer(&valid)).await,
        Ok(()),
        "second call"
    );

    // A revoked token is never accepted, whatever the call.
    let revoked = issuer.token().claim("jti", "revoked-1").sign();
    revocation
        .revoke_token("revoked-1", SystemClock.now() + 3600)
        .await
        .unwrap();
    for call in 0..3 {
        let answer = check(&channel, &bearer(&revoked)).await;
        assert!(
            matches!(answer, Err(Code::Unavailable | Code::Unauthenticated)),
            "call {call}: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        check(&channel, &bearer(&revoked)).await,
        Err(Code::Unauthenticated)
    );
}

/// The interceptor's statuses carry the step-up facts and the resource
/// metadata URL in `www-authenticate`, as the layer's do.
#[tokio::test]
async fn the_interceptor_answers_step_up_with_the_resource_metadata() {
    let issuer = TestIssuer::hs256().with_audience("https://grpc.example");
    let auth = issuer
        .authenticator()
        .resource("https://grpc.example")
        .build()
        .unwrap();
    let interceptor = auth
        .layer()
        .max_auth_age(Duration::from_secs(60))
        .interceptor();
    let channel = start(interceptor).await;
    let old = issuer
        .token()
        .claim("auth_time", issuer.now() - 3600)
        .sign();
    let mut req = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {old}").parse().unwrap());
    let status = HealthClient::new(channel.clone())
        .check(req)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let www = status.metadata().get("www-authenticate").unwrap();
    let www = www.to_str().unwrap();
    assert!(
        www.starts_with("Bearer error=\"insufficient_user_authentication\""),
        "{www}"
    );
    assert!(www.contains("max_age=60"), "{www}");
    assert!(
        www.ends_with(
            "resource_metadata=\"https://grpc.example/.well-known/oauth-protected-resource\""
        ),
        "{www}"
    );
    let fresh = issuer.token().claim("auth_time", issuer.now()).sign();
    let auth = vec![("authorization", format!("Bearer {fresh}"))];
    assert_eq!(check(&channel, &auth).await, Ok(()));
}
