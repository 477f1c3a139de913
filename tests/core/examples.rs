//! Each runnable example, driven through a real client: the per-route axum
//! app and the plain hyper server over HTTP (reqwest), the tonic greeter
//! through its generated tonic client. The tests use the examples' own
//! routers and serve functions.

use crate::common;

#[allow(dead_code)]
#[path = "../../examples/per_route.rs"]
mod per_route;

#[allow(dead_code)]
#[path = "../../examples/hyper.rs"]
mod hyper_example;

#[allow(dead_code)]
#[path = "../../examples/tonic.rs"]
mod tonic_example;

#[allow(dead_code)]
#[path = "../../examples/spiffe.rs"]
mod spiffe_example;

use common::*;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tower_jwt_auth::Authenticator;

#[tokio::test]
async fn per_route_example() {
    let auth = per_route::authenticator(SECRET).unwrap();
    let addr = serve(per_route::app(&auth)).await;
    let tok = |claims: Value| per_route::token(SECRET, claims).unwrap();
    let user = tok(json!({"sub": "ada", "aud": "api", "scope": "reports:read"}));
    let admin = tok(json!({"sub": "root", "aud": "api", "scope": "admin", "roles": ["admin"]}));
    let accountant = tok(json!({"sub": "bo", "aud": "billing", "roles": ["accountant"]}));

    let r = fetch(addr, "/public", None).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));

    assert_eq!(fetch(addr, "/me", None).await.status, 401);
    let r = fetch_bearer(addr, "/me", &user).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["sub"],
        "ada"
    );

    // any-of scopes
    assert_eq!(fetch_bearer(addr, "/reports", &user).await.status, 200);
    assert_eq!(fetch_bearer(addr, "/reports", &admin).await.status, 200);
    assert_eq!(
        fetch_bearer(addr, "/reports", &accountant).await.status,
        401,
        "aud billing"
    );
    let no_scope = tok(json!({"sub": "x", "aud": "api"}));
    assert_eq!(fetch_bearer(addr, "/reports", &no_scope).await.status, 403);

    // role and scope
    assert_eq!(fetch_bearer(addr, "/admin", &admin).await.status, 200);
    let r = fetch_bearer(addr, "/admin", &user).await;
    assert_eq!(r.status, 403);
    assert!(r.www.contains("insufficient_scope"), "{}", r.www);
    let role_only = tok(json!({"sub": "x", "aud": "api", "roles": ["admin"]}));
    assert_eq!(fetch_bearer(addr, "/admin", &role_only).await.status, 403);

    // optional
    assert_eq!(fetch(addr, "/optional", None).await.body, "anonymous");
    assert_eq!(
        fetch_bearer(addr, "/optional", &user).await.body,
        "signed in as ada"
    );
    assert_eq!(fetch_bearer(addr, "/optional", "a.b.c").await.status, 401);

    // the nested router with another audience
    let r = fetch_bearer(addr, "/billing/invoices", &accountant).await;
    assert_eq!((r.status, r.body.as_str()), (200, "invoices for bo"));
    let r = fetch_bearer(addr, "/billing/invoices", &user).await;
    assert_eq!(r.status, 401, "an `api` token does not open billing");
    assert!(r.www.contains("audience"), "{}", r.www);
    let api_accountant = tok(json!({"sub": "bo", "aud": "api", "roles": ["accountant"]}));
    assert_eq!(
        fetch_bearer(addr, "/billing/invoices", &api_accountant)
            .await
            .status,
        401
    );
    let billing_no_role = tok(json!({"sub": "bo", "aud": "billing"}));
    assert_eq!(
        fetch_bearer(addr, "/billing/invoices", &billing_no_role)
            .await
            .status,
        403
    );
    assert_eq!(fetch(addr, "/billing/nothing", None).await.status, 404);
    assert_eq!(
        fetch_bearer(addr, "/me", &accountant).await.status,
        401,
        "billing token on api"
    );
}

