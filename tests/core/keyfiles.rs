//! Key files read again when they change (in place, renamed over, swapped
//! through symlinks as in a Kubernetes Secret volume), bad versions that
//! keep the last good keys, and keys replaced through a `KeyHandle`: real
//! files in a temp dir, a real server on 127.0.0.1, every wait a bounded
//! poll.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tower_jwt_auth::keys::{Algorithm as Alg, KeyError, KeyFileOptions, KeyHandle, KeySet};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{Authenticator, ConfigError};

use crate::common::{self, fetch_bearer, now, public_pem, token};

/// The tests' interval between two reads of the files.
fn fast() -> KeyFileOptions {
    KeyFileOptions::new().interval(Duration::from_millis(50))
}

/// A fresh, empty directory of this test.
fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tower-jwt-auth-keyfiles-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `path` whole by a rename over it (the new version appears at
/// once).
fn replace_file(path: &Path, content: impl AsRef<[u8]>) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn serve(auth: &Authenticator) -> SocketAddr {
    common::serve(Router::new().route("/me", get(|| async { "ok" }).layer(auth.layer()))).await
}

async fn status(addr: SocketAddr, token: &str) -> u16 {
    fetch_bearer(addr, "/me", token).await.status
}

/// Polls until `/me` answers `want` for `token`, for at most 20 s.
async fn wait_status(addr: SocketAddr, token: &str, want: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = status(addr, token).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {got} after 20 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_jwks_file_rewritten_in_place_verifies_with_its_new_keys_and_a_removed_cached_key_is_refused(
) {
    let dir = dir("in-place");
    let path = dir.join("jwks.json");
    let (old, new) = (
        TestIssuer::es256().with_kid("old"),
        TestIssuer::es256().with_kid("new"),
    );
    std::fs::write(&path, old.jwks()).unwrap();
    let auth = Authenticator::builder()
        .jwk_set_file(&path)
        .unwrap()
        .key_file_options(fast())
        .build()
        .unwrap();
    let addr = serve(&auth).await;
    let (t_old, t_new) = (old.token().sign(), new.token().sign());
    assert_eq!(status(addr, &t_old).await, 200);
    assert_eq!(status(addr, &t_old).await, 200, "from the cache");
    assert_eq!(auth.verifier().cache_stats().unwrap().entries, 1);
    assert_eq!(status(addr, &t_new).await, 401);

    // In place: the same file truncated and written again.
    std::fs::write(&path, new.jwks()).unwrap();
    wait_status(addr, &t_new, 200, "the new key after the rewrite").await;
    assert_eq!(
        status(addr, &t_old).await,
        401,
        "a key no longer in the file is refused, its cached token too"
    );
}

#[tokio::test]
async fn a_jwks_file_renamed_over_verifies_with_its_new_keys_only() {
    let dir = dir("rename");
    let path = dir.join("jwks.json");
    let (old, new) = (
        TestIssuer::es256().with_kid("old"),
        TestIssuer::eddsa().with_kid("new"),
    );
    std::fs::write(&path, old.jwks()).unwrap();
    let auth = Authenticator::builder()
        .jwk_set_file(&path)
        .unwrap()
        .key_file_options(fast())
        .build()
        .unwrap();
    let addr = serve(&auth).await;
    let (t_old, t_new) = (old.token().sign(), new.token().sign());
    assert_eq!(status(addr, &t_old).await, 200);
    replace_file(&path, new.jwks());
    wait_status(addr, &t_new, 200, "the new key after the rename").await;
    assert_eq!(status(addr, &t_old).await, 401);
}

#[cfg(unix)]
#[tokio::test]
async fn a_kubernetes_style_symlink_swap_is_followed() {
    use std::os::unix::fs::symlink;
    // A Secret volume: jwks.json -> ..data/jwks.json, ..data -> ..v1; an
    // update writes ..v2 and renames a new ..data link over the old one.
    let dir = dir("symlinks");
    let (old, new) = (
        TestIssuer::es256().with_kid("old"),
        TestIssuer::es256().with_kid("new"),
    );
    std::fs::create_dir(dir.join("..v1")).unwrap();
    std::fs::write(dir.join("..v1/jwks.json"), old.jwks()).unwrap();
    symlink("..v1", dir.join("..data")).unwrap();
    symlink("..data/jwks.json", dir.join("jwks.json")).unwrap();
    let auth = Authenticator::builder()
        .jwk_set_file(dir.join("jwks.json"))
        .unwrap()
        .key_file_options(fast())
        .build()
        .unwrap();
    let addr = serve(&auth).await;
    let (t_old, t_new) = (old.token().sign(), new.token().sign());
    assert_eq!(status(addr, &t_old).await, 200);

    std::fs::create_dir(dir.join("..v2")).unwrap();
    std::fs::write(dir.join("..v2/jwks.json"), new.jwks()).unwrap();
    symlink("..v2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(dir.join("..v1")).unwrap();
    wait_status(addr, &t_new, 200, "the new key after the symlink swap").await;
    assert_eq!(status(addr, &t_old).await, 401);
}

#[tokio::test]
async fn without_an_allow_list_the_algorithms_follow_the_keys_of_a_pem_file() {
    let dir = dir("pem");
    let path = dir.join("key.pem");
    std::fs::write(&path, public_pem(Algorithm::ES256)).unwrap();
    let auth = Authenticator::builder()
        .public_key_pem_file(&path)
        .unwrap()
        .key_file_options(fast())
        .build()
        .unwrap();
    let addr = serve(&auth).await;
    let claims = json!({"sub": "u", "exp": now() + 600});
    let (es, rs) = (
        token(Algorithm::ES256, None, &claims),
        token(Algorithm::RS256, None, &claims),
    );
    assert_eq!(status(addr, &es).await, 200);
    assert_eq!(status(addr, &rs).await, 401);
    assert!(auth.verifier().algorithms().contains(Alg::ES256));
    assert!(!auth.verifier().algorithms().contains(Alg::RS256));

    replace_file(&path, public_pem(Algorithm::RS256));
    wait_status(addr, &rs, 200, "RS256 once the file holds an RSA key").await;
    assert_eq!(status(addr, &es).await, 401, "ES256 no longer");
    let algs = auth.verifier().algorithms();
    assert!(
        algs.contains(Alg::RS256) && !algs.contains(Alg::ES256),
        "{algs:?}"
    );
}

#[test]
fn key_files_are_read_again_without_an_async_runtime() {
    let dir = dir("no-runtime");
    let path = dir.join("jwks.json");
    let (old, new) = (
        TestIssuer::es256().with_kid("old"),
        TestIssuer::es256().with_kid("new"),
    );
    std::fs::write(&path, old.jwks()).unwrap();
    let auth = Authenticator::builder()
        .jwk_set_file(&path)
        .unwrap()
        .key_file_options(fast())
        .build()
        .unwrap();
    let verifier = auth.verifier();
    assert!(verifier.verify(&old.token().sign()).is_ok());
    replace_file(&path, new.jwks());
    let deadline = Instant::now() + Duration::from_secs(20);
    while verifier.verify(&new.token().sign()).is_err() {
        assert!(Instant::now() < deadline, "not reloaded after 20 s");
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(verifier.verify(&old.token().sign()).is_err());
}

#[cfg(feature = "tracing")]
#[tokio::test]
async fn a_bad_version_keeps_the_last_good_keys_and_warns_once_naming_the_file() {
    use tracing_subscriber::fmt::format::FmtSpan;

    let dir = dir("bad-versions");
    let path = dir.join("jwks.json");
    let shown = path.display().to_string();
    let (old, new) = (
        TestIssuer::es256().with_kid("old"),
        TestIssuer::es256().with_kid("new"),
    );
    std::fs::write(&path, old.jwks()).unwrap();
    // The reading thread logs to the subscriber current at build.
    let (logs, _guard) = common::logs::capture(tracing::Level::WARN, FmtSpan::NONE);
    let auth = Authenticator::builder()
        .jwk_set_file(&path)
        .unwrap()
        .algorithms([Alg::ES256, Alg::EdDSA])
        .key_file_options(fast())
        .build()
        .unwrap();
    let addr = serve(&auth).await;
    let (t_old, t_new) = (old.token().sign(), new.token().sign());
    let warnings = || logs.text().matches(shown.as_str()).count();

    let jwks = new.jwks();
    let rsa = TestIssuer::rs256().with_kid("rsa").jwks();
    let bad_versions: [(&str, Option<&str>); 5] = [
        ("partly written", Some(&jwks[..jwks.len() / 2])),
        ("empty", Some("")),
        ("a set without keys", Some(r#"{"keys": []}"#)),
        ("keys the allow-list refuses", Some(rsa.as_str())),
        ("missing", None),
    ];
    for (n, (what, content)) in bad_versions.into_iter().enumerate() {
        match content {
            Some(content) => replace_file(&path, content),
            None => std::fs::remove_file(&path).unwrap(),
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while warnings() < n + 1 {
            assert!(Instant::now() < deadline, "{what}: no warning after 20 s");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        // Ten more reads of the same version: no second warning.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(warnings(), n + 1, "{what}: one warning per version");
        assert_eq!(
            status(addr, &t_old).await,
            200,
            "{what}: the last good keys"
        );
        assert_eq!(status(addr, &t_new).await, 401, "{what}: none of its keys");
    }
    let text = logs.text();
    assert!(
        text.contains("WARN") && text.contains("last good keys keep verifying"),
        "{text}"
    );

    replace_file(&path, new.jwks());
    wait_status(addr, &t_new, 200, "the next valid version").await;
    assert_eq!(status(addr, &t_old).await, 401);
}

#[tokio::test]
async fn a_key_handle_replaces_its_keys_whole_and_refuses_a_kid_used_twice() {
    let (a, b, fixed) = (
        TestIssuer::es256().with_kid("a"),
        TestIssuer::es256().with_kid("b"),
        TestIssuer::es256().with_kid("fixed"),
    );
    let set = |issuers: &[&TestIssuer]| {
        let mut set = KeySet::new();
        for issuer in issuers {
            set.push(issuer.key()).unwrap();
        }
        set
    };
    let handle = KeyHandle::new(set(&[&a]));
    let auth = Authenticator::builder()
        .key(fixed.key())
        .key_handle(&handle)
        .build()
        .unwrap();
    let addr = serve(&auth).await;
    let (ta, tb, tf) = (a.token().sign(), b.token().sign(), fixed.token().sign());
    assert_eq!(status(addr, &ta).await, 200);
    assert_eq!(status(addr, &ta).await, 200, "from the cache");
    assert_eq!(status(addr, &tb).await, 401);

    handle.replace(set(&[&b])).unwrap();
    assert_eq!(status(addr, &tb).await, 200, "at once, no wait");
    assert_eq!(
        status(addr, &ta).await,
        401,
        "the replaced key, cached or not"
    );

    // A kid the builder's key has: refused, nothing replaced.
    let err = handle.replace(set(&[&a, &fixed])).unwrap_err();
    assert!(
        matches!(err, ConfigError::Key(KeyError::DuplicateKid { ref kid }) if kid == "fixed"),
        "{err:?}"
    );
    assert_eq!(status(addr, &tb).await, 200);
    assert_eq!(status(addr, &ta).await, 401);
    assert_eq!(handle.keys().len(), 1);

    // Empty: the handle's keys withdrawn, the builder's keep verifying.
    handle.replace(KeySet::new()).unwrap();
    assert_eq!(status(addr, &tb).await, 401);
    assert_eq!(status(addr, &tf).await, 200);
}

#[cfg(feature = "remote")]
#[tokio::test]
async fn a_key_handle_with_tenant_issuers_fails_the_build() {
    use tower_jwt_auth::remote::TenantIssuers;

    let handle = KeyHandle::new(KeySet::new());
    let err = Authenticator::builder()
        .tenant_issuers(
            TenantIssuers::new("https://login.example/{tenantid}/v2.0").allow_tenants(["a"]),
        )
        .audience(["api"])
        .key_handle(&handle)
        .build_async()
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::KeyHandleWithTenants), "{err:?}");
}

#[cfg(feature = "tracing")]
#[tokio::test]
async fn a_warning_names_the_file_never_its_content() {
    use tracing_subscriber::fmt::format::FmtSpan;

    let dir = dir("no-content");
    let path = dir.join("jwks.json");
    let secret = "a-secret-of-at-least-thirty-two-bytes-long!!";
    let jwks = |k: &str| json!({"keys": [{"kty": "oct", "kid": "s", "k": common::b64(k)}]});
    std::fs::write(&path, jwks(secret).to_string()).unwrap();
    let (logs, _guard) = common::logs::capture(tracing::Level::DEBUG, FmtSpan::NONE);
    let auth = Authenticator::builder()
        .jwk_set_file(&path)
        .unwrap()
        .key_file_options(fast())
        .build()
        .unwrap();
    let addr = serve(&auth).await;
    let good = TestIssuer::from_secret(Algorithm::HS256, secret)
        .unwrap()
        .with_kid("s")
        .token()
        .sign();
    assert_eq!(status(addr, &good).await, 200);

    // A secret too short, then a document cut in the middle of one.
    let short = "too-short-secret";
    let another = "another-secret-of-at-least-thirty-two-bytes";
    let cut = jwks(another).to_string();
    let shown = path.display().to_string();
    for (n, content) in [jwks(short).to_string(), cut[..cut.len() - 8].to_owned()]
        .into_iter()
        .enumerate()
    {
        replace_file(&path, &content);
        let deadline = Instant::now() + Duration::from_secs(20);
        while logs.text().matches(&*shown).count() < n + 1 {
            assert!(Instant::now() < deadline, "no warning after 20 s");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    assert_eq!(status(addr, &good).await, 200, "the last good secret");
    let text = logs.text();
    for leaked in [secret, short, another] {
        // The secret, or the start of its base64url form.
        for form in [leaked, &common::b64(leaked)[..16]] {
            assert!(!text.contains(form), "{form} in the logs: {text}");
        }
    }
}
