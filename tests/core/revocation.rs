//! Token lifecycle with the in-memory revocation list: issuing, the refresh
//! exchange (rotation, reuse detection, token-type confusion), revocation
//! through the real layer over real HTTP, and entries that expire.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use tower_jwt_auth::revocation::{
    BoxFuture, MemoryRevocation, RefreshSpend, Revocation, RevocationError, TokenRef,
};
use tower_jwt_auth::{
    clock::FixedClock, keys::KeyError, AuthErrorKind, Authenticator, Claims, ConfigError,
};
use tower_jwt_auth::{
    issue::IssueError, issue::RefreshError, issue::TokenIssuer, issue::TokenIssuerBuilder,
    issue::TokenPair,
};

const ISS: &str = "https://auth.example";

fn issuer_at(clock: Arc<FixedClock>, store: MemoryRevocation) -> TokenIssuer {
    TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer(ISS)
        .audience(["api"])
        .kid("k1")
        .clock(clock)
        .revocation(store)
        .build()
        .unwrap()
}

fn issuer() -> TokenIssuer {
    issuer_at(Arc::new(FixedClock::new(NOW)), MemoryRevocation::new())
}

/// Why `auth` refuses `token`; it must refuse it.
fn refusal(auth: &Authenticator, token: &str) -> AuthErrorKind {
    auth.verifier().verify(token).unwrap_err().kind()
}

#[test]
fn issued_tokens_carry_registered_claims_typ_and_kid() {
    let issuer = issuer();
    let pair = issuer
        .issue("alice", &json!({"scope": "read write"}))
        .unwrap();
    assert_eq!(pair.token_type, "Bearer");
    let (ah, ac) = (
        segment(&pair.access_token, 0),
        segment(&pair.access_token, 1),
    );
    let (rh, rc) = (
        segment(&pair.refresh_token, 0),
        segment(&pair.refresh_token, 1),
    );
    assert_eq!(ah, json!({"alg": "HS256", "typ": "at+jwt", "kid": "k1"}));
    assert_eq!(
        rh,
        json!({"alg": "HS256", "typ": "refresh+jwt", "kid": "k1"})
    );
    for c in [&ac, &rc] {
        assert_eq!(c["iss"], ISS);
        assert_eq!(c["aud"], "api");
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["iat"], NOW);
        assert_eq!(c["nbf"], NOW);
        assert_eq!(c["scope"], "read write");
        assert_eq!(c["jti"].as_str().unwrap().len(), 22, "128 random bits");
    }
    assert_ne!(ac["jti"], rc["jti"]);
    assert_eq!(ac["sid"], rc["sid"], "one session");
    let again = issuer.issue("alice", &()).unwrap();
    assert_ne!(segment(&again.access_token, 1)["sid"], ac["sid"]);
    assert!(!format!("{pair:?}").contains(&pair.access_token));
}

