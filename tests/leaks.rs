//! No leaks: every failure path is exercised through the real layer while
//! all tracing output (every level, every target) and every response (status
//! line, headers, body) is captured; no token, token segment, secret or key
//! may appear in any of it, nor in the `Debug`/`Display` of any public type.

mod common;

use axum::routing::get;
use axum::{Json, Router};
use common::logs::capture;
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use tower_jwt_auth::{clock::FixedClock, keys::Key, keys::KeySet, Authenticator, Claims};
use tracing::Level;
use tracing_subscriber::fmt::format::FmtSpan;

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

/// The secret strings no output may contain, and their common encodings.
fn forbidden(token: &str) -> Vec<String> {
    let mut f = vec![token.to_owned(), SECRET.to_owned(), b64(SECRET)];
    f.extend(token.split('.').filter(|s| s.len() >= 8).map(str::to_owned));
    let bytes = format!("{:?}", SECRET.as_bytes());
    f.push(bytes.trim_matches(|c| c == '[' || c == ']').to_owned());
    for pem in ["rsa2048_public.pem", "ec256_public.pem"] {
        let text = fixture_str(pem);
        f.extend(
            text.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned),
        );
    }
    f
}

fn assert_clean(what: &str, text: &str, token: &str) {
    for needle in forbidden(token) {
        assert!(!text.contains(&needle), "{what} leaks {:.24}…", needle);
    }
}

/// `GET /me` with this `Authorization`: the status, and the whole reply as
/// text.
async fn raw_reply(addr: std::net::SocketAddr, authorization: &str) -> (u16, String) {
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/me"))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    reply_text(res).await
}

