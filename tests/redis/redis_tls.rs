//! The Redis stores over TLS (`rediss://`), against a real TLS-only
//! redis-server started by each test with a CA and a server certificate
//! the test makes (rcgen): trusted through a CA file or PEM, refused when
//! the certificate chains to another CA, to no public root, or names
//! another host. Certificate checks cannot be turned off.

use crate::common;
use crate::common::redis_server;

use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use common::*;
use redis_server::{RedisServer, TlsFiles};
use serde_json::Value;
use tower_jwt_auth::revocation::{RedisRevocation, RedisStore, RevocationError};
use tower_jwt_auth::{issue::TokenIssuer, Claims};

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

fn issuer(store: RedisStore) -> TokenIssuer {
    TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer("https://auth.example")
        .revocation(
            RedisRevocation::builder(store)
                .local_cache(std::time::Duration::ZERO)
                .build(),
        )
        .build()
        .unwrap()
}

async fn serve_issuer(issuer: &TokenIssuer) -> SocketAddr {
    let auth = issuer.authenticator_builder().build().unwrap();
    serve(Router::new().route("/me", get(me).layer(auth.layer()))).await
}

fn sid_of(token: &str) -> String {
    segment(token, 1)["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn revocation_over_tls_with_a_private_ca() {
    let files = TlsFiles::generate();
    let redis = RedisServer::start_tls(&files);
    // The CA from a file, connecting by IP address (in the certificate).
    let store = RedisStore::builder(&redis.url())
        .ca_file(&files.ca)
        .build()
        .unwrap();
    store.ping().await.unwrap();
    let issuer = issuer(store);
    let addr = serve_issuer(&issuer).await;
    let pair = issuer.issue("alice", &()).unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        200
    );
    issuer
        .revoke_session(&sid_of(&pair.access_token))
        .await
        .unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        401
    );

    // The CA as PEM bytes, connecting by host name (in the certificate).
    let url = format!("rediss://localhost:{}", redis.port());
    let store = RedisStore::builder(&url)
        .root_certificates_pem(files.ca_pem.as_bytes())
        .build()
        .unwrap();
    store.ping().await.unwrap();
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_is_refused() {
    let files = TlsFiles::generate();
    let redis = RedisServer::start_tls(&files);
    let other = TlsFiles::generate();
    // Trusting another CA: every operation fails, the route answers 503.
    let store = RedisStore::builder(&redis.url())
        .ca_file(&other.ca)
        .build()
        .unwrap();
    assert!(matches!(
        store.ping().await,
        Err(RevocationError::Unavailable(_))
    ));
    let issuer = issuer(store);
    let addr = serve_issuer(&issuer).await;
    let pair = issuer.issue("alice", &()).unwrap();
    for _ in 0..2 {
        assert_eq!(
            fetch_bearer(addr, "/me", &pair.access_token).await.status,
            503
        );
    }
    assert!(issuer
        .revoke_session(&sid_of(&pair.access_token))
        .await
        .is_err());
    // The public roots (the default) do not hold the test CA either.
    let store = RedisStore::open(&redis.url()).unwrap();
    assert!(matches!(
        store.ping().await,
        Err(RevocationError::Unavailable(_))
    ));
}

#[tokio::test]
async fn the_host_name_is_always_checked() {
    // A certificate from the trusted CA, for another host.
    let files = TlsFiles::for_names(&["redis.example"]);
    let redis = RedisServer::start_tls(&files);
    let store = RedisStore::builder(&redis.url())
        .ca_file(&files.ca)
        .build()
        .unwrap();
    assert!(matches!(
        store.ping().await,
        Err(RevocationError::Unavailable(_))
    ));
    // No URL switch turns the checks off.
    let insecure = format!("{}/#insecure", redis.url());
    for built in [
        RedisStore::open(&insecure),
        RedisStore::builder(&insecure).ca_file(&files.ca).build(),
    ] {
        assert!(matches!(built, Err(RevocationError::Config(_))));
    }
}

#[tokio::test]
async fn tls_configuration_mistakes_are_errors_at_build() {
    let files = TlsFiles::generate();
    // CA certificates for a plain redis:// URL.
    assert!(matches!(
        RedisStore::builder("redis://127.0.0.1:6379")
            .ca_file(&files.ca)
            .build(),
        Err(RevocationError::Config(_))
    ));
    // A missing file, a file without a certificate.
    let missing = files.dir.path("missing.pem");
    for builder in [
        RedisStore::builder("rediss://127.0.0.1:6379").ca_file(&missing),
        RedisStore::builder("rediss://127.0.0.1:6379").ca_file(&files.key),
        RedisStore::builder("rediss://127.0.0.1:6379").root_certificates_pem(b"not pem".to_vec()),
    ] {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, RevocationError::Config(_)), "{err}");
    }
}
