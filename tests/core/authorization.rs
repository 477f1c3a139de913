//! Route rules through the real layer and a real axum server: any-of and
//! all-of scopes, roles in the shapes identity providers send, a custom
//! check on typed claims. Every refusal is 403 `insufficient_scope`.

use crate::common;

use axum::routing::get;
use axum::Router;
use common::*;
use serde_json::{json, Value};
use tower_jwt_auth::{rules::Denied, rules::RoleClaim, Authenticator, Claims};

async fn ok() -> &'static str {
    "ok"
}

fn exp() -> u64 {
    jsonwebtoken::get_current_timestamp() + 600
}

/// `claims`, signed, with an `exp` unless they have one.
fn tok(claims: Value) -> String {
    hs256(&merged(&json!({"exp": exp()}), claims))
}

/// What the layer does with a token on a route with rules.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// 200.
    Allowed,
    /// 403 `insufficient_scope`.
    Forbidden,
    /// 403 `insufficient_scope` whose challenge names these scopes.
    ForbiddenNaming(&'static str),
    /// 401 `invalid_token`: the token fails before any rule runs.
    Unauthorized,
}

/// GET `path` with a token for `claims`; asserts `expect`, naming `case`.
async fn check(addr: std::net::SocketAddr, case: &str, path: &str, claims: &Value, expect: Expect) {
    let r = fetch_bearer(addr, path, &tok(claims.clone())).await;
    let what = format!("{case}: {path} with {claims}: {expect:?}");
    let (status, www_part) = match expect {
        Expect::Allowed => (200, ""),
        Expect::Forbidden => (403, "error=\"insufficient_scope\""),
        Expect::ForbiddenNaming(scopes) => {
            assert!(
                r.www.contains(&format!("scope=\"{scopes}\"")),
                "{what}: {}",
                r.www
            );
            (403, "error=\"insufficient_scope\"")
        }
        Expect::Unauthorized => (401, "invalid_token"),
    };
    assert_eq!(r.status, status, "{what}: {}", r.www);
    assert!(r.www.contains(www_part), "{what}: {}", r.www);
}

#[derive(serde::Deserialize)]
struct Tenanted {
    tenant: String,
    level: u32,
}

/// Scopes (any-of, all-of, both), roles in the shapes identity providers
/// send, and a custom check on typed claims, each on its own route.
fn rules_app() -> Router {
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
    let typed = Authenticator::builder()
        .claims::<Tenanted>()
        .hmac_secret(SECRET)
        .build()
        .unwrap();
    let acme_only = typed.layer().require(|c: &Claims<Tenanted>| {
        if c.tenant == "acme" {
            Ok(())
        } else {
            Err(Denied::because("another tenant"))
        }
    });
    let senior = acme_only
        .clone()
        .require(|c: &Claims<Tenanted>| (c.level >= 3).then_some(()).ok_or_else(Denied::new));
    Router::new()
        .route(
            "/any-scope",
            get(ok).layer(plain.layer().require_any_scope(["read", "admin"])),
        )
        .route(
            "/all-scopes",
            get(ok).layer(plain.layer().require_all_scopes(["read", "write"])),
        )
        .route(
            "/both",
            get(ok).layer(
                plain
                    .layer()
                    .require_any_scope(["a", "b"])
                    .require_scope("c"),
            ),
        )
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
            "/any-role",
            get(ok).layer(keycloak.layer().require_any_role(["ops", "admin"])),
        )
        .route(
            "/custom",
            get(ok).layer(custom.layer().require_role("editor")),
        )
        .route("/acme", get(ok).layer(acme_only))
        .route("/senior", get(ok).layer(senior))
}