#[test]
fn lifetimes_default_to_five_minutes_and_a_day_and_are_configurable() {
    let configured = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .access_ttl(Duration::from_secs(60))
        .refresh_ttl(Duration::from_secs(3600))
        .clock(FixedClock::new(NOW))
        .build()
        .unwrap();
    for (case, issuer, access, refresh) in [
        ("default", issuer(), 300, 86_400),
        ("configured", configured, 60, 3600),
    ] {
        let pair = issuer.issue("bob", &()).unwrap();
        assert_eq!(
            segment(&pair.access_token, 1)["exp"],
            NOW + access,
            "{case}"
        );
        assert_eq!(
            segment(&pair.refresh_token, 1)["exp"],
            NOW + refresh,
            "{case}"
        );
        assert_eq!(pair.expires_in, access, "{case}");
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Custom {
    roles: Vec<String>,
    tenant: u32,
}

#[test]
fn custom_claims_from_any_serde_type_and_registered_names_refused() {
    let issuer = issuer();
    let pair = issuer
        .issue(
            "carol",
            &Custom {
                roles: vec!["admin".into()],
                tenant: 7,
            },
        )
        .unwrap();
    let auth = issuer
        .authenticator_builder()
        .claims::<Custom>()
        .build()
        .unwrap();
    let c = auth.verifier().verify(&pair.access_token).unwrap();
    assert_eq!(
        (c.roles.as_slice(), c.tenant),
        (&["admin".to_owned()][..], 7)
    );
    for bad in ["exp", "sub", "jti", "sid", "iss", "aud"] {
        let mut m = serde_json::Map::new();
        m.insert(bad.into(), json!(1));
        assert!(matches!(
            issuer.issue("x", &m),
            Err(IssueError::ReservedClaim(n)) if n == bad
        ));
    }
    assert!(matches!(
        issuer.issue("x", &[1, 2]),
        Err(IssueError::ClaimsNotAnObject)
    ));
    assert!(matches!(
        issuer.issue("", &()),
        Err(IssueError::EmptySubject)
    ));
}

#[test]
fn every_key_type_signs_tokens_its_authenticator_verifies() {
    // The algorithm is the key's default unless one is chosen (PS384).
    for (alg, private, public, chosen) in [
        (
            Algorithm::RS256,
            "rsa2048_private.pem",
            "rsa2048_public.pem",
            false,
        ),
        (
            Algorithm::PS384,
            "rsa2048_private.pem",
            "rsa2048_public.pem",
            true,
        ),
        (
            Algorithm::ES256,
            "ec256_private.pem",
            "ec256_public.pem",
            false,
        ),
        (
            Algorithm::ES384,
            "ec384_private.pem",
            "ec384_public.pem",
            false,
        ),
        (
            Algorithm::EdDSA,
            "ed25519_private.pem",
            "ed25519_public.pem",
            false,
        ),
    ] {
        let mut builder = TokenIssuer::builder()
            .private_key_pem(fixture(private), fixture(public))
            .kid("kid-1");
        if chosen {
            builder = builder.algorithm(alg);
        }
        let issuer = builder.build().unwrap();
        let auth = issuer.authenticator_builder().build().unwrap();
        let pair = issuer.issue("dave", &()).unwrap();
        let access_only = issuer.issue_access_token("dave", &()).unwrap();
        for token in [&pair.access_token, &access_only] {
            assert_eq!(segment(token, 0)["alg"], json!(alg), "{alg:?}");
            let claims = auth.verifier().verify(token).unwrap();
            assert_eq!(claims["sub"], "dave", "{alg:?}");
        }
    }
}

#[test]
fn mismatched_or_weak_keys_and_zero_lifetimes_are_refused_at_build() {
    type Refusal = fn(&ConfigError) -> bool;
    let cases: [(&str, TokenIssuerBuilder, Refusal); 7] = [
        (
            "private and public keys of two pairs",
            TokenIssuer::builder().private_key_pem(
                fixture("attacker_rsa_private.pem"),
                fixture("rsa2048_public.pem"),
            ),
            |e| matches!(e, ConfigError::Key(KeyError::KeyPairMismatch)),
        ),
        (
            "a 5-byte HMAC secret",
            TokenIssuer::builder().hmac_secret("short"),
            |e| matches!(e, ConfigError::Key(KeyError::HmacTooShort { len: 5 })),
        ),
        (
            "a 1024-bit RSA key",
            TokenIssuer::builder().private_key_pem(
                fixture("rsa1024_private.pem"),
                fixture("rsa1024_public.pem"),
            ),
            |e| matches!(e, ConfigError::Key(KeyError::RsaTooSmall { bits: 1024 })),
        ),
        (
            "RS256 with an HMAC secret",
            TokenIssuer::builder()
                .hmac_secret(SECRET)
                .algorithm(Algorithm::RS256),
            |e| matches!(e, ConfigError::Key(KeyError::AlgorithmMismatch)),
        ),
        ("no key", TokenIssuer::builder(), |e| {
            matches!(e, ConfigError::NoKeys)
        }),
        // Garbage PEM never panics.
        (
            "garbage PEM",
            TokenIssuer::builder().private_key_pem(b"not a pem", fixture("rsa2048_public.pem")),
            |_| true,
        ),
        (
            "a zero access lifetime",
            TokenIssuer::builder()
                .hmac_secret(SECRET)
                .access_ttl(Duration::ZERO),
            |e| matches!(e, ConfigError::InvalidLifetime),
        ),
    ];
    for (case, builder, expected) in cases {
        match builder.build() {
            Err(e) => assert!(expected(&e), "{case}: {e:?}"),
            Ok(_) => panic!("{case}: built"),
        }
    }
}

/// Attack: a stolen refresh token used as an access token (it lives 24 h).
#[test]
fn refresh_token_is_refused_as_access_token() {
    let issuer = issuer();
    let auth = issuer.authenticator_builder().build().unwrap();
    let pair = issuer.issue("alice", &()).unwrap();
    assert!(auth.verifier().verify(&pair.access_token).is_ok());
    assert_eq!(
        refusal(&auth, &pair.refresh_token),
        AuthErrorKind::InvalidType
    );
}

/// Attack: an access token offered to the refresh exchange, to mint
/// long-lived tokens from a short-lived one.
#[tokio::test]
async fn access_token_is_refused_as_refresh_token() {
    let issuer = issuer();
    let pair = issuer.issue("alice", &()).unwrap();
    match issuer.refresh(&pair.access_token).await {
        Err(RefreshError::Invalid(e)) => assert_eq!(e.kind(), AuthErrorKind::InvalidType),
        other => panic!("expected invalid, got {other:?}"),
    }
    // Another issuer's refresh token (other key) is refused too.
    let other = TokenIssuer::builder()
        .hmac_secret([9u8; 32])
        .issuer(ISS)
        .audience(["api"])
        .build()
        .unwrap();
    let foreign = other.issue("alice", &()).unwrap();
    assert!(matches!(
        issuer.refresh(&foreign.refresh_token).await,
        Err(RefreshError::Invalid(_))
    ));
    // The legitimate refresh token still works: nothing above spent it.
    assert!(issuer.refresh(&pair.refresh_token).await.is_ok());
}

#[tokio::test]
async fn refresh_rotates_the_pair_and_keeps_session_and_custom_claims() {
    let issuer = issuer();
    let auth = issuer.authenticator_builder().build().unwrap();
    let first = issuer.issue("alice", &json!({"scope": "read"})).unwrap();
    let second = issuer.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.access_token, first.access_token);
    assert_ne!(second.refresh_token, first.refresh_token);
    let (a1, a2) = (
        segment(&first.access_token, 1),
        segment(&second.access_token, 1),
    );
    assert_eq!(a2["sid"], a1["sid"]);
    assert_eq!(a2["scope"], "read");
    assert_eq!(a2["sub"], "alice");
    assert!(auth.verifier().verify(&second.access_token).is_ok());
    // Rotation again from the new refresh token.
    let third = issuer.refresh(&second.refresh_token).await.unwrap();
    assert!(auth.verifier().verify(&third.access_token).is_ok());
}

/// Attack: a stolen refresh token replayed after its owner rotated it (or
/// the reverse). OAuth 2.0 Security BCP: the whole family is revoked.
#[tokio::test]
async fn refresh_token_reuse_revokes_the_whole_family() {
    let issuer = issuer();
    let auth = issuer.authenticator_builder().build().unwrap();
    let first = issuer.issue("alice", &()).unwrap();
    let second = issuer.refresh(&first.refresh_token).await.unwrap();
    assert!(auth.verifier().verify(&second.access_token).is_ok());

    assert!(matches!(
        issuer.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    // Every token of the family is dead: the first and second access
    // tokens, and the second refresh token.
    for t in [&first.access_token, &second.access_token] {
        assert_eq!(refusal(&auth, t), AuthErrorKind::Revoked);
    }
    assert!(matches!(
        issuer.refresh(&second.refresh_token).await,
        Err(RefreshError::Revoked)
    ));
    // Another login of the same user is untouched.
    let other = issuer.issue("alice", &()).unwrap();
    assert!(auth.verifier().verify(&other.access_token).is_ok());
    assert!(issuer.refresh(&other.refresh_token).await.is_ok());
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_exactly_one_win() {
    let issuer = issuer();
    let pair = issuer.issue("alice", &()).unwrap();
    assert_eq!(refresh_winners(&[issuer], &pair.refresh_token, 8).await, 1);
}

#[tokio::test]
async fn logout_everywhere_revokes_older_tokens_of_the_subject_only() {
    let clock = Arc::new(FixedClock::new(NOW));
    let issuer = issuer_at(clock.clone(), MemoryRevocation::new());
    let auth = issuer.authenticator_builder().build().unwrap();
    let a = issuer.issue("alice", &()).unwrap();
    let b = issuer.issue("bob", &()).unwrap();
    issuer.revoke_subject("alice").await.unwrap();
    assert_eq!(refusal(&auth, &a.access_token), AuthErrorKind::Revoked);
    assert!(matches!(
        issuer.refresh(&a.refresh_token).await,
        Err(RefreshError::Revoked)
    ));
    assert!(auth.verifier().verify(&b.access_token).is_ok());
    clock.set(NOW + 2);
    let later = issuer.issue("alice", &()).unwrap();
    assert!(auth.verifier().verify(&later.access_token).is_ok());
}

#[tokio::test]
async fn revoked_entries_expire_with_their_tokens() {
    let clock = Arc::new(FixedClock::new(NOW));
    let store = MemoryRevocation::new()
        .clock(clock.clone())
        .grace(Duration::from_secs(60));
    let issuer = issuer_at(clock.clone(), store.clone());
    let pair = issuer.issue("alice", &()).unwrap();
    let access = segment(&pair.access_token, 1);
    let jti = access["jti"].as_str().unwrap();
    assert!(store.revoke_token(jti, NOW + 300).await.unwrap());
    let auth = issuer.authenticator_builder().build().unwrap();
    // Within exp + leeway the entry is still there, and once the token is
    // dead anyway the entry is gone (below: no growth).
    for (at, refused) in [
        (NOW, AuthErrorKind::Revoked),
        (NOW + 359, AuthErrorKind::Revoked),
        (NOW + 360, AuthErrorKind::Expired),
    ] {
        clock.set(at);
        assert_eq!(
            refusal(&auth, &pair.access_token),
            refused,
            "at NOW + {}",
            at - NOW
        );
    }
    let token = tower_jwt_auth::revocation::TokenRef {
        jti: Some(jti),
        ..Default::default()
    };
    assert!(!store.is_revoked(&token).await.unwrap());
}

async fn me(claims: Claims) -> Json<Value> {
    Json(claims.as_ref().clone())
}

#[tokio::test]
async fn revoked_token_is_401_invalid_token_saying_revoked_over_http() {
    let issuer = issuer_at(Arc::new(FixedClock::new(NOW)), MemoryRevocation::new());
    let auth: Authenticator = issuer.authenticator_builder().build().unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;
    let pair = issuer.issue("alice", &()).unwrap();
    let ok = fetch_bearer(addr, "/me", &pair.access_token).await;
    assert_eq!(ok.status, 200);
    let sid = segment(&pair.access_token, 1)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    issuer.revoke_session(&sid).await.unwrap();
    let r = fetch_bearer(addr, "/me", &pair.access_token).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.www,
        "Bearer error=\"invalid_token\", error_description=\"the token has been revoked\""
    );
    assert!(!r.body.contains(&pair.access_token));
    // A refresh token is refused on the protected route as well.
    let fresh = issuer.issue("alice", &()).unwrap();
    let r = fetch_bearer(addr, "/me", &fresh.refresh_token).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("invalid_token"));
}

#[test]
fn debug_of_issuer_and_builder_shows_no_secret() {
    let secret = "issuer-secret-that-is-long-enough-to-use";
    let builder = TokenIssuer::builder().hmac_secret(secret).kid("k");
    assert!(!format!("{builder:?}").contains(secret));
    let issuer = builder.build().unwrap();
    let dbg = format!("{issuer:?}");
    assert!(!dbg.contains(secret), "{dbg}");
    let pem = TokenIssuer::builder()
        .private_key_pem(fixture("ec256_private.pem"), fixture("ec256_public.pem"))
        .build()
        .unwrap();
    let private = fixture_str("ec256_private.pem");
    let body: String = private
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!format!("{pem:?}").contains(&body[..40]));
}

/// An issuer whose access tokens outlive its refresh tokens (7 days and
/// 1 hour), on `clock`, with a list on the same clock.
fn long_access_issuer(clock: Arc<FixedClock>) -> TokenIssuer {
    TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer(ISS)
        .audience(["api"])
        .access_ttl(Duration::from_secs(7 * 86_400))
        .refresh_ttl(Duration::from_secs(3600))
        .clock(clock.clone())
        .revocation(MemoryRevocation::new().clock(clock))
        .build()
        .unwrap()
}

/// Issue 17, finding 1: a logout (or a detected reuse) must keep revoking
/// the session until its longest-lived token is dead, even when access
/// tokens live longer than refresh tokens.
#[tokio::test]
async fn session_revocation_outlives_access_tokens_longer_than_refresh_tokens() {
    let clock = Arc::new(FixedClock::new(NOW));
    let issuer = long_access_issuer(clock.clone());
    let auth: Authenticator = issuer.authenticator_builder().build().unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;

    // Logout of an access-only session.
    let access = issuer.issue_access_token("alice", &()).unwrap();
    let sid = segment(&access, 1)["sid"].as_str().unwrap().to_owned();
    issuer.revoke_session(&sid).await.unwrap();
    // Reuse detection of a refreshed session.
    let first = issuer.issue("bob", &()).unwrap();
    issuer.refresh(&first.refresh_token).await.unwrap();
    assert!(matches!(
        issuer.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused)
    ));

    // Past refresh TTL + grace, up to the access token's last accepted
    // second (exp + 60 s leeway - 1).
    for later in [0, 3_901, 86_400, 7 * 86_400 + 59] {
        clock.set(NOW + later);
        for (who, token) in [("logout", &access), ("reuse", &first.access_token)] {
            let r = fetch_bearer(addr, "/me", token).await;
            assert_eq!(r.status, 401, "{who} at NOW + {later}");
            assert!(
                r.www.contains("revoked"),
                "{who} at NOW + {later}: {}",
                r.www
            );
        }
    }
}

