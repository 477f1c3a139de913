//! Route rules through the real layer and a real axum server: any-of and
//! all-of scopes, roles in the shapes identity providers send, a custom
//! check on typed claims. Every refusal is 403 `insufficient_scope`.

mod common;

use axum::routing::get;
use axum::Router;
use common::*;
use serde_json::{json, Value};
use tower_jwt_auth::{Authenticator, Claims, Denied, RoleClaim};

async fn ok() -> &'static str {
    "ok"
}

fn exp() -> u64 {
    jsonwebtoken::get_current_timestamp() + 600
}

/// `claims` plus an `exp`, signed.
fn tok(claims: Value) -> String {
    hs256(&merged(&claims, json!({"exp": exp()})))
}

async fn status(addr: std::net::SocketAddr, path: &str, claims: Value) -> (u16, String) {
    let r = fetch_bearer(addr, path, &tok(claims)).await;
    (r.status, r.www)
}

fn forbidden(r: &(u16, String)) -> bool {
    r.0 == 403 && r.1.contains("error=\"insufficient_scope\"")
}

#[tokio::test]
async fn any_of_and_all_of_scopes() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/any",
            get(ok).layer(auth.layer().require_any_scope(["read", "admin"])),
        )
        .route(
            "/all",
            get(ok).layer(auth.layer().require_all_scopes(["read", "write"])),
        )
        .route(
            "/both",
            get(ok).layer(
                auth.layer()
                    .require_any_scope(["a", "b"])
                    .require_scope("c"),
            ),
        );
    let addr = serve(app).await;
    assert_eq!(status(addr, "/any", json!({"scope": "admin"})).await.0, 200);
    assert_eq!(
        status(addr, "/any", json!({"scope": "x read"})).await.0,
        200
    );
    assert!(forbidden(
        &status(addr, "/any", json!({"scope": "write"})).await
    ));
    assert!(forbidden(&status(addr, "/any", json!({})).await));

    assert_eq!(
        status(addr, "/all", json!({"scope": "write read"})).await.0,
        200
    );
    let r = status(addr, "/all", json!({"scope": "read"})).await;
    assert!(forbidden(&r), "{r:?}");
    assert!(r.1.contains("scope=\"read write\""), "{}", r.1);

    assert_eq!(status(addr, "/both", json!({"scope": "b c"})).await.0, 200);
    assert!(forbidden(
        &status(addr, "/both", json!({"scope": "a b"})).await
    ));
    assert!(forbidden(
        &status(addr, "/both", json!({"scope": "c"})).await
    ));
}

#[tokio::test]
async fn roles_in_identity_provider_shapes() {
    let plain = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let keycloak = Authenticator::builder()
        .hmac_secret(SECRET)
        .role_claim(RoleClaim::keycloak_realm())
        .build()
        .unwrap();
    let custom = Authenticator::builder()
        .hmac_secret(SECRET)
        .role_claim(RoleClaim::path(["https://example.com/claims", "roles"]))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/roles", get(ok).layer(plain.layer().require_role("admin")))
        .route(
            "/groups",
            get(ok).layer(plain.layer().require_role_in(RoleClaim::groups(), "staff")),
        )
        .route(
            "/realm",
            get(ok).layer(keycloak.layer().require_role("admin")),
        )
        .route(
            "/client",
            get(ok).layer(
                keycloak
                    .layer()
                    .require_role_in(RoleClaim::keycloak_client("billing"), "manager"),
            ),
        )
        .route(
            "/any",
            get(ok).layer(keycloak.layer().require_any_role(["ops", "admin"])),
        )
        .route(
            "/custom",
            get(ok).layer(custom.layer().require_role("editor")),
        );
    let addr = serve(app).await;

    // Entra ID app roles (and the common `roles` claim).
    assert_eq!(
        status(addr, "/roles", json!({"roles": ["admin"]})).await.0,
        200
    );
    assert!(forbidden(
        &status(addr, "/roles", json!({"roles": ["user"]})).await
    ));
    assert!(forbidden(
        &status(addr, "/roles", json!({"groups": ["admin"]})).await
    ));
    assert!(forbidden(
        &status(addr, "/roles", json!({"scope": "admin"})).await
    ));
    // Okta / Cognito style groups.
    assert_eq!(
        status(addr, "/groups", json!({"groups": ["staff"]}))
            .await
            .0,
        200
    );
    assert!(forbidden(
        &status(addr, "/groups", json!({"roles": ["staff"]})).await
    ));

    // Keycloak realm roles, and a top-level `roles` is not them.
    let kc = json!({
        "realm_access": {"roles": ["offline_access", "admin"]},
        "resource_access": {"billing": {"roles": ["manager"]}, "crm": {"roles": ["admin"]}},
    });
    assert_eq!(status(addr, "/realm", kc.clone()).await.0, 200);
    assert!(forbidden(
        &status(addr, "/realm", json!({"roles": ["admin"]})).await
    ));
    assert_eq!(status(addr, "/any", kc.clone()).await.0, 200);
    // Keycloak client roles: this client's, not another client's.
    assert_eq!(status(addr, "/client", kc).await.0, 200);
    let other_client = json!({"resource_access": {"crm": {"roles": ["manager"]}}});
    assert!(forbidden(&status(addr, "/client", other_client).await));

    // A configured path whose first name contains dots and slashes.
    let ns = json!({"https://example.com/claims": {"roles": ["editor"]}});
    assert_eq!(status(addr, "/custom", ns).await.0, 200);
    let flat = json!({"https://example.com/claims.roles": ["editor"]});
    assert!(forbidden(&status(addr, "/custom", flat).await));
}