#[tokio::test]
async fn route_rules_allow_or_refuse_each_token_by_its_claims() {
    use Expect::*;
    let addr = serve(rules_app()).await;
    let kc = json!({
        "realm_access": {"roles": ["offline_access", "admin"]},
        "resource_access": {"billing": {"roles": ["manager"]}, "crm": {"roles": ["admin"]}},
    });
    let cases = [
        // Any-of and all-of scopes, and both on one route.
        (
            "any-of scope",
            "/any-scope",
            json!({"scope": "admin"}),
            Allowed,
        ),
        (
            "any-of scope",
            "/any-scope",
            json!({"scope": "x read"}),
            Allowed,
        ),
        (
            "any-of scope",
            "/any-scope",
            json!({"scope": "write"}),
            Forbidden,
        ),
        ("any-of scope", "/any-scope", json!({}), Forbidden),
        (
            "all-of scopes",
            "/all-scopes",
            json!({"scope": "write read"}),
            Allowed,
        ),
        (
            "all-of scopes",
            "/all-scopes",
            json!({"scope": "read"}),
            ForbiddenNaming("read write"),
        ),
        ("any-of and one", "/both", json!({"scope": "b c"}), Allowed),
        (
            "any-of and one",
            "/both",
            json!({"scope": "a b"}),
            Forbidden,
        ),
        ("any-of and one", "/both", json!({"scope": "c"}), Forbidden),
        // Entra ID app roles (and the common `roles` claim).
        (
            "roles claim",
            "/roles",
            json!({"roles": ["admin"]}),
            Allowed,
        ),
        (
            "roles claim",
            "/roles",
            json!({"roles": ["user"]}),
            Forbidden,
        ),
        (
            "roles claim",
            "/roles",
            json!({"groups": ["admin"]}),
            Forbidden,
        ),
        (
            "roles claim",
            "/roles",
            json!({"scope": "admin"}),
            Forbidden,
        ),
        // Okta / Cognito style groups.
        ("groups", "/groups", json!({"groups": ["staff"]}), Allowed),
        ("groups", "/groups", json!({"roles": ["staff"]}), Forbidden),
        // Keycloak realm roles, and a top-level `roles` is not them.
        ("Keycloak realm", "/realm", kc.clone(), Allowed),
        (
            "Keycloak realm",
            "/realm",
            json!({"roles": ["admin"]}),
            Forbidden,
        ),
        ("Keycloak realm, any-of", "/any-role", kc.clone(), Allowed),
        // Keycloak client roles: this client's, not another client's.
        ("Keycloak client", "/client", kc, Allowed),
        (
            "Keycloak client",
            "/client",
            json!({"resource_access": {"crm": {"roles": ["manager"]}}}),
            Forbidden,
        ),
        // A configured path whose first name contains dots and slashes.
        (
            "custom path",
            "/custom",
            json!({"https://example.com/claims": {"roles": ["editor"]}}),
            Allowed,
        ),
        (
            "custom path",
            "/custom",
            json!({"https://example.com/claims.roles": ["editor"]}),
            Forbidden,
        ),
        // A custom check on typed claims, and two checks on one route.
        (
            "typed check",
            "/acme",
            json!({"tenant": "acme", "level": 1}),
            Allowed,
        ),
        (
            "typed check",
            "/acme",
            json!({"tenant": "evil", "level": 9}),
            Forbidden,
        ),
        (
            "two checks",
            "/senior",
            json!({"tenant": "acme", "level": 3}),
            Allowed,
        ),
        (
            "two checks",
            "/senior",
            json!({"tenant": "acme", "level": 2}),
            Forbidden,
        ),
        (
            "two checks",
            "/senior",
            json!({"tenant": "evil", "level": 3}),
            Forbidden,
        ),
        // Claims that do not fit the type never reach the check.
        ("typed check", "/acme", json!({"tenant": 5}), Unauthorized),
        // A token that fails verification is 401 before any rule.
        (
            "expired",
            "/roles",
            json!({"roles": ["admin"], "exp": 1}),
            Unauthorized,
        ),
    ];
    for (case, path, claims, expect) in cases {
        check(addr, case, path, &claims, expect).await;
    }
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
    let admin = json!({"roles": ["admin"]});
    check(addr, "optional, role", "/role", &admin, Expect::Allowed).await;
    check(
        addr,
        "optional, check",
        "/check",
        &json!({}),
        Expect::Allowed,
    )
    .await;
}