#[tokio::test]
async fn hyper_example() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(hyper_example::serve(listener, auth));
    let exp = jsonwebtoken::get_current_timestamp() + 600;
    let r = fetch_bearer(addr, "/", &hs256(&json!({"sub": "ada", "exp": exp}))).await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello ada\n"));
    let r = fetch(addr, "/", None).await;
    assert_eq!(
        (r.status, r.www.as_str(), r.body.as_str()),
        (401, "Bearer", "")
    );
    let r = fetch_bearer(addr, "/", &hs256(&json!({"sub": "ada", "exp": 1}))).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("invalid_token"));
    let r = fetch(addr, "/", Some("Bearer")).await;
    assert_eq!(r.status, 400);
}

mod tonic_tests {
    use super::*;
    use tonic::transport::Channel;
    use tonic::{Code, Request};
    use tonic_example::greeter::greeter_client::GreeterClient;
    use tonic_example::greeter::HelloRequest;

    pub(super) async fn say_hello(
        channel: &Channel,
        token: Option<&str>,
    ) -> Result<String, tonic::Status> {
        let mut req = Request::new(HelloRequest { name: "ada".into() });
        if let Some(t) = token {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        GreeterClient::new(channel.clone())
            .say_hello(req)
            .await
            .map(|r| r.into_inner().message)
    }

    fn exp() -> u64 {
        jsonwebtoken::get_current_timestamp() + 600
    }

    #[tokio::test]
    async fn tonic_example_with_the_generated_client() {
        let auth = Authenticator::builder()
            .hmac_secret(SECRET)
            .build()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(tonic_example::serve(listener, auth));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let ok = hs256(&json!({"sub": "u1", "scope": "greet", "exp": exp()}));
        assert_eq!(
            say_hello(&channel, Some(&ok)).await.unwrap(),
            "hello ada, signed in as u1"
        );
        let status = say_hello(&channel, None).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        let no_scope = hs256(&json!({"sub": "u1", "scope": "read", "exp": exp()}));
        let status = say_hello(&channel, Some(&no_scope)).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        let expired = hs256(&json!({"sub": "u1", "scope": "greet", "exp": 1}));
        let status = say_hello(&channel, Some(&expired)).await.unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unauthenticated, "the token has expired")
        );
    }

    /// The interceptor entry point (feature `tonic`) on the example's
    /// greeter: same verifier, same rules, same statuses.
    #[cfg(feature = "tonic")]
    #[tokio::test]
    async fn interceptor_on_the_example_greeter() {
        use tonic::transport::server::TcpIncoming;
        use tonic::transport::Server;
        use tonic_example::greeter::greeter_server::GreeterServer;

        let auth = Authenticator::builder()
            .hmac_secret(SECRET)
            .build()
            .unwrap();
        let interceptor = auth
            .layer()
            .require_any_role(["greeter", "admin"])
            .interceptor();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            Server::builder()
                .add_service(GreeterServer::with_interceptor(
                    tonic_example::MyGreeter,
                    interceptor,
                ))
                .serve_with_incoming(TcpIncoming::from(listener)),
        );
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let ok = hs256(&json!({"sub": "u2", "roles": ["greeter"], "exp": exp()}));
        assert_eq!(
            say_hello(&channel, Some(&ok)).await.unwrap(),
            "hello ada, signed in as u2"
        );
        let status = say_hello(&channel, None).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(
            status
                .metadata()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap(),
            "Bearer"
        );
        let no_role = hs256(&json!({"sub": "u2", "roles": ["user"], "exp": exp()}));
        let status = say_hello(&channel, Some(&no_role)).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        let forged = format!("{}x", ok);
        let status = say_hello(&channel, Some(&forged)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
}

#[tokio::test]
async fn spiffe_example() {
    let auth = spiffe_example::authenticator(&spiffe_example::bundle().unwrap()).unwrap();
    let addr = serve(spiffe_example::app(&auth)).await;
    let web = "spiffe://example.org/ns/prod/sa/web";
    let r = fetch_bearer(addr, "/whoami", &spiffe_example::svid(web).unwrap()).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap()["spiffe_id"],
        web
    );
    let dev = spiffe_example::svid("spiffe://example.org/ns/dev/sa/web").unwrap();
    assert_eq!(fetch_bearer(addr, "/whoami", &dev).await.status, 401);
    assert_eq!(fetch(addr, "/whoami", None).await.status, 401);
}
