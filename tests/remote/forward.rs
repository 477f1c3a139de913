//! Claims forwarded as headers when the decision waits on the network (a
//! key refetch for a new `kid`): the layer's pending path and the
//! forward-auth service's give the upstream the same headers as a ready
//! decision, and refuse an unsafe claim the same way.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use tower_jwt_auth::forward::{ClaimHeaders, ForwardAuth, Origin};
use tower_jwt_auth::testing::{JwksServer, TestIssuer};
use tower_jwt_auth::Authenticator;

fn mapping() -> ClaimHeaders {
    ClaimHeaders::new().map("sub", "x-user").expect("mapping")
}

/// An authenticator on `idp`'s JWK Set, built while only `old` is
/// published: tokens of a key published later wait for a refetch.
async fn rotated() -> (JwksServer, TestIssuer, Authenticator) {
    let idp = JwksServer::start().await.expect("idp");
    let old = TestIssuer::es256().with_issuer(idp.issuer());
    idp.publish(&old);
    let auth = Authenticator::builder()
        .jwks_url(idp.jwks_url())
        .issuer([idp.issuer()])
        .audience([old.audience()])
        .build_async()
        .await
        .expect("auth");
    let new = TestIssuer::es256().with_issuer(idp.issuer());
    idp.set_keys(&[&old, &new]);
    (idp, new, auth)
}

#[tokio::test]
async fn the_layer_forwards_claims_after_a_key_refetch() {
    let (idp, new, auth) = rotated().await;
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let record = seen.clone();
    let handler = get(move |headers: HeaderMap| {
        let record = record.clone();
        async move {
            record.lock().expect("lock").push(headers);
            "upstream"
        }
    });
    let layer = auth.layer().forward_claims(mapping());
    let addr = common::serve(Router::new().route("/api", handler.layer(layer))).await;
    let token = new.token().subject("ada").sign();
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api"))
        .bearer_auth(&token)
        .header("x-user", "admin")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(idp.fetches(), 2, "the decision waited on a refetch");
    let h = &seen.lock().unwrap()[0];
    let users: Vec<_> = h.get_all("x-user").iter().collect();
    assert_eq!(users, ["ada"]);
    assert!(h.get("authorization").is_none(), "{h:?}");
}

#[tokio::test]
async fn forward_auth_answers_with_the_mapped_headers_after_a_key_refetch() {
    let (idp, new, auth) = rotated().await;
    let gate = auth.layer().forward_claims(mapping()).into_gate();
    let app = Router::new().fallback_service(ForwardAuth::new(gate, Origin::request()));
    let addr = common::serve(app).await;
    let check = |sub: &str| {
        let token = new.token().subject(sub).sign();
        reqwest::Client::new()
            .get(format!("http://{addr}/check"))
            .bearer_auth(token)
            .send()
    };
    let res = check("ada").await.expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(idp.fetches(), 2, "the decision waited on a refetch");
    assert_eq!(res.headers()["x-user"], "ada");
    // The same refusal as a ready decision for an unsafe claim (the key is
    // known by now, so use a fresh authenticator that has to refetch).
    let (idp, new, auth) = rotated().await;
    let gate = auth.layer().forward_claims(mapping()).into_gate();
    let app = Router::new().fallback_service(ForwardAuth::new(gate, Origin::request()));
    let addr = common::serve(app).await;
    let token = new.token().subject("ada\r\nx-admin: 1").sign();
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/check"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403);
    assert_eq!(idp.fetches(), 2, "the decision waited on a refetch");
    assert!(res.headers().get("x-user").is_none());
}
