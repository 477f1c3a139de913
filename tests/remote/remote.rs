//! Remote keys (feature `remote`) against a real JWKS and OIDC discovery
//! server on 127.0.0.1:0 whose behaviour each test sets and whose request
//! counters it reads (tests/common/idp.rs); requests go through a real axum
//! server with the layer.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tower_jwt_auth::remote::FetchErrorKind;
use tower_jwt_auth::{clock::FixedClock, keys::Algorithm, Authenticator, ConfigError};
use tower_jwt_auth::{dpop::DpopConfig, dpop::DpopMode};

use common::dpop::{self, assert_invalid_proof, bound_to, proof_key, send, send_proof};
use common::idp::{jwk, quick, quick_http, refused, Api, Idp};
use common::{fixture_str, now, token};

fn claims() -> Value {
    json!({"sub": "alice", "exp": now() + 3600, "iat": now()})
}

fn rsa_token() -> String {
    token(Algorithm::RS256, Some("rsa-1"), &claims())
}

fn ec_token() -> String {
    token(Algorithm::ES256, Some("ec256-1"), &claims())
}

#[tokio::test]
async fn new_kid_is_accepted_after_exactly_one_refetch_and_a_removed_key_after_the_next_refresh() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let options = quick().refresh_interval(Duration::from_millis(300));
    let api = Api::serve(&idp.authenticator(options).await).await;
    assert_eq!(idp.hits(), 1, "the first fetch happens at build");
    assert_eq!(api.status(&rsa_token()).await, 200);

    // The provider publishes a new key; a token naming it is accepted
    // after one refetch (the background refresh is not due yet).
    let before = idp.hits();
    idp.set(|b| b.keys = vec![jwk("rsa-1"), jwk("ec256-1")]);
    assert_eq!(api.status(&ec_token()).await, 200);
    assert_eq!(idp.hits(), before + 1, "exactly one refetch");

    // The old key leaves the set: rejected once the next refresh ran.
    idp.set(|b| b.keys = vec![jwk("ec256-1")]);
    let hits = idp.hits();
    while idp.hits() < hits + 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(api.status(&rsa_token()).await, 401);
    assert_eq!(api.status(&ec_token()).await, 200);
}

#[tokio::test]
async fn a_thousand_concurrent_requests_with_one_unknown_kid_cause_one_fetch() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let auth = idp
        .builder(quick())
        .http_client(quick_http().timeout(Duration::from_secs(5)))
        .build_async()
        .await
        .unwrap();
    let api = Api::serve(&auth).await;
    // The refetch takes a while, so that all requests arrive during it.
    idp.set(|b| {
        b.keys = vec![jwk("rsa-1"), jwk("ec256-1")];
        b.delay = Duration::from_millis(1500);
    });
    let token = ec_token();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (api, token) = (api.clone(), token.clone());
        requests.spawn(async move { api.status(&token).await });
    }
    let mut ok = 0;
    while let Some(status) = requests.join_next().await {
        ok += usize::from(status.unwrap() == 200);
    }
    assert_eq!(idp.hits(), 2, "the build's fetch and one shared refetch");
    assert_eq!(ok, 1000, "every request waited for the shared refetch");
}

#[tokio::test]
async fn a_thousand_random_kids_within_one_cooldown_cost_at_most_one_fetch() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let api = Api::serve(&idp.authenticator(quick()).await).await;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let api = api.clone();
        let token = token(
            Algorithm::RS256,
            Some(&format!("random-{i}-{}", rand::random::<u64>())),
            &claims(),
        );
        requests.spawn(async move { api.status(&token).await });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    assert!(idp.hits() <= 2, "{} fetches", idp.hits());
    // The known key never stopped working.
    assert_eq!(api.status(&rsa_token()).await, 200);
}

#[tokio::test]
async fn down_at_start_is_a_clear_error_naming_the_url() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    idp.set(|b| b.status = 500);
    let e = idp.refused(quick()).await;
    assert_eq!(e.kind(), &FetchErrorKind::Status(500));
    assert!(e.to_string().contains(&idp.url()), "{e}");
    assert!(
        ConfigError::RemoteKeys(e).to_string().contains("500"),
        "the message says why"
    );

    // Nobody listens: connection refused, named too.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{closed}/jwks");
    let e = refused(
        Authenticator::builder()
            .jwks_url(&url)
            .http_client(quick_http()),
    )
    .await;
    assert_eq!(e.kind(), &FetchErrorKind::Connect);
    assert!(e.to_string().contains(&url));
}