/// Issue 17, finding 2: the default revocation list runs on the issuer's
/// clock. With the issuer's clock a month behind the system clock, every
/// entry (expiring at a time of the issuer's clock) used to be dead on
/// arrival: a spent refresh token was exchanged again, and a logout did not
/// stop the access token.
#[tokio::test]
async fn default_revocation_list_runs_on_the_issuers_clock() {
    let clock = Arc::new(FixedClock::new(now() - 30 * 86_400));
    let issuer = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer(ISS)
        .audience(["api"])
        .clock(clock.clone())
        .build()
        .unwrap();
    let auth: Authenticator = issuer.authenticator_builder().build().unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;

    // Reuse of a spent refresh token is detected, and revokes the family.
    let first = issuer.issue("alice", &()).unwrap();
    let second = issuer.refresh(&first.refresh_token).await.unwrap();
    assert!(matches!(
        issuer.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    for token in [&first.access_token, &second.access_token] {
        let r = fetch_bearer(addr, "/me", token).await;
        assert_eq!(r.status, 401, "{}", r.www);
        assert!(r.www.contains("revoked"), "{}", r.www);
    }

    // A logout stops the access token, until it expires.
    let pair = issuer.issue("bob", &()).unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        200
    );
    let sid = segment(&pair.access_token, 1)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    issuer.revoke_session(&sid).await.unwrap();
    clock.advance(Duration::from_secs(300 + 59));
    let r = fetch_bearer(addr, "/me", &pair.access_token).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("revoked"), "{}", r.www);
}