/// Every response part as one text: status, headers, body.
async fn reply_text(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let mut text = format!("{status}\n");
    for (k, v) in res.headers() {
        text.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    text.push_str(&res.text().await.unwrap());
    (status, text)
}

#[tokio::test]
async fn no_token_secret_or_key_in_logs_or_responses_on_any_failure_path() {
    let (logs, _guard) = capture(Level::TRACE, FmtSpan::NONE);
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .public_key_pem(fixture("rsa2048_public.pem"))
        .unwrap()
        .public_key_pem(fixture("ec256_public.pem"))
        .unwrap()
        .issuer(["https://i"])
        .audience(["api"])
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let app = Router::new().route("/me", get(me).layer(auth.layer().require_scope("admin")));
    let addr = serve(app).await;

    let base =
        json!({"iss": "https://i", "aud": "api", "sub": "u", "scope": "admin", "exp": NOW + 600});
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        hs256(&c)
    };
    let hs = common::forge::secret_key(SECRET.as_bytes());
    let good = hs256(&base);
    let (h, p, _) = {
        let mut it = good.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let tokens = vec![
        with("exp", json!(NOW - 3600)),
        with("nbf", json!(NOW + 3600)),
        with("iat", json!(NOW + 3600)),
        with("iss", json!("https://evil")),
        with("aud", json!("other")),
        with("exp", json!("soon")),
        with("scope", json!("read")),
        format!("{h}.{p}.{}", b64([9u8; 32])),
        format!("{}.{p}.", b64(r#"{"alg":"none"}"#)),
        raw_token(
            r#"{"alg":"HS256","crit":["x"]}"#,
            &base.to_string(),
            Algorithm::HS256,
            &hs,
        ),
        raw_token(
            r#"{"alg":"HS256","b64":false}"#,
            &base.to_string(),
            Algorithm::HS256,
            &hs,
        ),
        raw_token(
            r#"{"alg":"HS256","enc":"A128GCM"}"#,
            &base.to_string(),
            Algorithm::HS256,
            &hs,
        ),
        token(Algorithm::RS256, Some("unknown"), &base),
        token(Algorithm::ES256, None, &json!({"aud": 5, "exp": NOW + 600})),
        common::forge::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &base,
            &common::forge::secret_key(fixture("rsa2048_public.pem")),
        )
        .unwrap(),
        format!("{h}.{}.{}", "A".repeat(9000), b64([1u8; 32])),
        format!("{h}.{p}.x.y"),
        format!(
            "{}.{p}.sig",
            b64(format!(r#"{{"alg":"HS256","kid":"{SECRET}"}}"#))
        ),
    ];
    let mut statuses = Vec::new();
    for t in &tokens {
        for auth_value in [
            format!("Bearer {t}"),
            format!("Bearer {t} {t}"),
            format!("Bearer\t{t}"),
        ] {
            let (status, text) = raw_reply(addr, &auth_value).await;
            statuses.push(status);
            assert_clean(&format!("response to {:.30}", auth_value), &text, t);
        }
    }
    assert!(
        statuses.iter().all(|s| [200, 400, 401, 403].contains(s)),
        "{statuses:?}"
    );
    let log = logs.text();
    assert!(
        log.contains("jwt authentication rejected the request"),
        "no rejection events:\n{log}"
    );
    for t in &tokens {
        assert_clean("tracing output", &log, t);
    }
}

#[tokio::test]
async fn each_rejection_is_one_debug_event_naming_its_kind() {
    let (logs, _guard) = capture(Level::TRACE, FmtSpan::NONE);
    let auth = Authenticator::builder()
        .hmac_secret(SECRET)
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;
    let expired = hs256(&json!({"exp": NOW - 3600}));
    let before = logs.text().matches("rejected the request").count();
    fetch_bearer(addr, "/me", &expired).await;
    let log = logs.text();
    assert_eq!(
        log.matches("rejected the request").count(),
        before + 1,
        "{log}"
    );
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("rejected the request"))
        .unwrap();
    assert!(
        line.contains("DEBUG") && line.contains("kind=Expired") && line.contains("claim=\"exp\""),
        "{line}"
    );
    fetch(addr, "/me", Some("Bearer")).await;
    let line = logs
        .text()
        .lines()
        .rev()
        .find(|l| l.contains("rejected the request"))
        .unwrap()
        .to_owned();
    assert!(line.contains("kind=MalformedRequest"), "{line}");
    // A valid request logs no rejection.
    let n = logs.text().matches("rejected the request").count();
    fetch_bearer(addr, "/me", &hs256(&json!({"exp": NOW + 60}))).await;
    assert_eq!(logs.text().matches("rejected the request").count(), n);
}

#[test]
fn debug_and_display_of_every_public_type_are_redacted() {
    let token = hs256(&json!({"exp": NOW + 60}));
    let key = Key::hmac(SECRET).unwrap().with_kid("k1");
    let mut set = KeySet::new();
    set.push(key.clone()).unwrap();
    set.push(Key::from_pem(fixture("rsa2048_public.pem")).unwrap())
        .unwrap();
    let builder = Authenticator::builder()
        .hmac_secret(SECRET)
        .public_key_pem(fixture("ec256_public.pem"))
        .unwrap();
    let dbg_builder = format!("{builder:?}");
    let auth = builder.build().unwrap();
    let layer = auth.layer().require_scope("admin");
    let service = tower::Layer::layer(
        &layer,
        tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }),
    );
    let err = auth.verifier().verify(&format!("{token}x")).unwrap_err();
    let config_err = Authenticator::builder()
        .hmac_secret(&SECRET[..20])
        .build()
        .unwrap_err();
    let claims = auth.verifier().verify(&token).unwrap();
    for (what, text) in [
        ("Key", format!("{key:?}")),
        ("KeySet", format!("{set:?}")),
        ("AuthenticatorBuilder", dbg_builder),
        ("Authenticator", format!("{auth:?}")),
        ("Verifier", format!("{:?}", auth.verifier())),
        ("JwtAuthLayer", format!("{layer:?}")),
        ("JwtAuth", format!("{service:?}")),
        ("AuthError", format!("{err:?} {err}")),
        ("ConfigError", format!("{config_err:?} {config_err}")),
    ] {
        assert_clean(what, &text, &token);
        assert!(
            !text.contains(&SECRET[..20]),
            "{what} leaks the short secret"
        );
    }
    // Claims are the application's data: their Debug shows them, by design.
    assert!(format!("{claims:?}").contains("exp"));
}

/// The token sources beyond `Authorization`, route rules and issuer picking:
/// a token sent in a cookie, a custom header or the query string (valid,
/// invalid, or conflicting with another source) appears in no response and
/// no tracing output.
#[tokio::test]
async fn other_token_sources_rules_and_issuers_leak_nothing() {
    use tower_jwt_auth::{rules::Denied, TokenSource};

    let (logs, _guard) = capture(Level::TRACE, FmtSpan::NONE);
    let one = |iss: &str| {
        Authenticator::builder()
            .hmac_secret(SECRET)
            .issuer([iss])
            .clock(FixedClock::new(NOW))
            .build()
            .unwrap()
    };
    let auth = Authenticator::by_issuer([one("https://a"), one("https://b")]).unwrap();
    let layer = auth
        .layer()
        .token_sources([
            TokenSource::authorization(),
            TokenSource::cookie("at"),
            TokenSource::header(http::HeaderName::from_static("x-token")),
            TokenSource::danger_query("access_token"),
        ])
        .require_any_role(["admin"])
        .require(|c: &Claims| {
            if c["sub"] == "ok" {
                Ok(())
            } else {
                Err(Denied::because("wrong subject"))
            }
        });
    let addr = serve(Router::new().route("/me", get(me).layer(layer))).await;

    let base = json!({"iss": "https://a", "sub": "ok", "roles": ["admin"], "exp": NOW + 600});
    let claims = |extra: Value| hs256(&merged(&base, extra));
    let tokens = [
        claims(json!({"roles": ["user"]})),
        claims(json!({"sub": "nope"})),
        claims(json!({"iss": "https://evil"})),
        claims(json!({"exp": NOW - 3600})),
        format!("{}x", claims(json!({}))),
    ];
    let other = claims(json!({"sub": "other-token"}));
    let client = reqwest::Client::new();
    for t in &tokens {
        let requests = [
            client
                .get(format!("http://{addr}/me"))
                .header("cookie", format!("at={t}")),
            client
                .get(format!("http://{addr}/me"))
                .header("x-token", t.as_str()),
            client.get(format!("http://{addr}/me?access_token={t}")),
            client
                .get(format!("http://{addr}/me"))
                .header("cookie", format!("at={t}"))
                .header("authorization", format!("Bearer {other}")),
        ];
        for req in requests {
            let (status, text) = reply_text(req.send().await.unwrap()).await;
            assert!([400, 401, 403].contains(&status), "{status}");
            assert_clean("response", &text, t);
            assert_clean("response", &text, &other);
        }
    }
    let log = logs.text();
    assert!(log.contains("rejected"), "no rejection events:\n{log}");
    for t in tokens.iter().chain([&other]) {
        assert_clean("tracing output", &log, t);
    }
}