#[tokio::test]
async fn down_at_start_can_start_answering_503_until_keys_arrive() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    idp.set(|b| b.status = 503);
    let options = quick()
        .start_without_keys(true)
        .unknown_kid_cooldown(Duration::from_millis(200));
    let api = Api::serve(&idp.authenticator(options).await).await;
    assert_eq!(api.status(&rsa_token()).await, 503);
    idp.set(|b| b.status = 200);
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Past the cooldown, a request refetches and waits for it.
    assert_eq!(api.status(&rsa_token()).await, 200);
}

#[tokio::test]
async fn down_mid_run_keeps_known_keys_until_the_max_stale_age_then_503() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let clock = Arc::new(FixedClock::new(now()));
    let options = quick()
        .refresh_interval(Duration::from_millis(100))
        .unknown_kid_cooldown(Duration::from_millis(100))
        .max_stale_age(Duration::from_secs(3600));
    let auth = idp
        .builder(options)
        .clock(clock.clone())
        .build_async()
        .await
        .unwrap();
    let api = Api::serve(&auth).await;
    // Down, and hanging: known keys never wait on it.
    idp.set(|b| {
        b.status = 500;
        b.delay = Duration::from_secs(30);
    });
    let hits = idp.hits();
    let impatient = api.with_timeout(Duration::from_millis(900));
    while idp.hits() == hits {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(impatient.status(&rsa_token()).await, 200);
    idp.set(|b| b.delay = Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.status(&rsa_token()).await, 200);
    // An hour later (the injected clock), still no good fetch: 503.
    clock.set(now() + 3601);
    assert_eq!(api.status(&rsa_token()).await, 503);
    // The provider comes back: the next refresh restores service.
    idp.set(|b| b.status = 200);
    let hits = idp.hits();
    while idp.hits() < hits + 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(api.status(&rsa_token()).await, 200);
}

#[tokio::test]
async fn slow_server_times_out_and_no_request_waits_past_the_timeout() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    idp.set(|b| b.delay = Duration::from_secs(30));
    assert_eq!(idp.refused(quick()).await.kind(), &FetchErrorKind::Timeout);

    idp.set(|b| b.delay = Duration::ZERO);
    let api = Api::serve(&idp.authenticator(quick()).await).await;
    idp.set(|b| b.delay = Duration::from_secs(30));
    // An unknown kid waits for the refetch, but never past the 1 s fetch
    // timeout (the client gives up at 5 s).
    let api = api.with_timeout(Duration::from_secs(5));
    assert_eq!(api.status(&ec_token()).await, 401);
    assert_eq!(api.status(&rsa_token()).await, 200);
}