/// A revocation list that lets a "logout everywhere" land inside a refresh
/// exchange: right after the exchange's session check (the first check of a
/// token without `jti`) it runs `revoke_subject` of the subject through the
/// issuer, then moves the clock on by a second, so that the exchange signs
/// its new pair in a later second than the cut-off was taken in.
#[derive(Debug, Clone)]
struct LogoutDuringRefresh {
    inner: MemoryRevocation,
    clock: Arc<FixedClock>,
    issuer: Arc<std::sync::OnceLock<TokenIssuer>>,
    armed: Arc<std::sync::atomic::AtomicBool>,
}

impl Revocation for LogoutDuringRefresh {
    fn is_revoked<'a>(
        &'a self,
        token: &'a tower_jwt_auth::revocation::TokenRef<'a>,
    ) -> tower_jwt_auth::revocation::BoxFuture<
        'a,
        Result<bool, tower_jwt_auth::revocation::RevocationError>,
    > {
        Box::pin(async move {
            let answer = self.inner.is_revoked(token).await;
            let fire =
                token.jti.is_none() && self.armed.swap(false, std::sync::atomic::Ordering::SeqCst);
            if let (true, Some(sub), Some(issuer)) = (fire, token.sub, self.issuer.get()) {
                issuer.revoke_subject(sub).await.unwrap();
                self.clock.advance(Duration::from_secs(1));
            }
            answer
        })
    }

    fn is_revoked_now(
        &self,
        token: &tower_jwt_auth::revocation::TokenRef<'_>,
    ) -> Option<Result<bool, tower_jwt_auth::revocation::RevocationError>> {
        self.inner.is_revoked_now(token)
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> tower_jwt_auth::revocation::BoxFuture<
        'a,
        Result<bool, tower_jwt_auth::revocation::RevocationError>,
    > {
        self.inner.revoke_token(jti, expires_at)
    }

    fn revoke_family<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
    ) -> tower_jwt_auth::revocation::BoxFuture<
        'a,
        Result<(), tower_jwt_auth::revocation::RevocationError>,
    > {
        self.inner.revoke_family(sid, expires_at)
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: u64,
        expires_at: u64,
    ) -> tower_jwt_auth::revocation::BoxFuture<
        'a,
        Result<(), tower_jwt_auth::revocation::RevocationError>,
    > {
        self.inner.revoke_subject(sub, issued_before, expires_at)
    }
}

