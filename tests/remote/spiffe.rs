//! SPIFFE JWT-SVIDs: a trust bundle the test makes (its `jwt-svid` keys,
//! an `x509-svid` key beside them), local (a string, or a file read again
//! when it changes) or served by a bundle endpoint
//! on 127.0.0.1, and SVIDs signed by the test; through a real axum server.

use crate::common;

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tower_jwt_auth::testing::TestIssuer;
use tower_jwt_auth::{
    keys::KeyError, rules::SpiffeIds, Authenticator, AuthenticatorBuilder, ConfigError,
};

use common::idp::Api;

const AUD: &str = "spiffe://example.org/ns/prod/sa/api";
const WEB: &str = "spiffe://example.org/ns/prod/sa/web";

/// A trust domain's signing keys (one P-256, one RSA) and one X.509 key.
struct Domain {
    svid_keys: [TestIssuer; 2],
    x509_key: TestIssuer,
}

impl Domain {
    fn new() -> Self {
        Self {
            svid_keys: [TestIssuer::es256(), TestIssuer::rs256()],
            x509_key: TestIssuer::es256(),
        }
    }

    /// The bundle, as SPIRE publishes it.
    fn bundle(&self) -> String {
        let with_use = |key: &TestIssuer, usage: &str| {
            let mut jwk = key.jwk();
            jwk["use"] = json!(usage);
            jwk.as_object_mut().unwrap().remove("alg");
            jwk
        };
        let mut keys: Vec<Value> = self
            .svid_keys
            .iter()
            .map(|k| with_use(k, "jwt-svid"))
            .collect();
        keys.push(with_use(&self.x509_key, "x509-svid"));
        json!({"keys": keys, "spiffe_sequence": 7, "spiffe_refresh_hint": 300}).to_string()
    }

    /// An SVID for `sub`, audience [`AUD`], signed by the `n`th key.
    fn svid(&self, n: usize, sub: &str) -> String {
        self.svid_keys[n]
            .token()
            .subject(sub)
            .audience(AUD)
            .without("iss")
            .sign()
    }
}

fn builder(domain: &Domain) -> AuthenticatorBuilder {
    Authenticator::builder()
        .spiffe_bundle(&domain.bundle())
        .unwrap()
        .spiffe(SpiffeIds::trust_domain("example.org").path_prefix("/ns/prod"))
        .audience([AUD])
}

#[tokio::test]
async fn svids_signed_by_the_bundle_s_jwt_svid_keys_are_accepted() {
    let domain = Domain::new();
    let api = Api::serve(&builder(&domain).build().unwrap()).await;
    assert_eq!(api.status(&domain.svid(0, WEB)).await, 200, "ES256");
    assert_eq!(api.status(&domain.svid(1, WEB)).await, 200, "RS256");
    // The X.509-SVID key of the same bundle does not verify tokens.
    let x509 = domain.x509_key.token().subject(WEB).audience(AUD).sign();
    assert_eq!(api.status(&x509).await, 401);
    // Nor does a key from outside the bundle.
    let stranger = TestIssuer::es256()
        .token()
        .subject(WEB)
        .audience(AUD)
        .sign();
    assert_eq!(api.status(&stranger).await, 401);
}

#[tokio::test]
async fn jwt_svid_keys_count_only_in_a_source_declared_a_spiffe_bundle() {
    let domain = Domain::new();
    assert!(matches!(
        Authenticator::builder().jwk_set(&domain.bundle()),
        Err(ConfigError::Key(KeyError::Empty))
    ));
    // A bundle of a plain JWK Set (`use: sig`) yields no SVID key either.
    let plain = json!({"keys": [domain.svid_keys[0].jwk()]}).to_string();
    assert!(matches!(
        Authenticator::builder().spiffe_bundle(&plain),
        Err(ConfigError::Key(KeyError::Empty))
    ));
    // A secret in a bundle is refused.
    let oct = r#"{"keys":[{"kty":"oct","use":"jwt-svid","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#;
    assert!(matches!(
        Authenticator::builder().spiffe_bundle(oct),
        Err(ConfigError::Key(KeyError::InvalidJwk { .. }))
    ));
}