#[tokio::test]
async fn non_json_oversized_and_error_responses_are_refused_at_start() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    idp.set(|b| b.raw_body = Some(b"<html>not json</html>".to_vec()));
    assert_eq!(
        idp.refused(quick()).await.kind(),
        &FetchErrorKind::InvalidDocument
    );
    idp.set(|b| b.raw_body = Some(br#"{"keys":[]}"#.to_vec()));
    assert_eq!(
        idp.refused(quick()).await.kind(),
        &FetchErrorKind::NoUsableKeys
    );
    // 10 MiB, announced by Content-Length: refused before reading.
    idp.set(|b| b.raw_body = Some(vec![b' '; 10 << 20]));
    assert_eq!(
        idp.refused(quick()).await.kind(),
        &FetchErrorKind::TooLarge { limit: 1 << 20 }
    );
    // 10 MiB streamed without a length: refused while reading.
    idp.set(|b| {
        b.raw_body = None;
        b.stream_len = Some(10 << 20);
    });
    assert_eq!(
        idp.refused(quick()).await.kind(),
        &FetchErrorKind::TooLarge { limit: 1 << 20 }
    );
    idp.set(|b| {
        b.stream_len = None;
        b.status = 500;
    });
    assert_eq!(
        idp.refused(quick()).await.kind(),
        &FetchErrorKind::Status(500)
    );
}

#[tokio::test]
async fn unusable_keys_in_a_remote_set_are_skipped_and_the_others_serve() {
    let weak: Value = serde_json::from_str(&fixture_str("jwks_rsa1024.json")).unwrap();
    let mut dup_a = jwk("ec256-1");
    dup_a["kid"] = "dup".into();
    let mut dup_b = jwk("ec384-1");
    dup_b["kid"] = "dup".into();
    let mut enc = jwk("ec256-1");
    enc["kid"] = "enc".into();
    enc["use"] = "enc".into();
    let mut oct = dpop::oct_jwk();
    oct["kid"] = "oct".into();
    let idp = Idp::start(vec![
        jwk("rsa-1"),
        oct,
        weak["keys"][0].clone(),
        dup_a,
        dup_b,
        enc,
    ])
    .await;
    let auth = idp.authenticator(quick()).await;
    let api = Api::serve(&auth).await;
    assert_eq!(api.status(&rsa_token()).await, 200);
    // The oct key would verify HS256 with a secret everyone can read.
    let hs = token(Algorithm::HS256, Some("oct"), &claims());
    assert_eq!(api.status(&hs).await, 401);
    // The 1024-bit key (no backend here signs with one) is not in the set.
    let held = format!("{:?}", auth.verifier());
    assert!(held.contains("\"rsa-1\""), "{held}");
    for skipped in ["weak", "oct", "dup", "enc"] {
        assert!(!held.contains(&format!("\"{skipped}\"")), "{held}");
    }
    let dup = token(Algorithm::ES256, Some("dup"), &claims());
    assert_eq!(api.status(&dup).await, 401);
    let enc = token(Algorithm::ES256, Some("enc"), &claims());
    assert_eq!(api.status(&enc).await, 401);
}

#[tokio::test]
async fn oidc_discovery_pins_the_issuer_and_binds_the_keys() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let auth = idp.oidc_builder(quick()).build_async().await.unwrap();
    assert_eq!(idp.discovery_hits(), 1);
    assert_eq!(idp.hits(), 1);
    let api = Api::serve(&auth).await;
    let good = token(
        Algorithm::RS256,
        Some("rsa-1"),
        &common::merged(&claims(), json!({"iss": idp.issuer()})),
    );
    assert_eq!(api.status(&good).await, 200);
    for iss in [json!(null), json!("http://other.example")] {
        let bad = token(
            Algorithm::RS256,
            Some("rsa-1"),
            &common::merged(&claims(), json!({ "iss": iss })),
        );
        assert_eq!(api.status(&bad).await, 401, "iss {iss}");
    }
}

#[tokio::test]
async fn discovery_with_another_issuer_is_refused_even_in_503_mode() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    idp.set(|b| b.issuer = Some("https://evil.example".into()));
    for start_anyway in [false, true] {
        let e = refused(idp.oidc_builder(quick().start_without_keys(start_anyway))).await;
        assert_eq!(e.kind(), &FetchErrorKind::IssuerMismatch);
        assert!(e.to_string().contains(&idp.issuer()));
    }
    assert_eq!(idp.hits(), 0, "no keys are fetched for the wrong issuer");
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_refused_without_a_request() {
    for build in [
        Authenticator::builder().jwks_url("http://idp.example/jwks"),
        Authenticator::builder().oidc_issuer("http://idp.example/realms/main"),
    ] {
        let e = refused(build).await;
        assert_eq!(e.kind(), &FetchErrorKind::InsecureUrl);
        assert!(e.to_string().contains("http://idp.example/"));
    }
    // A sync build with a remote source says to use build_async.
    assert!(matches!(
        Authenticator::builder()
            .jwks_url("https://idp.example/jwks")
            .build(),
        Err(ConfigError::NeedsBuildAsync)
    ));
}

#[tokio::test]
async fn the_background_refresh_stops_when_the_authenticator_is_dropped() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let auth = idp
        .authenticator(quick().refresh_interval(Duration::from_millis(50)))
        .await;
    let layer = auth.layer();
    drop(auth);
    // A clone (the layer) keeps it alive and refreshing.
    let hits = idp.hits();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(idp.hits() > hits + 2, "refreshing while a clone lives");
    drop(layer);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let hits = idp.hits();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(idp.hits(), hits, "no fetch after the last clone is gone");
}