/// Issue 17, finding 6: a "logout everywhere" that lands between the
/// refresh exchange's session check and its signing, the signing in a later
/// second, must not let the new pair survive.
#[tokio::test]
async fn logout_everywhere_during_a_refresh_does_not_let_the_new_pair_survive() {
    let clock = Arc::new(FixedClock::new(NOW));
    let store = LogoutDuringRefresh {
        inner: MemoryRevocation::new().clock(clock.clone()),
        clock: clock.clone(),
        issuer: Arc::default(),
        armed: Arc::default(),
    };
    let issuer = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer(ISS)
        .audience(["api"])
        .clock(clock.clone())
        .revocation(store.clone())
        .build()
        .unwrap();
    store.issuer.set(issuer.clone()).unwrap();
    let auth: Authenticator = issuer.authenticator_builder().build().unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;

    let pair = issuer.issue("alice", &()).unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        200
    );
    store.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let refreshed = issuer.refresh(&pair.refresh_token).await;
    assert!(
        !store.armed.load(std::sync::atomic::Ordering::SeqCst),
        "the logout ran inside the exchange"
    );
    // The logout is in force: the old access token is refused ...
    let r = fetch_bearer(addr, "/me", &pair.access_token).await;
    assert_eq!(r.status, 401, "{}", r.www);
    // ... and the exchange gave no pair that outlives it.
    match refreshed {
        Err(RefreshError::Revoked) => {}
        Err(other) => panic!("expected Revoked, got {other:?}"),
        Ok(new) => {
            let r = fetch_bearer(addr, "/me", &new.access_token).await;
            panic!(
                "the exchange issued a pair after the logout: its access token answers {}",
                r.status
            );
        }
    }
    // A login after the logout works.
    let later = issuer.issue("alice", &()).unwrap();
    assert_eq!(
        fetch_bearer(addr, "/me", &later.access_token).await.status,
        200
    );
}