#[tokio::test]
async fn a_token_that_fails_verification_is_401_before_any_rule() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let addr =
        serve(Router::new().route("/", get(ok).layer(auth.layer().require_role("admin")))).await;
    let expired = hs256(&json!({"roles": ["admin"], "exp": 1}));
    let r = fetch_bearer(addr, "/", &expired).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("invalid_token"));
}

#[derive(serde::Deserialize)]
struct Tenanted {
    tenant: String,
    level: u32,
}

#[tokio::test]
async fn a_custom_check_on_typed_claims() {
    let auth = Authenticator::builder()
        .claims::<Tenanted>()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let acme_only = auth.layer().require(|c: &Claims<Tenanted>| {
        if c.tenant == "acme" {
            Ok(())
        } else {
            Err(Denied::because("another tenant"))
        }
    });
    let senior = acme_only
        .clone()
        .require(|c: &Claims<Tenanted>| (c.level >= 3).then_some(()).ok_or_else(Denied::new));
    let app = Router::new()
        .route("/acme", get(ok).layer(acme_only))
        .route("/senior", get(ok).layer(senior));
    let addr = serve(app).await;
    assert_eq!(
        status(addr, "/acme", json!({"tenant": "acme", "level": 1}))
            .await
            .0,
        200
    );
    assert!(forbidden(
        &status(addr, "/acme", json!({"tenant": "evil", "level": 9})).await
    ));
    assert_eq!(
        status(addr, "/senior", json!({"tenant": "acme", "level": 3}))
            .await
            .0,
        200
    );
    assert!(forbidden(
        &status(addr, "/senior", json!({"tenant": "acme", "level": 2})).await
    ));
    assert!(forbidden(
        &status(addr, "/senior", json!({"tenant": "evil", "level": 3})).await
    ));
    // Claims that do not fit the type never reach the check: 401.
    assert_eq!(status(addr, "/acme", json!({"tenant": 5})).await.0, 401);
}

#[tokio::test]
async fn optional_routes_with_rules_still_need_a_token() {
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/role",
            get(ok).layer(auth.optional().require_role("admin")),
        )
        .route(
            "/check",
            get(ok).layer(auth.optional().require(|_: &Claims| Ok(()))),
        )
        .route(
            "/any",
            get(ok).layer(auth.optional().require_any_scope(["a"])),
        );
    let addr = serve(app).await;
    for path in ["/role", "/check", "/any"] {
        let r = fetch(addr, path, None).await;
        assert_eq!((r.status, r.www.as_str()), (401, "Bearer"), "{path}");
    }
    assert_eq!(
        status(addr, "/role", json!({"roles": ["admin"]})).await.0,
        200
    );
    assert_eq!(status(addr, "/check", json!({})).await.0, 200);
}