#[tokio::test]
async fn verify_async_waits_for_the_refetch_and_verify_does_not() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let auth = idp
        .authenticator(quick().unknown_kid_cooldown(Duration::ZERO))
        .await;
    idp.set(|b| b.keys = vec![jwk("rsa-1"), jwk("ec256-1")]);
    let verifier = auth.verifier();
    assert!(verifier.verify_async(&ec_token()).await.is_ok());
    idp.set(|b| b.keys = vec![jwk("rsa-1"), jwk("ec384-1")]);
    let ec384 = token(Algorithm::ES384, Some("ec384-1"), &claims());
    // The sync path answers now; the refetch it starts serves the next call.
    assert_eq!(
        verifier.verify(&ec384).unwrap_err().kind(),
        tower_jwt_auth::AuthErrorKind::UnknownKey
    );
    let hits = idp.hits();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(idp.hits() <= hits + 1);
    assert!(verifier.verify(&ec384).is_ok());
}

#[tokio::test]
async fn cache_control_max_age_sets_the_refresh_clamped_to_a_minute() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let every_50ms = || quick().refresh_interval(Duration::from_millis(50));
    // max-age=1 is clamped up to 60 s: no refresh for a minute, though the
    // configured interval is 50 ms.
    idp.set(|b| b.cache_control = Some("public, max-age=1"));
    let auth = idp.authenticator(every_50ms()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(idp.hits(), 1, "max-age (clamped) decides the next refresh");
    drop(auth);

    // Ignoring Cache-Control, the interval decides.
    let auth = idp
        .authenticator(every_50ms().honor_cache_control(false))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(idp.hits() >= 4, "{} fetches", idp.hits());
    drop(auth);
}

#[tokio::test]
async fn a_dpop_request_naming_a_new_kid_waits_for_the_refetch_as_a_bearer_one_does() {
    const ORIGIN: &str = "https://api.example";
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let auth = idp
        .builder(quick())
        .dpop(DpopConfig::new(DpopMode::Required).public_url(ORIGIN))
        .build_async()
        .await
        .unwrap();
    let addr = Api::serve(&auth).await.addr;
    let key = proof_key(Algorithm::EdDSA);
    let bound =
        |kid: &str, alg: Algorithm| token(alg, Some(kid), &bound_to(claims(), Some(&key.jkt)));
    let request = |token: String| dpop::Req::with(&key, ORIGIN, "/me", token, now());
    let first = request(bound("rsa-1", Algorithm::RS256));
    assert_eq!(send(addr, &key, &first).await.status, 200);

    // The provider rotates in a key: the first DPoP request whose token
    // names it is accepted after one refetch, not refused while the
    // refetch runs (the path once verified DPoP tokens without waiting).
    let before = idp.hits();
    idp.set(|b| b.keys = vec![jwk("rsa-1"), jwk("ec256-1")]);
    let rotated = request(bound("ec256-1", Algorithm::ES256));
    let reply = send(addr, &key, &rotated).await;
    assert_eq!(reply.status, 200, "{:?}", reply.challenges);
    assert_eq!(idp.hits(), before + 1, "exactly one refetch");

    // After the wait, the proof was recorded like any other: the same
    // proof again is a replay.
    let proof = rotated.proof(&key);
    assert_invalid_proof(&send_proof(addr, &rotated, &proof, false).await, "a replay");

    // A kid the provider never publishes: refused after the wait, as 401.
    let unknown = request(bound("nobody", Algorithm::ES256));
    assert_eq!(send(addr, &key, &unknown).await.status, 401);
}