/// Issue 17, finding 7: one session refreshing often must not fill the
/// in-memory list for everyone. With room for 100 entries of each kind,
/// one session refreshes 1,000 times; other users still log in, refresh
/// and log out, and reuse of a spent refresh token of the busy session is
/// still detected (and revokes it).
#[tokio::test]
async fn one_session_refreshing_a_thousand_times_does_not_fill_the_list_for_others() {
    let clock = Arc::new(FixedClock::new(NOW));
    let store = MemoryRevocation::new()
        .clock(clock.clone())
        .max_entries(100);
    let issuer = issuer_at(clock.clone(), store.clone());
    let auth: Authenticator = issuer.authenticator_builder().build().unwrap();
    let addr = serve(Router::new().route("/me", get(me).layer(auth.layer()))).await;

    let busy = issuer.issue("mallory", &()).unwrap();
    let mut pair = busy.clone();
    let mut spent = Vec::new();
    for n in 0..1_000 {
        let next = match issuer.refresh(&pair.refresh_token).await {
            Ok(next) => next,
            Err(e) => panic!("refresh {n} of one session: {e:?}"),
        };
        spent.push(std::mem::replace(&mut pair, next));
    }
    assert!(store.len() <= 2, "{} entries for one session", store.len());
    assert_eq!(
        fetch_bearer(addr, "/me", &pair.access_token).await.status,
        200
    );

    // Everyone else: login, refresh, logout.
    for user in ["alice", "bob", "carol"] {
        let login = issuer.issue(user, &()).unwrap();
        let next = issuer.refresh(&login.refresh_token).await.unwrap();
        assert_eq!(
            fetch_bearer(addr, "/me", &next.access_token).await.status,
            200,
            "{user}"
        );
        let sid = segment(&next.access_token, 1)["sid"]
            .as_str()
            .unwrap()
            .to_owned();
        issuer.revoke_session(&sid).await.unwrap();
        assert_eq!(
            fetch_bearer(addr, "/me", &next.access_token).await.status,
            401,
            "{user}"
        );
    }

    // Reuse of a spent refresh token of the busy session: detected, the
    // session revoked.
    assert!(matches!(
        issuer.refresh(&spent[500].refresh_token).await,
        Err(RefreshError::Reused)
    ));
    let r = fetch_bearer(addr, "/me", &pair.access_token).await;
    assert_eq!(r.status, 401);
    assert!(r.www.contains("revoked"), "{}", r.www);
    assert!(matches!(
        issuer.refresh(&pair.refresh_token).await,
        Err(RefreshError::Revoked)
    ));
}

/// A revocation list that fails the way a shared store does, around a
/// real [`MemoryRevocation`]: after a spend, the next check can fail
/// (a timeout), a spend can be recorded while its reply is lost, and the
/// check after a spend can run another exchange of a token (a retry
/// arriving while the first exchange is still running).
#[derive(Debug, Clone, Default)]
struct Flaky {
    inner: MemoryRevocation,
    /// Armed: the check following the next spend fails.
    fail_check_after_spend: Arc<AtomicBool>,
    /// Armed: the next spend is recorded but answers an error.
    lose_spend_reply: Arc<AtomicBool>,
    check_fails: Arc<AtomicBool>,
    spent: Arc<AtomicBool>,
    /// Set: the check following the next spend first runs this exchange,
    /// whose answer goes to `retried`.
    retry_during_check: Arc<Mutex<Option<(TokenIssuer, String)>>>,
    retried: Arc<Mutex<Option<Result<TokenPair, RefreshError>>>>,
}

fn store_down() -> RevocationError {
    RevocationError::Unavailable("mget: timed out".into())
}