#[tokio::test]
async fn sub_must_be_a_spiffe_id_of_the_trust_domain_under_the_prefix() {
    let domain = Domain::new();
    let api = Api::serve(&builder(&domain).build().unwrap()).await;
    for sub in [
        "spiffe://other.org/ns/prod/sa/web",
        "spiffe://example.org/ns/production/sa/web",
        "spiffe://example.org/ns/dev/sa/web",
        "spiffe://example.org",
        "spiffe://example.org/ns/prod/../admin",
        "https://example.org/ns/prod/sa/web",
        "web",
    ] {
        assert_eq!(api.status(&domain.svid(0, sub)).await, 401, "{sub}");
    }
    let no_sub = domain.svid_keys[0]
        .token()
        .without("sub")
        .audience(AUD)
        .sign();
    assert_eq!(api.status(&no_sub).await, 401, "no sub");
}

#[tokio::test]
async fn aud_is_required_and_checked() {
    let domain = Domain::new();
    let api = Api::serve(&builder(&domain).build().unwrap()).await;
    let key = &domain.svid_keys[0];
    let other = key
        .token()
        .subject(WEB)
        .audience("spiffe://example.org/other")
        .sign();
    assert_eq!(api.status(&other).await, 401);
    let none = key.token().subject(WEB).without("aud").sign();
    assert_eq!(api.status(&none).await, 401);
    // An authenticator without an audience is not built.
    let e = Authenticator::builder()
        .spiffe_bundle(&domain.bundle())
        .unwrap()
        .spiffe(SpiffeIds::trust_domain("example.org"))
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::Spiffe(_)), "{e}");
    let e = builder(&domain)
        .spiffe(SpiffeIds::trust_domain("Example.ORG"))
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::Spiffe(_)), "{e}");
}

#[tokio::test]
async fn a_bundle_endpoint_is_fetched_as_a_spiffe_bundle() {
    let domain = Domain::new();
    let bundle = domain.bundle();
    let endpoint = common::serve(Router::new().route(
        "/bundle",
        get(move || {
            let bundle = bundle.clone();
            async move { bundle }
        }),
    ))
    .await;
    let auth = Authenticator::builder()
        .spiffe_bundle_url(format!("http://{endpoint}/bundle"))
        .spiffe(SpiffeIds::trust_domain("example.org"))
        .audience([AUD])
        .build_async()
        .await
        .unwrap();
    let api = Api::serve(&auth).await;
    assert_eq!(api.status(&domain.svid(0, WEB)).await, 200);
    assert_eq!(api.status(&domain.svid(1, WEB)).await, 200);
    let x509 = domain.x509_key.token().subject(WEB).audience(AUD).sign();
    assert_eq!(api.status(&x509).await, 401);

    // The same endpoint as a plain JWK Set URL: no usable key.
    let e = Authenticator::builder()
        .jwks_url(format!("http://{endpoint}/bundle"))
        .build_async()
        .await
        .err();
    assert!(matches!(e, Some(ConfigError::RemoteKeys(_))), "{e:?}");
}

#[tokio::test]
async fn a_spiffe_bundle_file_rewritten_by_the_agent_is_read_again() {
    use std::time::{Duration, Instant};
    use tower_jwt_auth::keys::KeyFileOptions;

    let dir = std::env::temp_dir().join(format!("spiffe-bundle-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bundle.json");
    let (old, new) = (Domain::new(), Domain::new());
    std::fs::write(&path, old.bundle()).unwrap();
    let auth = Authenticator::builder()
        .spiffe_bundle_file(&path)
        .unwrap()
        .spiffe(SpiffeIds::trust_domain("example.org").path_prefix("/ns/prod"))
        .audience([AUD])
        .key_file_options(KeyFileOptions::new().interval(Duration::from_millis(50)))
        .build()
        .unwrap();
    let api = Api::serve(&auth).await;
    assert_eq!(api.status(&old.svid(0, WEB)).await, 200);
    assert_eq!(api.status(&new.svid(0, WEB)).await, 401);

    // As a SPIRE agent does: the new bundle renamed over the old one.
    std::fs::write(dir.join("bundle.tmp"), new.bundle()).unwrap();
    std::fs::rename(dir.join("bundle.tmp"), &path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.status(&new.svid(0, WEB)).await != 200 {
        assert!(
            Instant::now() < deadline,
            "the new bundle not used after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        api.status(&new.svid(1, WEB)).await,
        200,
        "its RS256 key too"
    );
    assert_eq!(
        api.status(&old.svid(0, WEB)).await,
        401,
        "the old bundle's key"
    );
    let x509 = new.x509_key.token().subject(WEB).audience(AUD).sign();
    assert_eq!(
        api.status(&x509).await,
        401,
        "x509-svid keys still never verify"
    );
}
