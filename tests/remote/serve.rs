//! The demo server's behaviour (the README's "The demo server" section:
//! routes, variables, status codes), row by row, for each key source: the example's own configuration code and router, served
//! on 127.0.0.1 and driven over real HTTP.

use crate::common;

#[allow(dead_code, clippy::module_inception)]
#[path = "../../examples/serve.rs"]
mod serve;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;

const ISS: &str = "https://issuer.contract";
const AUD: &str = "contract-api";
/// PUBLIC_URL defaults to `http://` + BIND (default `127.0.0.1:3000`).
const METADATA: &str = "http://127.0.0.1:3000/.well-known/oauth-protected-resource";

/// The value of `name` in a challenge (quoted or a token).
fn attribute<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &challenge[start..];
    match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next(),
        None => rest.split([',', ' ']).next(),
    }
}

/// A 401/403 challenge of a protected route names the metadata.
fn assert_metadata_url(www: &str, what: &str) {
    assert_eq!(
        attribute(www, "resource_metadata"),
        Some(METADATA),
        "{what}: {www}"
    );
}

async fn start(vars: &[(&str, String)]) -> std::net::SocketAddr {
    let config = serve::configure(&env_of(vars)).await.expect("configure");
    common::serve(serve::app(&config)).await
}

/// Every contract row, with tokens for `alg` (and `kid`).
async fn contract_rows(addr: std::net::SocketAddr, alg: Algorithm, kid: Option<&str>) {
    let n = now();
    let base =
        json!({"iss": ISS, "aud": AUD, "sub": "u1", "scope": "read", "iat": n, "exp": n + 600});
    let mint = |extra: Value| token(alg, kid, &merged(&base, extra));
    let t = mint(json!({}));

    let r = fetch(addr, "/public", None).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));

    let r = fetch_bearer(addr, "/me", &t).await;
    assert_eq!(r.status, 200, "{alg:?} /me");
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap(), base);

    for auth in [None, Some("Basic dXNlcjpwYXNz")] {
        let r = fetch(addr, "/me", auth).await;
        let bare = format!("Bearer resource_metadata=\"{METADATA}\"");
        assert_eq!((r.status, r.www.as_str()), (401, bare.as_str()), "{auth:?}");
    }

    let invalid = [
        ("expired", mint(json!({"exp": n - 3600}))),
        ("nbf +1h", mint(json!({"nbf": n + 3600}))),
        ("wrong iss", mint(json!({"iss": "https://evil"}))),
        ("wrong aud", mint(json!({"aud": "other"}))),
        ("missing iss", mint(json!({"iss": null}))),
        ("missing aud", mint(json!({"aud": null}))),
        ("bad signature", format!("{}AAAA", &t[..t.len() - 4])),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(r#"{"alg":"none"}"#),
                t.split('.').nth(1).unwrap()
            ),
        ),
        ("malformed", "not.a.jwt".into()),
    ];
    for (what, bad) in invalid {
        let r = fetch_bearer(addr, "/me", &bad).await;
        assert_eq!(r.status, 401, "{alg:?} {what}");
        assert!(
            r.www.contains("error=\"invalid_token\""),
            "{alg:?} {what}: {}",
            r.www
        );
        assert_metadata_url(&r.www, what);
        assert!(!r.body.contains(&bad), "{what}: body echoes the token");
    }
    for malformed in ["Bearer".to_owned(), format!("Bearer {t} {t}")] {
        let r = fetch(addr, "/me", Some(&malformed)).await;
        assert_eq!(r.status, 400, "{malformed:?}");
        assert!(r.www.contains("error=\"invalid_request\""));
    }

    let admin = mint(json!({"scope": "read admin"}));
    assert_eq!(fetch_bearer(addr, "/admin", &admin).await.status, 200);
    let r = fetch_bearer(addr, "/admin", &t).await;
    assert_eq!(r.status, 403);
    assert!(r.www.contains("error=\"insufficient_scope\""), "{}", r.www);
    assert_eq!(
        attribute(&r.www, "scope"),
        Some("admin"),
        "403 keeps its scope"
    );
    assert_metadata_url(&r.www, "403");

    let r = fetch(addr, "/optional", None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"claims": null})
    );
    let r = fetch_bearer(addr, "/optional", &t).await;
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({ "claims": base })
    );
    let expired = mint(json!({"exp": n - 3600}));
    let r = fetch_bearer(addr, "/optional", &expired).await;
    assert_eq!(r.status, 401);
    assert_metadata_url(&r.www, "/optional with a bad token");
}

fn rules() -> Vec<(&'static str, String)> {
    vec![
        ("JWT_ISSUER", format!("https://other,{ISS}")),
        ("JWT_AUDIENCE", AUD.to_owned()),
    ]
}