impl Revocation for Flaky {
    fn is_revoked<'a>(
        &'a self,
        token: &'a TokenRef<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            if self.spent.swap(false, Ordering::SeqCst) {
                let retry = self.retry_during_check.lock().unwrap().take();
                if let Some((issuer, token)) = retry {
                    let answer = issuer.refresh(&token).await;
                    *self.retried.lock().unwrap() = Some(answer);
                }
            }
            if self.check_fails.swap(false, Ordering::SeqCst) {
                return Err(store_down());
            }
            self.inner.is_revoked(token).await
        })
    }

    fn is_revoked_now(&self, token: &TokenRef<'_>) -> Option<Result<bool, RevocationError>> {
        self.inner.is_revoked_now(token)
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        self.inner.revoke_token(jti, expires_at)
    }

    fn spend_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let spent = self.inner.spend_refresh(spend).await?;
            if spent && self.fail_check_after_spend.swap(false, Ordering::SeqCst) {
                self.check_fails.store(true, Ordering::SeqCst);
            }
            self.spent.store(spent, Ordering::SeqCst);
            if self.lose_spend_reply.swap(false, Ordering::SeqCst) {
                return Err(RevocationError::Unavailable("spend: timed out".into()));
            }
            Ok(spent)
        })
    }

    fn confirm_refresh<'a>(
        &'a self,
        spend: &'a RefreshSpend<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        self.inner.confirm_refresh(spend)
    }

    fn revoke_family<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        self.inner.revoke_family(sid, expires_at)
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: u64,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        self.inner.revoke_subject(sub, issued_before, expires_at)
    }
}

fn flaky_issuer(clock: &Arc<FixedClock>, grace: Option<Duration>) -> (TokenIssuer, Flaky) {
    let store = Flaky {
        inner: MemoryRevocation::new().clock(clock.clone()),
        ..Flaky::default()
    };
    let mut b = TokenIssuer::builder()
        .hmac_secret(SECRET)
        .issuer(ISS)
        .audience(["api"])
        .clock(clock.clone())
        .revocation(store.clone());
    if let Some(grace) = grace {
        b = b.refresh_retry_grace(grace);
    }
    (b.build().unwrap(), store)
}

