//! `testing::TestIssuer` as a user's test would use it: a real axum server on
//! 127.0.0.1, reqwest as the client, tokens minted in one line, no key files.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use common::{fetch, fetch_bearer, serve};
use serde::Deserialize;
use tower_jwt_auth::{clock::FixedClock, testing::TestIssuer};
use tower_jwt_auth::{keys::Algorithm, Claims};

#[derive(Deserialize)]
struct MyClaims {
    sub: String,
}

async fn me(claims: Claims<MyClaims>) -> String {
    format!("hello {}", claims.sub)
}

fn app(issuer: &TestIssuer) -> Router {
    let auth = issuer.authenticator().claims::<MyClaims>().build().unwrap();
    Router::new()
        .route("/me", get(me).layer(auth.layer()))
        .route("/admin", get(me).layer(auth.layer().require_scope("admin")))
}

#[tokio::test]
async fn each_key_type_mints_tokens_the_app_accepts_and_rejects_by_name() {
    for alg in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let issuer = TestIssuer::new(alg);
        let addr = serve(app(&issuer)).await;
        let status = |token: String| async move { fetch_bearer(addr, "/me", &token).await.status };

        let r = fetch_bearer(addr, "/me", &issuer.token().subject("ada").sign()).await;
        assert_eq!((r.status, r.body.as_str()), (200, "hello ada"), "{alg:?}");
        assert_eq!(fetch(addr, "/me", None).await.status, 401, "{alg:?}");
        assert_eq!(
            status(issuer.token().expired().sign()).await,
            401,
            "{alg:?}"
        );
        assert_eq!(status(issuer.token().not_yet_valid().sign()).await, 401);
        assert_eq!(
            status(issuer.token().audience("other-api").sign()).await,
            401
        );
        assert_eq!(
            status(issuer.token().issuer("https://evil").sign()).await,
            401
        );
        // Another issuer's key: unknown kid; with the same kid, a bad
        // signature (RSA issuers share one key under rust-crypto alone).
        let other = TestIssuer::new(alg);
        let r = fetch_bearer(addr, "/me", &other.token().sign()).await;
        assert!(r.www.contains("no key matches"), "{alg:?}: {}", r.www);
        let shared_rsa = cfg!(not(feature = "aws-lc-rs")) && alg == Algorithm::RS256;
        if !shared_rsa {
            let same_kid = other.with_kid(issuer.kid());
            let r = fetch_bearer(addr, "/me", &same_kid.token().sign()).await;
            assert!(r.www.contains("signature is invalid"), "{alg:?}: {}", r.www);
        }

        let admin = |scope: &str| issuer.token().scope(scope).sign();
        let r = fetch_bearer(addr, "/admin", &admin("read")).await;
        assert_eq!(r.status, 403, "{alg:?}");
        assert!(r.www.contains("insufficient_scope"), "{}", r.www);
        assert_eq!(
            fetch_bearer(addr, "/admin", &admin("read admin"))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn a_shared_clock_moves_time_for_tokens_and_server_alike() {
    let clock = Arc::new(FixedClock::new(1_800_000_000));
    let issuer = TestIssuer::es256().with_clock(Arc::clone(&clock));
    let addr = serve(app(&issuer)).await;
    let token = issuer.token().expires_in(Duration::from_secs(300)).sign();
    assert_eq!(fetch_bearer(addr, "/me", &token).await.status, 200);
    // exp + the default 60 s leeway, minus one second: still accepted.
    clock.advance(Duration::from_secs(359));
    assert_eq!(fetch_bearer(addr, "/me", &token).await.status, 200);
    clock.advance(Duration::from_secs(1));
    let r = fetch_bearer(addr, "/me", &token).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("has expired"), "{}", r.www);
}

/// The README's "Testing your app" example, verbatim in spirit: the app's
/// router called in-process with `oneshot`.
#[tokio::test]
async fn readme_testing_your_app() {
    use axum::body::Body;
    use http::{Request, StatusCode};
    use tower::ServiceExt;

    let issuer = TestIssuer::hs256();
    let app = app(&issuer);
    let get = |token: String| {
        let req = Request::get("/admin").header("authorization", format!("Bearer {token}"));
        app.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    let admin = issuer.token().scope("admin").sign();
    assert_eq!(get(admin).await.unwrap().status(), StatusCode::OK);
    let expired = issuer.token().scope("admin").expired().sign();
    assert_eq!(
        get(expired).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// `JwksServer` as an identity provider for a real server: OIDC discovery,
/// a key rotation the verifier follows, an outage the last good keys ride
/// out, and a removed key that stops verifying.
#[cfg(feature = "remote")]
#[tokio::test]
async fn jwks_server_publishes_rotates_and_fails_like_an_identity_provider() {
    use tower_jwt_auth::remote::RemoteOptions;
    use tower_jwt_auth::testing::JwksServer;
    use tower_jwt_auth::Authenticator;

    let idp = JwksServer::start().await.unwrap();
    let old = TestIssuer::rs256().with_issuer(idp.issuer());
    idp.publish(&old);
    let auth = Authenticator::builder()
        .claims::<MyClaims>()
        .oidc_issuer(idp.issuer())
        .audience([old.audience()])
        .remote_options(RemoteOptions::new().refresh_interval(Duration::from_millis(200)))
        .build_async()
        .await
        .unwrap();
    assert_eq!(idp.fetches(), 1, "the first fetch happens at build");
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;
    let status = |token: String| async move { fetch_bearer(addr, "/me", &token).await.status };
    assert_eq!(status(old.token().sign()).await, 200);

    // Rotation: the new key's first token waits for one refetch.
    let new = TestIssuer::es256().with_issuer(idp.issuer());
    idp.set_keys(&[&old, &new]);
    assert_eq!(status(new.token().sign()).await, 200);
    // A token for another issuer, even with a published key: 401.
    let foreign = new.token().issuer("https://other.example").sign();
    assert_eq!(status(foreign).await, 401);

    // Outage: the last good keys keep serving.
    idp.fail_with(Some(503));
    let failed = idp.fetches();
    while idp.fetches() < failed + 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status(old.token().sign()).await, 200);
    assert_eq!(status(new.token().sign()).await, 200);

    // Back up without the old key: it stops verifying after a refresh.
    idp.fail_with(None);
    idp.unpublish(old.kid());
    let back = idp.fetches();
    while idp.fetches() < back + 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status(old.token().sign()).await, 401);
    assert_eq!(status(new.token().sign()).await, 200);
}