fn path(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn contract_with_jwt_secret() {
    let mut vars = rules();
    vars.push(("JWT_SECRET", SECRET.to_owned()));
    contract_rows(start(&vars).await, Algorithm::HS256, None).await;
}

#[tokio::test]
async fn contract_with_jwt_public_key_pem() {
    for (alg, pem) in [
        (Algorithm::RS256, "rsa2048_public.pem"),
        (Algorithm::ES256, "ec256_public.pem"),
        (Algorithm::EdDSA, "ed25519_public.pem"),
    ] {
        let mut vars = rules();
        vars.push(("JWT_PUBLIC_KEY_PEM", path(pem)));
        contract_rows(start(&vars).await, alg, None).await;
    }
}

#[tokio::test]
async fn contract_with_jwks_file() {
    let mut vars = rules();
    vars.push(("JWKS_FILE", path("jwks.json")));
    let addr = start(&vars).await;
    for alg in [Algorithm::RS256, Algorithm::ES384, Algorithm::EdDSA] {
        contract_rows(addr, alg, Some(jwks_kid(alg))).await;
    }
    let r = fetch_bearer(
        addr,
        "/me",
        &token(Algorithm::RS256, Some("nope"), &json!({"exp": now() + 60})),
    )
    .await;
    assert!(r.www.contains("invalid_token"), "unknown kid: {}", r.www);
}

/// "Key files reloaded": JWKS_FILE and JWT_PUBLIC_KEY_PEM replaced while
/// serve runs, at its default interval. A partly written JWK Set and a
/// broken PEM change nothing and each print one warning naming its file;
/// the next valid versions verify, their former keys are refused, and (no
/// JWT_ALGORITHMS) the algorithms follow the keys.
#[cfg(feature = "tracing")]
#[tokio::test]
async fn key_files_are_reloaded_and_a_bad_version_keeps_the_last_good_keys() {
    use std::time::{Duration, Instant};
    use tracing_subscriber::fmt::format::FmtSpan;

    let dir = std::env::temp_dir().join(format!("serve-keyfiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (jwks_path, pem_path) = (dir.join("jwks.json"), dir.join("key.pem"));
    let replace = |path: &std::path::Path, content: &[u8]| {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, content).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    };
    let (es, rs) = (
        TestIssuer::es256().with_kid("es"),
        TestIssuer::rs256().with_kid("rs"),
    );
    std::fs::write(&jwks_path, es.jwks()).unwrap();
    std::fs::write(&pem_path, public_pem(Algorithm::EdDSA)).unwrap();
    // The reading thread logs to the subscriber current at build.
    let (logs, _guard) = common::logs::capture(tracing::Level::WARN, FmtSpan::NONE);
    let addr = start(&[
        ("JWKS_FILE", jwks_path.display().to_string()),
        ("JWT_PUBLIC_KEY_PEM", pem_path.display().to_string()),
    ])
    .await;
    let claims = json!({"sub": "u1", "exp": now() + 600});
    let (t_es, t_rs) = (es.token().sign(), rs.token().sign());
    let (t_ed, t_es384) = (
        token(Algorithm::EdDSA, None, &claims),
        token(Algorithm::ES384, None, &claims),
    );
    let status = |t: String| async move { fetch_bearer(addr, "/me", &t).await.status };
    for (t, want) in [(&t_es, 200), (&t_ed, 200), (&t_rs, 401), (&t_es384, 401)] {
        assert_eq!(status(t.clone()).await, want);
    }

    let jwks = rs.jwks();
    replace(&jwks_path, &jwks.as_bytes()[..jwks.len() / 2]);
    replace(&pem_path, b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2Vw");
    let warned = |path: &std::path::Path| logs.text().matches(&*path.display().to_string()).count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while warned(&jwks_path) == 0 || warned(&pem_path) == 0 {
        assert!(
            Instant::now() < deadline,
            "no warnings after 20 s: {}",
            logs.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(t_es.clone()).await, 200, "the last good JWK Set");
    assert_eq!(status(t_ed.clone()).await, 200, "the last good PEM");

    replace(&jwks_path, jwks.as_bytes());
    replace(&pem_path, &public_pem(Algorithm::ES384));
    let deadline = Instant::now() + Duration::from_secs(20);
    while status(t_rs.clone()).await != 200 || status(t_es384.clone()).await != 200 {
        assert!(
            Instant::now() < deadline,
            "new versions not used after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status(t_es).await, 401, "a key no longer in the JWK Set");
    assert_eq!(status(t_ed).await, 401, "EdDSA left with the PEM's key");
    assert_eq!(
        (warned(&jwks_path), warned(&pem_path)),
        (1, 1),
        "one warning per bad version: {}",
        logs.text()
    );
}

#[tokio::test]
async fn jwt_algorithms_is_an_allow_list() {
    let addr = start(&[
        ("JWT_SECRET", "s".repeat(48)),
        ("JWT_ALGORITHMS", "HS384".into()),
    ])
    .await;
    let claims = json!({"sub": "u", "exp": now() + 600});
    let sign = |alg| {
        TestIssuer::from_secret(alg, "s".repeat(48))
            .unwrap()
            .sign_with_kid(&claims, None)
    };
    assert_eq!(
        fetch_bearer(addr, "/me", &sign(Algorithm::HS384))
            .await
            .status,
        200
    );
    assert_eq!(
        fetch_bearer(addr, "/me", &sign(Algorithm::HS256))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn jwt_leeway_sets_the_clock_skew() {
    let addr = start(&[("JWT_SECRET", SECRET.into()), ("JWT_LEEWAY", "0".into())]).await;
    let t = hs256(&json!({"exp": now() - 5}));
    assert_eq!(fetch_bearer(addr, "/me", &t).await.status, 401);
    let addr = start(&[("JWT_SECRET", SECRET.into())]).await;
    assert_eq!(
        fetch_bearer(addr, "/me", &t).await.status,
        200,
        "default leeway 60 s"
    );
}

#[tokio::test]
async fn zero_setup_generates_a_secret_and_working_tokens() {
    let env = env_of(&[]);
    let config = serve::configure(&env).await.expect("configure");
    let secret = config.generated_secret.clone().expect("a generated secret");
    assert!(secret.len() >= 32);
    let addr = common::serve(serve::app(&config)).await;
    let user = serve::demo_token(&env, &secret, "read").unwrap();
    let admin = serve::demo_token(&env, &secret, "read admin").unwrap();
    assert_eq!(fetch_bearer(addr, "/me", &user).await.status, 200);
    assert_eq!(fetch_bearer(addr, "/admin", &user).await.status, 403);
    assert_eq!(fetch_bearer(addr, "/admin", &admin).await.status, 200);
    // Two starts, two secrets: a token of one is refused by the other.
    let other = serve::configure(&env).await.unwrap();
    let addr = common::serve(serve::app(&other)).await;
    assert_eq!(fetch_bearer(addr, "/me", &user).await.status, 401);
}

#[tokio::test]
async fn bad_configuration_is_a_clear_error_not_a_panic() {
    let cases: [(&[(&str, String)], &str); 6] = [
        (
            &[("JWKS_URL", "http://127.0.0.1:1/jwks".into())],
            "JWKS_URL: remote keys: http://127.0.0.1:1/jwks: cannot connect",
        ),
        (&[("JWT_SECRET", "short".into())], "too short"),
        (
            &[
                ("JWT_SECRET", SECRET.into()),
                ("JWT_ALGORITHMS", "HS999".into()),
            ],
            "JWT_ALGORITHMS",
        ),
        (
            &[("JWT_SECRET", SECRET.into()), ("JWT_LEEWAY", "soon".into())],
            "JWT_LEEWAY",
        ),
        (
            &[("JWKS_FILE", "/nonexistent/jwks.json".into())],
            "JWKS_FILE",
        ),
        (
            &[("JWT_PUBLIC_KEY_PEM", path("rsa1024_public.pem"))],
            "too small",
        ),
    ];
    for (vars, expected) in cases {
        let err = serve::configure(&env_of(vars))
            .await
            .err()
            .expect("an error");
        assert!(err.contains(expected), "{expected}: {err}");
        assert!(!err.contains(SECRET), "the error shows the secret");
    }
}

#[tokio::test]
async fn me_returns_the_claims_exactly_as_sent() {
    let addr = start(&[("JWT_SECRET", SECRET.to_owned())]).await;
    // Beyond 64 bits, a float's digits, member order, escapes, nesting:
    // `/me` answers the payload's JSON text itself.
    let payload = format!(
        r#"{{"sub":"u1","big":123456789012345678901234567890,"neg":-98765432109876543210,"f":1.10,"exp":{},"z":{{"b":[1,2e3],"a":"\u00e9"}}}}"#,
        now() + 600
    );
    let t = raw_token(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &payload,
        Algorithm::HS256,
        &signing_key(Algorithm::HS256),
    );
    let r = fetch_bearer(addr, "/me", &t).await;
    assert_eq!((r.status, r.body.as_str()), (200, payload.as_str()));
    let r = fetch_bearer(addr, "/optional", &t).await;
    assert_eq!(r.body, format!(r#"{{"claims":{payload}}}"#));

    // The same checks run on raw claims: duplicates at any depth, registered
    // claims of the wrong type.
    for bad in [
        format!(r#"{{"exp":{},"sub":"a","sub":"b"}}"#, now() + 600),
        format!(r#"{{"exp":{},"x":{{"r":1,"r":2}}}}"#, now() + 600),
        r#"{"exp":"9999999999"}"#.to_owned(),
        format!(r#"{{"exp":{},"iss":["a"]}}"#, now() + 600),
    ] {
        let t = raw_token(
            r#"{"alg":"HS256"}"#,
            &bad,
            Algorithm::HS256,
            &signing_key(Algorithm::HS256),
        );
        let r = fetch_bearer(addr, "/me", &t).await;
        assert_eq!(r.status, 401, "{bad}");
    }
}

/// A JWKS and OIDC discovery endpoint on 127.0.0.1 serving the fixture set;
/// the discovery document names `issuer`, or the server's own URL.
async fn identity_provider(issuer: Option<&str>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = issuer.map_or_else(|| format!("http://{addr}"), str::to_owned);
    let jwks = fixture_str("jwks.json");
    let discovery =
        json!({"issuer": issuer, "jwks_uri": format!("http://{addr}/jwks")}).to_string();
    let app = axum::Router::new()
        .route("/jwks", axum::routing::get(move || async move { jwks }))
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { discovery }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn jwks_url_serves_remote_keys_and_refuses_unknown_kids() {
    let idp = identity_provider(None).await;
    let addr = start(&[("JWKS_URL", format!("http://{idp}/jwks"))]).await;
    let claims = json!({"sub": "u", "exp": now() + 600});
    let ok = token(Algorithm::RS256, Some("rsa-1"), &claims);
    assert_eq!(fetch_bearer(addr, "/me", &ok).await.status, 200);
    let unknown = token(Algorithm::RS256, Some("rotated-away"), &claims);
    let reply = fetch_bearer(addr, "/me", &unknown).await;
    assert_eq!(reply.status, 401);
    assert!(reply.www.contains("invalid_token"), "{}", reply.www);
}

#[tokio::test]
async fn oidc_issuer_pins_iss_and_a_foreign_discovery_issuer_stops_the_start() {
    let idp = identity_provider(None).await;
    let issuer = format!("http://{idp}");
    let addr = start(&[("OIDC_ISSUER", issuer.clone())]).await;
    let with_iss = json!({"sub": "u", "exp": now() + 600, "iss": issuer});
    let without = json!({"sub": "u", "exp": now() + 600});
    let good = token(Algorithm::ES256, Some("ec256-1"), &with_iss);
    assert_eq!(fetch_bearer(addr, "/me", &good).await.status, 200);
    let bad = token(Algorithm::ES256, Some("ec256-1"), &without);
    assert_eq!(fetch_bearer(addr, "/me", &bad).await.status, 401);

    let liar = identity_provider(Some("https://someone-else.example")).await;
    let err = serve::configure(&env_of(&[("OIDC_ISSUER", format!("http://{liar}"))]))
        .await
        .err()
        .expect("an error");
    assert!(err.contains("OIDC_ISSUER"), "{err}");
    assert!(
        err.contains(&format!("http://{liar}/.well-known/openid-configuration")),
        "{err}"
    );
    assert!(!err.contains('\n'), "one line: {err}");
}

#[tokio::test]
async fn metadata_describes_the_resource_from_the_configuration() {
    let addr = start(&[
        ("JWT_SECRET", SECRET.to_owned()),
        ("JWT_ISSUER", format!("{ISS},https://b.example")),
        ("PUBLIC_URL", "http://Demo.example:8080/".to_owned()),
    ])
    .await;
    let res = reqwest::get(format!(
        "http://{addr}/.well-known/oauth-protected-resource"
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(
        doc["resource"], "http://demo.example:8080",
        "trailing slash dropped"
    );
    assert_eq!(
        doc["authorization_servers"],
        json!(["https://b.example", ISS])
    );
    assert!(doc["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("admin")));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert!(doc.get("dpop_signing_alg_values_supported").is_none());
    let body = doc.to_string();
    assert!(!body.contains(SECRET) && !body.contains("/me"), "{body}");
    let r = fetch(addr, "/me", None).await;
    assert_eq!(
        attribute(&r.www, "resource_metadata"),
        Some("http://demo.example:8080/.well-known/oauth-protected-resource")
    );
    // Without an issuer, `authorization_servers` is absent.
    let addr = start(&[("JWT_SECRET", SECRET.to_owned())]).await;
    let r = fetch(addr, "/.well-known/oauth-protected-resource", None).await;
    let doc: Value = serde_json::from_str(&r.body).unwrap();
    assert!(doc.get("authorization_servers").is_none(), "{doc}");
}

#[tokio::test]
async fn metadata_names_the_dpop_algorithms_and_whether_dpop_is_required() {
    for (mode, required) in [("allowed", false), ("required", true)] {
        let addr = start(&[
            ("JWT_PUBLIC_KEY_PEM", path("ec256_public.pem")),
            ("DPOP", mode.to_owned()),
        ])
        .await;
        let r = fetch(addr, "/.well-known/oauth-protected-resource", None).await;
        let doc: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(doc["dpop_bound_access_tokens_required"], required, "{mode}");
        let algs = doc["dpop_signing_alg_values_supported"].as_array().unwrap();
        assert!(algs.contains(&json!("ES256")), "{mode}: {doc}");
        assert!(!algs.iter().any(|a| a.as_str().unwrap().starts_with("HS")));
        assert!(doc.get("keys").is_none() && !r.body.contains("\"x\""));
    }
}

#[tokio::test]
async fn stepup_accepts_a_recent_authentication_with_an_accepted_acr() {
    let addr = start(&[
        ("JWT_SECRET", SECRET.to_owned()),
        ("STEPUP_ACR", "urn:a, urn:b".to_owned()),
        ("STEPUP_MAX_AGE", "120".to_owned()),
    ])
    .await;
    let n = now();
    let base = json!({"sub": "u1", "acr": "urn:b", "auth_time": n - 100, "exp": n + 600});
    let mint = |extra: Value| hs256(&merged(&base, extra));
    let r = fetch_bearer(addr, "/stepup", &mint(json!({}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap(), base);
    let refused = [
        ("acr not accepted", mint(json!({"acr": "urn:c"}))),
        ("acr absent", mint(json!({"acr": null}))),
        ("auth_time absent", mint(json!({"auth_time": null}))),
        ("auth_time a string", mint(json!({"auth_time": "recent"}))),
        ("auth_time too old", mint(json!({"auth_time": n - 125}))),
        (
            "auth_time beyond the leeway",
            mint(json!({"auth_time": n + 600})),
        ),
        (
            "scope admin is no step-up",
            mint(json!({"acr": null, "scope": "admin"})),
        ),
    ];
    for (what, t) in refused {
        let r = fetch_bearer(addr, "/stepup", &t).await;
        assert_eq!(r.status, 401, "{what}: never 403, never 200");
        assert!(
            r.www
                .starts_with("Bearer error=\"insufficient_user_authentication\""),
            "{what}: {}",
            r.www
        );
        assert_eq!(
            attribute(&r.www, "acr_values"),
            Some("urn:a urn:b"),
            "{what}"
        );
        assert_eq!(attribute(&r.www, "max_age"), Some("120"), "{what}");
        assert_metadata_url(&r.www, what);
        assert!(!r.body.contains(&t), "{what}: body echoes the token");
    }
    // Within the leeway (60 s), a future auth_time is clock skew.
    let skewed = mint(json!({"auth_time": n + 30}));
    assert_eq!(fetch_bearer(addr, "/stepup", &skewed).await.status, 200);
    let r = fetch_bearer(addr, "/stepup", "not.a.jwt").await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("error=\"invalid_token\""), "{}", r.www);
    let r = fetch(addr, "/stepup", None).await;
    assert_eq!(r.status, 401);
    assert_metadata_url(&r.www, "/stepup without a token");
}

#[tokio::test]
async fn stepup_defaults_to_urn_example_mfa_and_300_seconds() {
    let addr = start(&[("JWT_SECRET", SECRET.to_owned())]).await;
    let n = now();
    let t = hs256(&json!({"sub": "u1", "acr": "urn:other", "auth_time": n, "exp": n + 60}));
    let r = fetch_bearer(addr, "/stepup", &t).await;
    assert_eq!(r.status, 401);
    assert_eq!(attribute(&r.www, "acr_values"), Some("urn:example:mfa"));
    assert_eq!(attribute(&r.www, "max_age"), Some("300"));
    let ok = hs256(&json!({"acr": "urn:example:mfa", "auth_time": n - 299, "exp": n + 60}));
    assert_eq!(fetch_bearer(addr, "/stepup", &ok).await.status, 200);
    for (var, value) in [("STEPUP_MAX_AGE", "5m"), ("STEPUP_ACR", " , ")] {
        let err = serve::configure(&env_of(&[
            ("JWT_SECRET", SECRET.to_owned()),
            (var, value.to_owned()),
        ]))
        .await
        .err()
        .expect("an error");
        assert!(err.contains(var), "{err}");
    }
}

/// An OIDC provider over HTTPS on 127.0.0.1 whose certificate comes from
/// `ca` (for `names`), serving the fixture JWK Set.
async fn https_identity_provider(ca: &common::tls::Ca, names: &[&str]) -> String {
    use std::sync::{Arc, OnceLock};
    let issuer: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let discovery_issuer = Arc::clone(&issuer);
    let jwks = fixture_str("jwks.json");
    let app = axum::Router::new()
        .route("/jwks", axum::routing::get(move || async move { jwks }))
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let iss = discovery_issuer.get().cloned().unwrap_or_default();
                async move { json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks")}).to_string() }
            }),
        );
    let addr = common::tls::serve_tls(app, &ca.server(names), None).await;
    let url = format!("https://127.0.0.1:{}", addr.port());
    issuer.set(url.clone()).unwrap();
    url
}

#[tokio::test]
async fn remote_ca_file_trusts_a_private_ca_and_without_it_the_start_names_the_problem() {
    let ca = common::tls::Ca::new("serve test ca");
    let issuer = https_identity_provider(&ca, &["127.0.0.1"]).await;
    let dir = std::env::temp_dir().join(format!("serve-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let ca_path = ca_file.display().to_string();

    // Trusted through REMOTE_CA_FILE: keys fetched, tokens accepted.
    let addr = start(&[
        ("OIDC_ISSUER", issuer.clone()),
        ("REMOTE_CA_FILE", ca_path.clone()),
    ])
    .await;
    let claims = json!({"sub": "u", "exp": now() + 600, "iss": issuer});
    let good = token(Algorithm::ES256, Some("ec256-1"), &claims);
    assert_eq!(fetch_bearer(addr, "/me", &good).await.status, 200);

    // Without it, or with another CA's root: one line naming the URL and
    // the certificate problem.
    let other = dir.join("other.pem");
    std::fs::write(&other, common::tls::Ca::new("other ca").pem()).unwrap();
    for vars in [
        vec![("OIDC_ISSUER", issuer.clone())],
        vec![
            ("OIDC_ISSUER", issuer.clone()),
            ("REMOTE_CA_FILE", other.display().to_string()),
        ],
    ] {
        let err = serve::configure(&env_of(&vars))
            .await
            .err()
            .expect("an error");
        assert!(err.contains("OIDC_ISSUER"), "{err}");
        assert!(
            err.contains(&format!("{issuer}/.well-known/openid-configuration")),
            "{err}"
        );
        assert!(err.contains("UnknownIssuer"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    // The host name is checked even for the trusted CA.
    let misnamed = https_identity_provider(&ca, &["idp.other.example"]).await;
    let err = serve::configure(&env_of(&[
        ("OIDC_ISSUER", misnamed),
        ("REMOTE_CA_FILE", ca_path.clone()),
    ]))
    .await
    .err()
    .expect("an error");
    assert!(err.contains("not valid for name"), "{err}");

    // An unreadable or certificate-less file stops the start, naming it.
    for bad in [dir.join("missing.pem"), dir.join("empty.pem")] {
        if bad.ends_with("empty.pem") {
            std::fs::write(&bad, "no certificate here").unwrap();
        }
        let err = serve::configure(&env_of(&[
            ("OIDC_ISSUER", issuer.clone()),
            ("REMOTE_CA_FILE", bad.display().to_string()),
        ]))
        .await
        .err()
        .expect("an error");
        assert!(err.starts_with("REMOTE_CA_FILE"), "{err}");
        assert!(err.contains(&bad.display().to_string()), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn jwt_algorithms_accepts_the_rfc_9864_name_ed25519_for_ed25519_keys_only() {
    let addr = start(&[
        ("JWKS_FILE", path("jwks.json")),
        ("JWT_ALGORITHMS", "Ed25519".into()),
    ])
    .await;
    let claims = json!({"sub": "u", "exp": now() + 600}).to_string();
    let sign = |name: &str, kid: &str, alg: Algorithm| {
        let header = json!({"alg": name, "kid": kid}).to_string();
        raw_token(&header, &claims, alg, &signing_key(alg))
    };
    let ok = sign("Ed25519", "ed-1", Algorithm::EdDSA);
    assert_eq!(fetch_bearer(addr, "/me", &ok).await.status, 200);
    for (what, token) in [
        (
            "Ed25519 on an RSA key",
            sign("Ed25519", "rsa-1", Algorithm::RS256),
        ),
        (
            "ES256, not allowed",
            sign("ES256", "ec256-1", Algorithm::ES256),
        ),
        ("Ed448", sign("Ed448", "ed-1", Algorithm::EdDSA)),
    ] {
        assert_eq!(
            fetch_bearer(addr, "/me", &token).await.status,
            401,
            "{what}"
        );
    }
    let err = serve::configure(&env_of(&[
        ("JWKS_FILE", path("jwks.json")),
        ("JWT_ALGORITHMS", "Ed448".into()),
    ]))
    .await
    .err()
    .expect("an error");
    assert!(
        err.contains("JWT_ALGORITHMS") && err.contains("Ed448"),
        "{err}"
    );
}

/// An RFC 7662 endpoint on 127.0.0.1: answers by token (`{"active":
/// false}` for others), or 500 when `down`; counts requests and keeps the
/// last `Authorization` header.
#[derive(Default)]
struct Introspect {
    answers: std::sync::Mutex<std::collections::HashMap<String, Value>>,
    down: std::sync::atomic::AtomicBool,
    hits: std::sync::atomic::AtomicUsize,
    authorization: std::sync::Mutex<Option<String>>,
}

impl Introspect {
    async fn start() -> (std::sync::Arc<Self>, String) {
        use std::sync::atomic::Ordering;
        let state = std::sync::Arc::new(Self::default());
        let s = std::sync::Arc::clone(&state);
        let handler = move |headers: axum::http::HeaderMap, body: String| {
            let s = std::sync::Arc::clone(&s);
            async move {
                s.hits.fetch_add(1, Ordering::SeqCst);
                *s.authorization.lock().unwrap() = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned());
                if s.down.load(Ordering::SeqCst) {
                    return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, String::new());
                }
                let token = body
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("token="))
                    .unwrap_or_default();
                let answer = s.answers.lock().unwrap().get(token).cloned();
                let answer = answer.unwrap_or(json!({"active": false}));
                (axum::http::StatusCode::OK, answer.to_string())
            }
        };
        let app = axum::Router::new().route("/introspect", axum::routing::post(handler));
        let addr = common::serve(app).await;
        (state, format!("http://{addr}/introspect"))
    }

    fn answer(&self, token: &str, answer: Value) {
        self.answers.lock().unwrap().insert(token.into(), answer);
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn introspection_url_alone_introspects_every_token() {
    let (endpoint, url) = Introspect::start().await;
    let n = now();
    let claims = json!({"active": true, "sub": "u1", "aud": AUD, "scope": "read", "exp": n + 600});
    endpoint.answer("opaque-read", claims.clone());
    endpoint.answer(
        "opaque-admin",
        merged(&claims, json!({"scope": "read admin"})),
    );
    endpoint.answer("opaque-web", merged(&claims, json!({"aud": "web"})));
    endpoint.answer("opaque-string", merged(&claims, json!({"active": "true"})));
    endpoint.answer("opaque-absent", json!({"sub": "u1"}));
    // A JWT too, as there are no keys: its answer decides.
    let jwt = hs256(&json!({"sub": "u2", "exp": n + 600}));
    endpoint.answer(&jwt, merged(&claims, json!({"sub": "u2"})));
    let vars = [
        ("INTROSPECTION_URL", url),
        ("INTROSPECTION_CLIENT_ID", "rs:1".into()),
        ("INTROSPECTION_CLIENT_SECRET", "p@ss word".into()),
        ("JWT_AUDIENCE", AUD.into()),
    ];
    let config = serve::configure(&env_of(&vars)).await.expect("configure");
    assert!(
        config.generated_secret.is_none(),
        "a key variable: no quickstart secret"
    );
    let addr = common::serve(serve::app(&config)).await;

    let me = fetch_bearer(addr, "/me", "opaque-read").await;
    assert_eq!(me.status, 200, "{}", me.body);
    let body: Value = serde_json::from_str(&me.body).unwrap();
    let mut want = claims.clone();
    want.as_object_mut().unwrap().remove("active");
    assert_eq!(body, want, "the members minus `active`");
    assert_eq!(
        endpoint.authorization.lock().unwrap().as_deref(),
        Some("Basic cnMlM0ExOnAlNDBzcyt3b3Jk"),
        "base64 of form-urlencoded `rs:1` and `p@ss word`"
    );
    assert_eq!(
        fetch_bearer(addr, "/admin", "opaque-read").await.status,
        403
    );
    assert_eq!(
        fetch_bearer(addr, "/admin", "opaque-admin").await.status,
        200
    );
    assert_eq!(fetch_bearer(addr, "/me", "opaque-web").await.status, 401);
    assert_eq!(fetch_bearer(addr, "/me", "opaque-string").await.status, 401);
    assert_eq!(fetch_bearer(addr, "/me", "unknown").await.status, 401);
    assert_eq!(fetch_bearer(addr, "/me", "opaque-absent").await.status, 503);
    assert_eq!(fetch_bearer(addr, "/me", &jwt).await.status, 200);
    let hits = endpoint.hits();
    assert_eq!(hits, 7, "one request per token");
    // Reused (default TTL 60 s): no new request.
    assert_eq!(
        fetch_bearer(addr, "/admin", "opaque-read").await.status,
        403
    );
    assert_eq!(fetch_bearer(addr, "/me", "opaque-read").await.status, 200);
    assert_eq!(endpoint.hits(), hits);
    // Down: 503, never 200, for a token not answered before.
    endpoint
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    endpoint.answer("opaque-new", claims.clone());
    assert_eq!(fetch_bearer(addr, "/me", "opaque-new").await.status, 503);
    endpoint
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(fetch_bearer(addr, "/me", "opaque-new").await.status, 200);
}

#[tokio::test]
async fn introspection_with_keys_verifies_jws_locally_and_introspects_the_rest() {
    let (endpoint, url) = Introspect::start().await;
    let n = now();
    endpoint.answer(
        "opaque",
        json!({"active": true, "sub": "o", "exp": n + 600}),
    );
    let vars = [
        ("INTROSPECTION_URL", url),
        ("JWT_SECRET", SECRET.into()),
        ("INTROSPECTION_CACHE_TTL", "0".into()),
    ];
    let addr = start(&vars).await;
    let jwt = hs256(&json!({"sub": "u", "exp": n + 600}));
    assert_eq!(fetch_bearer(addr, "/me", &jwt).await.status, 200);
    let expired = hs256(&json!({"sub": "u", "exp": n - 3600}));
    assert_eq!(fetch_bearer(addr, "/me", &expired).await.status, 401);
    assert_eq!(endpoint.hits(), 0, "a JWS is never introspected");
    assert_eq!(fetch_bearer(addr, "/me", "opaque").await.status, 200);
    assert_eq!(fetch_bearer(addr, "/me", "opaque").await.status, 200);
    assert_eq!(endpoint.hits(), 2, "INTROSPECTION_CACHE_TTL=0: no reuse");
}

#[tokio::test]
async fn introspection_variables_are_checked() {
    for (vars, expected) in [
        (
            vec![("INTROSPECTION_URL", "http://10.1.2.3/introspect".to_owned())],
            "INTROSPECTION_URL",
        ),
        (
            vec![
                (
                    "INTROSPECTION_URL",
                    "http://127.0.0.1:9/introspect".to_owned(),
                ),
                ("INTROSPECTION_CACHE_TTL", "soon".to_owned()),
            ],
            "INTROSPECTION_CACHE_TTL",
        ),
        (
            vec![
                (
                    "INTROSPECTION_URL",
                    "http://127.0.0.1:9/introspect".to_owned(),
                ),
                ("INTROSPECTION_CLIENT_SECRET", "s".to_owned()),
            ],
            "INTROSPECTION_CLIENT_ID",
        ),
    ] {
        let err = serve::configure(&env_of(&vars))
            .await
            .err()
            .expect("refused");
        assert!(err.contains(expected), "{err}");
    }
}

/// The variable that makes [`serve_in_a_child_process`] run: the tokens
/// to send to `/me`, comma separated.
const CHILD_TOKENS: &str = "SERVE_TEST_CHILD_TOKENS";

/// The demo server (its configuration and router) configured from this
/// process's environment, which a test sets for a child process of this
/// binary (environment variables are process-wide): prints `status <n>`
/// for `GET /me` with each token, or exits 2 with the error, as serve does.
#[tokio::test]
#[ignore = "run by the environment tests below, in a child process"]
async fn serve_in_a_child_process() {
    let Ok(tokens) = std::env::var(CHILD_TOKENS) else {
        return;
    };
    let env = |name: &str| std::env::var(name).ok();
    let config = match serve::configure(&env).await {
        Ok(config) => config,
        Err(e) => {
            eprintln!("serve: {e}");
            std::process::exit(2);
        }
    };
    let addr = common::serve(serve::app(&config)).await;
    // This client must not take the environment's proxy.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for token in tokens.split(',').filter(|t| !t.is_empty()) {
        let reply = client
            .get(format!("http://{addr}/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        println!("status {}", reply.status().as_u16());
    }
}

/// Runs [`serve_in_a_child_process`] in a child process with `vars` (and
/// no `NO_PROXY`): whether it succeeded, and its stdout and stderr.
async fn serve_child(vars: &[(&str, String)], tokens: &[&str]) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    let mut child = tokio::process::Command::new(exe);
    child
        .args([
            "serve::serve_in_a_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_TOKENS, tokens.join(","))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for (name, value) in vars {
        child.env(name, value);
    }
    let out = child.output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The proxy variables, every spelling, all naming `proxy`.
fn proxy_variables(proxy: &str) -> Vec<(&'static str, String)> {
    [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, proxy.to_owned()))
    .collect()
}

#[tokio::test]
async fn environment_proxies_are_never_sent_a_loopback_fetch() {
    let proxy = common::recorder::Recorder::start().await;
    let idp = identity_provider(None).await;
    let (endpoint, introspection_url) = Introspect::start().await;
    endpoint.answer(
        "opaque-ok",
        json!({"active": true, "sub": "o", "exp": now() + 600}),
    );
    let jwt = token(
        Algorithm::RS256,
        Some("rsa-1"),
        &json!({"sub": "u", "exp": now() + 600}),
    );
    let mut vars = proxy_variables(&proxy.url());
    vars.extend([
        ("JWKS_URL", format!("http://{idp}/jwks")),
        ("INTROSPECTION_URL", introspection_url),
        ("INTROSPECTION_CLIENT_ID", "rs".into()),
        ("INTROSPECTION_CLIENT_SECRET", "cl1ent-s3cret".into()),
    ]);
    let (ok, out) = serve_child(&vars, &[&jwt, "opaque-ok"]).await;
    assert!(ok, "{out}");
    assert_eq!(
        out.matches("status 200").count(),
        2,
        "the keys and the introspection answer were fetched: {out}"
    );
    assert_eq!(endpoint.hits(), 1);
    assert_eq!(
        proxy.requests(),
        Vec::<String>::new(),
        "the proxy saw nothing"
    );
}

#[tokio::test]
async fn credentials_in_a_url_never_reach_the_output() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for (name, url) in [
        (
            "JWKS_URL",
            format!("http://id:s3cr3t@127.0.0.1:{port}/jwks"),
        ),
        ("OIDC_ISSUER", format!("http://id:s3cr3t@127.0.0.1:{port}")),
    ] {
        let (ok, out) = serve_child(&[(name, url)], &[]).await;
        assert!(!ok, "{name}: {out}");
        assert!(out.contains(&format!("127.0.0.1:{port}")), "{name}: {out}");
        assert!(
            !out.contains("s3cr3t") && !out.contains("id:"),
            "{name}: {out}"
        );
    }
    // Introspection: started, then a 503 for a token it cannot ask about.
    let vars = [(
        "INTROSPECTION_URL",
        format!("http://id:s3cr3t@127.0.0.1:{port}/introspect"),
    )];
    let (ok, out) = serve_child(&vars, &["opaque"]).await;
    assert!(ok && out.contains("status 503"), "{out}");
    assert!(!out.contains("s3cr3t") && !out.contains("id:"), "{out}");
}