/// Issue 24, finding 6: the check after the spend failed (a store
/// timeout), so the exchange answered "unavailable" and its pair was never
/// returned. The client's retry with the same refresh token gets a new
/// pair and the session lives on; the old token replayed once the retry
/// succeeded is still reuse and revokes the family.
#[tokio::test]
async fn a_refresh_whose_check_after_the_spend_failed_is_retried_not_reused() {
    let clock = Arc::new(FixedClock::new(NOW));
    let (issuer, store) = flaky_issuer(&clock, None);
    let auth = issuer.authenticator_builder().build().unwrap();
    let first = issuer.issue("alice", &()).unwrap();

    store.fail_check_after_spend.store(true, Ordering::SeqCst);
    assert!(matches!(
        issuer.refresh(&first.refresh_token).await,
        Err(RefreshError::Unavailable(_))
    ));
    clock.advance(Duration::from_secs(5));
    let retried = match issuer.refresh(&first.refresh_token).await {
        Ok(pair) => pair,
        Err(e) => panic!("the client's retry after a store error: {e:?}"),
    };
    // Same session, next generation; the session is alive and rotates on.
    assert_eq!(
        segment(&retried.refresh_token, 1)["sid"],
        segment(&first.refresh_token, 1)["sid"]
    );
    assert_eq!(segment(&retried.refresh_token, 1)["refresh_gen"], 1);
    assert!(auth.verifier().verify(&first.access_token).is_ok());
    assert!(auth.verifier().verify(&retried.access_token).is_ok());
    let third = issuer.refresh(&retried.refresh_token).await.unwrap();
    assert!(auth.verifier().verify(&third.access_token).is_ok());

    // The first refresh token replayed now (still within the grace, but
    // its retry succeeded): reuse, the whole family revoked.
    assert!(matches!(
        issuer.refresh(&first.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    for t in [&retried.access_token, &third.access_token] {
        assert_eq!(refusal(&auth, t), AuthErrorKind::Revoked);
    }
}

/// Issue 24, finding 6: the store recorded the spend but its reply was
/// lost (the exchange saw an error). The retry with the same token is not
/// reuse; once it succeeded, presenting the token again is.
#[tokio::test]
async fn a_lost_reply_to_the_spend_is_retried_not_reused() {
    let clock = Arc::new(FixedClock::new(NOW));
    let (issuer, store) = flaky_issuer(&clock, None);
    let auth = issuer.authenticator_builder().build().unwrap();
    let first = issuer.issue("alice", &()).unwrap();
    let second = issuer.refresh(&first.refresh_token).await.unwrap();

    store.lose_spend_reply.store(true, Ordering::SeqCst);
    assert!(matches!(
        issuer.refresh(&second.refresh_token).await,
        Err(RefreshError::Unavailable(_))
    ));
    let retried = match issuer.refresh(&second.refresh_token).await {
        Ok(pair) => pair,
        Err(e) => panic!("the client's retry after a lost reply: {e:?}"),
    };
    assert_eq!(segment(&retried.refresh_token, 1)["refresh_gen"], 2);
    assert!(auth.verifier().verify(&retried.access_token).is_ok());
    assert!(matches!(
        issuer.refresh(&second.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    assert_eq!(
        refusal(&auth, &retried.access_token),
        AuthErrorKind::Revoked
    );
}

/// Issue 24, finding 6: the retry grace covers only the token whose
/// exchange failed, for a while, and only until the next refresh token is
/// used: after the grace, with the grace off, or once the legitimate client
/// used the retry's refresh token, the failed token presented again is
/// reuse and revokes the family.
#[tokio::test]
async fn a_failed_refresh_presented_after_the_grace_or_after_the_next_rotation_is_reuse() {
    // After the grace (default 30 s).
    let clock = Arc::new(FixedClock::new(NOW));
    let (issuer, store) = flaky_issuer(&clock, None);
    let auth = issuer.authenticator_builder().build().unwrap();
    let pair = issuer.issue("alice", &()).unwrap();
    store.fail_check_after_spend.store(true, Ordering::SeqCst);
    assert!(issuer.refresh(&pair.refresh_token).await.is_err());
    clock.advance(Duration::from_secs(30));
    assert!(matches!(
        issuer.refresh(&pair.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    assert_eq!(refusal(&auth, &pair.access_token), AuthErrorKind::Revoked);

    // A grace configured to zero: no retry at all.
    let clock = Arc::new(FixedClock::new(NOW));
    let (issuer, store) = flaky_issuer(&clock, Some(Duration::ZERO));
    let pair = issuer.issue("alice", &()).unwrap();
    store.fail_check_after_spend.store(true, Ordering::SeqCst);
    assert!(issuer.refresh(&pair.refresh_token).await.is_err());
    assert!(matches!(
        issuer.refresh(&pair.refresh_token).await,
        Err(RefreshError::Reused)
    ));

    // Within the grace, but the client already used the retry's refresh
    // token: a thief replaying the failed token is caught.
    let clock = Arc::new(FixedClock::new(NOW));
    let (issuer, store) = flaky_issuer(&clock, Some(Duration::from_secs(60)));
    let auth = issuer.authenticator_builder().build().unwrap();
    let pair = issuer.issue("alice", &()).unwrap();
    store.fail_check_after_spend.store(true, Ordering::SeqCst);
    assert!(issuer.refresh(&pair.refresh_token).await.is_err());
    let retried = issuer.refresh(&pair.refresh_token).await.unwrap();
    let next = issuer.refresh(&retried.refresh_token).await.unwrap();
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        issuer.refresh(&pair.refresh_token).await,
        Err(RefreshError::Reused)
    ));
    assert_eq!(refusal(&auth, &next.access_token), AuthErrorKind::Revoked);

    // Another refresh token of the same generation (the pair a retry
    // replaced) is not the failed token: reuse, even within the grace.
    let clock = Arc::new(FixedClock::new(NOW));
    let (issuer, store) = flaky_issuer(&clock, None);
    let pair = issuer.issue("alice", &()).unwrap();
    let second = issuer.refresh(&pair.refresh_token).await.unwrap();
    store.lose_spend_reply.store(true, Ordering::SeqCst);
    assert!(issuer.refresh(&second.refresh_token).await.is_err());
    let retried = issuer.refresh(&second.refresh_token).await.unwrap();
    let twin = issuer.refresh(&second.refresh_token).await;
    assert!(matches!(twin, Err(RefreshError::Reused)), "{twin:?}");
    assert!(matches!(
        issuer.refresh(&retried.refresh_token).await,
        Err(RefreshError::Revoked)
    ));
}

/// Issue 24, finding 6: a retry that arrives while the first exchange of
/// the token is still running takes its place; the first then returns no
/// pair (`Superseded`, the session kept), so one presentation of a token
/// never yields two live pairs.
#[tokio::test]
async fn a_refresh_overtaken_by_its_retry_returns_no_pair() {
    let clock = Arc::new(FixedClock::new(NOW));
    let (issuer, store) = flaky_issuer(&clock, None);
    let auth = issuer.authenticator_builder().build().unwrap();
    let pair = issuer.issue("alice", &()).unwrap();
    *store.retry_during_check.lock().unwrap() = Some((issuer.clone(), pair.refresh_token.clone()));
    let first = issuer.refresh(&pair.refresh_token).await;
    assert!(matches!(first, Err(RefreshError::Superseded)), "{first:?}");
    let retried = store.retried.lock().unwrap().take();
    let retried = match retried {
        Some(Ok(pair)) => pair,
        other => panic!("the retry during the first exchange: {other:?}"),
    };
    assert!(auth.verifier().verify(&retried.access_token).is_ok());
    assert!(issuer.refresh(&retried.refresh_token).await.is_ok());
}