/// Issue 17, finding 9: a provider that now publishes `{"keys": []}` has
/// withdrawn every key: its answer is followed at the next refresh (401, as
/// for a key rotated away), not ignored until the maximum stale age. Keys
/// published again are used again.
#[tokio::test]
async fn a_remote_set_that_becomes_empty_withdraws_its_keys_at_the_next_refresh() {
    let idp = Idp::start(vec![jwk("rsa-1")]).await;
    let options = quick()
        .refresh_interval(Duration::from_millis(100))
        .unknown_kid_cooldown(Duration::from_millis(100));
    let api = Api::serve(&idp.authenticator(options).await).await;
    assert_eq!(api.status(&rsa_token()).await, 200);

    idp.set(|b| b.keys = Vec::new());
    let hits = idp.hits();
    while idp.hits() < hits + 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(api.status(&rsa_token()).await, 401);

    // An empty set in a body of its own (not built from a list) as well.
    idp.set(|b| b.keys = vec![jwk("rsa-1")]);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(api.status(&rsa_token()).await, 200);
    idp.set(|b| b.raw_body = Some(br#"{"keys":[]}"#.to_vec()));
    let hits = idp.hits();
    while idp.hits() < hits + 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(api.status(&rsa_token()).await, 401);
}

/// Key files and a key handle beside a JWK Set URL: the local keys change
/// (a file rewritten, a handle replaced) while the remote keys keep
/// verifying, and a remote refresh keeps the current local keys.
#[tokio::test]
async fn key_files_and_a_key_handle_change_the_local_keys_beside_remote_ones() {
    use std::time::Instant;
    use tower_jwt_auth::keys::{KeyFileOptions, KeyHandle, KeySet};
    use tower_jwt_auth::testing::{JwksServer, TestIssuer};

    let idp = JwksServer::start().await.unwrap();
    let remote = TestIssuer::es256().with_kid("remote");
    idp.publish(&remote);
    let (file_old, file_new) = (
        TestIssuer::es256().with_kid("file-old"),
        TestIssuer::es256().with_kid("file-new"),
    );
    let (handle_old, handle_new) = (
        TestIssuer::es256().with_kid("handle-old"),
        TestIssuer::es256().with_kid("handle-new"),
    );
    let dir = std::env::temp_dir().join(format!("remote-keyfiles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jwks.json");
    std::fs::write(&path, file_old.jwks()).unwrap();
    let set = |issuer: &TestIssuer| {
        let mut set = KeySet::new();
        set.push(issuer.key()).unwrap();
        set
    };
    let handle = KeyHandle::new(set(&handle_old));
    let auth = Authenticator::builder()
        .jwks_url(idp.jwks_url())
        // Every unknown kid refetches (the polls below send some).
        .remote_options(
            tower_jwt_auth::remote::RemoteOptions::new()
                .unknown_kid_cooldown(Duration::from_millis(1)),
        )
        .jwk_set_file(&path)
        .unwrap()
        .key_handle(&handle)
        .key_file_options(KeyFileOptions::new().interval(Duration::from_millis(50)))
        .build_async()
        .await
        .unwrap();
    let api = Api::serve(&auth).await;
    let [t_remote, t_file_old, t_file_new, t_handle_old, t_handle_new] =
        [&remote, &file_old, &file_new, &handle_old, &handle_new].map(|i| i.token().sign());
    for (t, want) in [(&t_remote, 200), (&t_file_old, 200), (&t_handle_old, 200)] {
        assert_eq!(api.status(t).await, want);
    }

    std::fs::write(dir.join("jwks.tmp"), file_new.jwks()).unwrap();
    std::fs::rename(dir.join("jwks.tmp"), &path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.status(&t_file_new).await != 200 {
        assert!(
            Instant::now() < deadline,
            "the new file not used after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(api.status(&t_file_old).await, 401, "the old file's key");

    handle.replace(set(&handle_new)).unwrap();
    assert_eq!(api.status(&t_handle_new).await, 200);
    assert_eq!(
        api.status(&t_handle_old).await,
        401,
        "the replaced handle key"
    );
    assert_eq!(
        api.status(&t_remote).await,
        200,
        "the remote key throughout"
    );

    // A refetch (an unknown kid) publishes the remote keys with the
    // current local ones, not those of the build.
    let remote_2 = TestIssuer::es256().with_kid("remote-2");
    idp.publish(&remote_2);
    assert_eq!(api.status(&remote_2.token().sign()).await, 200);
    for (t, want) in [
        (&t_file_new, 200),
        (&t_handle_new, 200),
        (&t_file_old, 401),
        (&t_handle_old, 401),
    ] {
        assert_eq!(api.status(t).await, want, "after the refetch");
    }
}
