//! Test utilities for your application's tests (feature `test-util`): a
//! [`TestIssuer`] with a throwaway key pair that mints tokens in one line and
//! hands you the matching [`Authenticator`] builder,
//! and a steppable [`FixedClock`](crate::clock::FixedClock). No key files, no network.
//!
//! ```
//! use tower_jwt_auth::testing::TestIssuer;
//! use tower_jwt_auth::keys::Algorithm;
//!
//! let issuer = TestIssuer::new(Algorithm::ES256);
//! let auth = issuer.authenticator().build()?;
//! let v = auth.verifier();
//!
//! let ok = issuer.token().subject("ada").scope("read").sign();
//! assert_eq!(v.verify(&ok)?["sub"], "ada");
//!
//! // Each of these is rejected, for the reason its name says.
//! use tower_jwt_auth::AuthErrorKind as K;
//! let kind = |t: String| v.verify(&t).unwrap_err().kind();
//! assert_eq!(kind(issuer.token().expired().sign()), K::Expired);
//! assert_eq!(kind(issuer.token().not_yet_valid().sign()), K::NotYetValid);
//! assert_eq!(kind(issuer.token().audience("another-api").sign()), K::InvalidAudience);
//! assert_eq!(kind(issuer.token().issuer("https://other.example").sign()), K::InvalidIssuer);
//! assert_eq!(kind(TestIssuer::new(Algorithm::ES256).token().sign()), K::UnknownKey);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An axum handler test (the layer, the extractor and your handler, without
//! a server; with `tower::ServiceExt::oneshot`):
//!
//! ```
//! # use axum::{routing::get, Router, body::Body};
//! # use http::{Request, StatusCode};
//! # use tower::ServiceExt;
//! # use tower_jwt_auth::{testing::TestIssuer, Claims};
//! # async fn me(c: Claims) -> String { c["sub"].as_str().unwrap_or_default().to_owned() }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TestIssuer::hs256();
//! let auth = issuer.authenticator().build()?;
//! let app = Router::new().route("/admin", get(me).layer(auth.layer().require_scope("admin")));
//!
//! let call = |token: String| {
//!     let req = Request::get("/admin").header("authorization", format!("Bearer {token}"));
//!     app.clone().oneshot(req.body(Body::empty()).unwrap())
//! };
//! assert_eq!(call(issuer.token().scope("admin").sign()).await?.status(), StatusCode::OK);
//! assert_eq!(call(issuer.token().scope("read").sign()).await?.status(), StatusCode::FORBIDDEN);
//! # Ok(()) }
//! ```
//!
//! Time: give the issuer a shared [`FixedClock`](crate::clock::FixedClock); its tokens and its
//! authenticator then read the same clock, and
//! [`FixedClock::advance`](crate::clock::FixedClock::advance) expires a token without sleeping.
//!
//! Keys from an identity provider (with the `remote` feature too): a
//! `JwksServer` serves a JWK Set and an OIDC discovery document on
//! 127.0.0.1, for `jwks_url` / `oidc_issuer`, and rotates keys or fails on
//! demand.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::authenticator::{Authenticator, AuthenticatorBuilder};
use crate::clock::{Clock, SystemClock};
use crate::crypto;
use crate::keys::{Key, KeySet};

mod keygen;

#[cfg(feature = "remote")]
mod jwks_server;
#[cfg(feature = "remote")]
pub use jwks_server::JwksServer;

/// The `iss` of a [`TestIssuer`] unless set with [`TestIssuer::with_issuer`].
pub const TEST_ISSUER: &str = "https://issuer.test";
/// The `aud` of a [`TestIssuer`] unless set with [`TestIssuer::with_audience`].
pub const TEST_AUDIENCE: &str = "test-api";
/// The `sub` of a minted token unless set with [`TokenBuilder::subject`].
pub const TEST_SUBJECT: &str = "test-user";
/// How long a minted token lives unless set with [`TokenBuilder::expires_in`].
pub const TEST_TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// How far [`TokenBuilder::expired`] and [`TokenBuilder::not_yet_valid`]
/// move `exp` / `nbf`: well beyond any sensible leeway.
const FAR: u64 = 3600;

/// An identity provider for tests: a freshly generated key pair (or HMAC
/// secret), an issuer name and an audience; it mints tokens
/// ([`token`](Self::token)) and configures the authenticator that accepts
/// them ([`authenticator`](Self::authenticator)).
///
/// Every `TestIssuer` has its own key and `kid`, so a token of one is
/// rejected by another's authenticator (`UnknownKey`, or `InvalidSignature`
/// when you give both the same `kid`). Keys are generated with the crate's
/// crypto backend. One exception: with the `rust-crypto` backend alone, RSA
/// key generation takes seconds in a debug build, so the RSA issuers of one
/// process share one key (their `kid`s still differ).
///
/// `Debug` shows the algorithm, `kid`, issuer and audience, never the key.
#[derive(Clone)]
pub struct TestIssuer {
    alg: Algorithm,
    kid: String,
    issuer: String,
    audience: String,
    encoding: EncodingKey,
    jwk: Map<String, Value>,
    secret: Option<Arc<[u8]>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIssuer")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// An issuer signing with `alg`, with a new key: an HMAC secret as long
    /// as the hash (`HS*`), RSA 2048 (`RS*`, `PS*`), P-256 (`ES256`), P-384
    /// (`ES384`) or Ed25519 (`EdDSA`).
    ///
    /// # Panics
    /// If the operating system's random source fails.
    #[must_use]
    pub fn new(alg: Algorithm) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let generated = match keygen::generate(alg) {
            Ok(g) => g,
            Err(keygen::KeygenError) => panic!("TestIssuer: generating a {alg:?} key failed"),
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self {
            alg,
            kid: format!("test-{}-{n}", format!("{alg:?}").to_ascii_lowercase()),
            issuer: TEST_ISSUER.to_owned(),
            audience: TEST_AUDIENCE.to_owned(),
            encoding: generated.encoding,
            jwk: generated.jwk,
            secret: generated.secret.map(Arc::from),
            clock: Arc::new(SystemClock),
        }
    }

    /// An `HS256` issuer (a random 32-byte secret).
    #[must_use]
    pub fn hs256() -> Self {
        Self::new(Algorithm::HS256)
    }

    /// An `RS256` issuer (a new RSA 2048 key).
    #[must_use]
    pub fn rs256() -> Self {
        Self::new(Algorithm::RS256)
    }

    /// An `ES256` issuer (a new P-256 key).
    #[must_use]
    pub fn es256() -> Self {
        Self::new(Algorithm::ES256)
    }

    /// An `EdDSA` issuer (a new Ed25519 key).
    #[must_use]
    pub fn eddsa() -> Self {
        Self::new(Algorithm::EdDSA)
    }

    /// Sets the `iss` its tokens carry and its authenticator accepts
    /// (default [`TEST_ISSUER`]).
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Sets the `aud` its tokens carry and its authenticator accepts
    /// (default [`TEST_AUDIENCE`]).
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Sets the key id (default `test-<alg>-<n>`, unique in the process).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The clock its tokens' `iat`/`exp`/`nbf` are computed from, and that
    /// its authenticator checks them with (default: the system clock).
    ///
    /// Pass an `Arc<FixedClock>` you keep a clone of, to move time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The signing algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id its tokens name.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The issuer name (`iss`).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience (`aud`).
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The current time of its clock, in seconds since the epoch.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Its key as a JWK (public members only; for `HS*` the `oct` key holds
    /// the secret), with `kid`, `alg` and `use: sig`.
    #[must_use]
    pub fn jwk(&self) -> Value {
        let mut jwk = self.jwk.clone();
        jwk.insert("kid".into(), Value::String(self.kid.clone()));
        jwk.insert("alg".into(), json!(self.alg));
        jwk.insert("use".into(), Value::String("sig".into()));
        Value::Object(jwk)
    }

    /// A JWK Set document holding [`jwk`](Self::jwk): what a JWKS endpoint
    /// of this issuer would serve (never publish an `HS*` one: it holds the
    /// secret).
    #[must_use]
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.jwk()] }).to_string()
    }

    /// The key that verifies its tokens (with its `kid`).
    #[must_use]
    pub fn key(&self) -> Key {
        let key = match &self.secret {
            Some(secret) => Key::hmac(secret),
            None => KeySet::from_jwks_json(&self.jwks()).and_then(|set| {
                set.iter()
                    .next()
                    .cloned()
                    .ok_or(crate::keys::KeyError::Empty)
            }),
        };
        match key {
            Ok(key) => key.with_kid(self.kid.clone()),
            // A generated key always passes the import policy.
            Err(e) => panic!("TestIssuer: its own key was refused: {e}"),
        }
    }

    /// An [`Authenticator`] builder that accepts this issuer's tokens: its
    /// key, its issuer and audience required, its clock.
    ///
    /// Add rules, or
    /// `.claims::<T>()`, then `build()`.
    #[must_use]
    pub fn authenticator(&self) -> AuthenticatorBuilder<Value> {
        Authenticator::builder()
            .key(self.key())
            .issuer([self.issuer.clone()])
            .audience([self.audience.clone()])
            .clock(Arc::clone(&self.clock))
    }

    /// A token to customise, then [`sign`](TokenBuilder::sign).
    ///
    /// It starts
    /// valid: `iss`, `aud`, `sub` ([`TEST_SUBJECT`]), `iat` now, `exp` in
    /// [`TEST_TOKEN_LIFETIME`].
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = self.now();
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::String(self.issuer.clone()));
        claims.insert("aud".into(), Value::String(self.audience.clone()));
        claims.insert("sub".into(), Value::String(TEST_SUBJECT.into()));
        claims.insert("iat".into(), json!(now));
        claims.insert(
            "exp".into(),
            json!(now.saturating_add(TEST_TOKEN_LIFETIME.as_secs())),
        );
        TokenBuilder {
            issuer: self,
            claims,
            kid: Some(self.kid.clone()),
            typ: Some("JWT".into()),
        }
    }

    /// A token holding exactly `claims` (nothing added), signed with this
    /// issuer's key, `alg` and `kid`.
    ///
    /// # Panics
    /// If `claims` does not serialize to JSON (a map with non-string keys).
    #[must_use]
    pub fn sign(&self, claims: &impl Serialize) -> String {
        self.sign_with(claims, Some(&self.kid), Some("JWT"))
    }

    fn sign_with(&self, claims: &impl Serialize, kid: Option<&str>, typ: Option<&str>) -> String {
        // With both backends on, jsonwebtoken's encode needs a process
        // default provider: install the crate's.
        crypto::install_default_provider();
        let mut header = Header::new(self.alg);
        header.kid = kid.map(str::to_owned);
        header.typ = typ.map(str::to_owned);
        match jsonwebtoken::encode(&header, claims, &self.encoding) {
            Ok(token) => token,
            Err(e) => panic!("TestIssuer: signing failed: {e}"),
        }
    }
}

/// A token being minted by [`TestIssuer::token`]: valid until you change it.
#[derive(Debug)]
#[must_use = "call .sign() to get the token"]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    claims: Map<String, Value>,
    kid: Option<String>,
    typ: Option<String>,
}

impl TokenBuilder<'_> {
    /// Sets `sub`.
    pub fn subject(self, sub: impl Into<String>) -> Self {
        self.claim("sub", sub.into())
    }

    /// Sets `scope` (space-separated, e.g. `"read admin"`).
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.claim("scope", scope.into())
    }

    /// Sets `iss`, e.g. to another issuer's name.
    pub fn issuer(self, iss: impl Into<String>) -> Self {
        self.claim("iss", iss.into())
    }

    /// Sets `aud`, e.g. to another API's name.
    pub fn audience(self, aud: impl Into<String>) -> Self {
        self.claim("aud", aud.into())
    }

    /// Sets any claim (a `serde_json::Value` or anything convertible).
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim (e.g. `"exp"`, `"aud"`).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// `exp` this long after now.
    pub fn expires_in(self, lifetime: Duration) -> Self {
        let exp = self.issuer.now().saturating_add(lifetime.as_secs());
        self.claim("exp", exp)
    }

    /// Expired an hour ago (beyond any leeway).
    pub fn expired(self) -> Self {
        let now = self.issuer.now();
        self.claim("iat", now.saturating_sub(2 * FAR))
            .claim("exp", now.saturating_sub(FAR))
    }

    /// Valid only from an hour from now (`nbf`, beyond any leeway).
    pub fn not_yet_valid(self) -> Self {
        let nbf = self.issuer.now().saturating_add(FAR);
        self.claim("nbf", nbf)
            .claim("exp", nbf.saturating_add(TEST_TOKEN_LIFETIME.as_secs()))
    }

    /// Sets the header `kid` (`None`: no `kid`).
    pub fn kid(mut self, kid: Option<&str>) -> Self {
        self.kid = kid.map(str::to_owned);
        self
    }

    /// Sets the header `typ` (default `JWT`; e.g. `at+jwt`).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// The claims so far.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs the token with the issuer's key.
    #[must_use]
    pub fn sign(self) -> String {
        self.issuer
            .sign_with(&self.claims, self.kid.as_deref(), self.typ.as_deref())
    }

    /// Signs the token and returns the `Authorization` header value,
    /// `Bearer <token>`.
    #[must_use]
    pub fn bearer(self) -> String {
        format!("Bearer {}", self.sign())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::AuthErrorKind;

    const NOW: u64 = 1_800_000_000;
    const SHARED_RSA: bool = cfg!(all(feature = "rust-crypto", not(feature = "aws-lc-rs")));

    fn kind(auth: &Authenticator, token: &str) -> Result<(), AuthErrorKind> {
        auth.verifier()
            .verify(token)
            .map(|_| ())
            .map_err(|e| e.kind())
    }

    #[test]
    fn every_algorithm_mints_tokens_its_authenticator_accepts_and_others_reject() {
        use Algorithm::*;
        for alg in [
            HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
        ] {
            let issuer = TestIssuer::new(alg);
            let auth = issuer.authenticator().build().unwrap();
            assert_eq!(kind(&auth, &issuer.token().sign()), Ok(()), "{alg:?}");
            // The public JWK set verifies it too (what a JWKS endpoint serves).
            let from_jwks = Authenticator::builder()
                .jwk_set(&issuer.jwks())
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(kind(&from_jwks, &issuer.token().sign()), Ok(()), "{alg:?}");
            // Another issuer of the same algorithm has another kid, and
            // another key (but RSA keys are shared under rust-crypto alone).
            let other = TestIssuer::new(alg);
            assert_ne!(other.kid(), issuer.kid());
            assert_eq!(
                kind(&auth, &other.token().sign()),
                Err(AuthErrorKind::UnknownKey),
                "{alg:?}"
            );
            let same_kid = other.with_kid(issuer.kid());
            if !(SHARED_RSA && same_kid.jwk()["kty"] == "RSA") {
                assert_eq!(
                    kind(&auth, &same_kid.token().sign()),
                    Err(AuthErrorKind::InvalidSignature),
                    "{alg:?}"
                );
            }
        }
    }

    #[test]
    fn rejections_named_by_the_builder() {
        let issuer = TestIssuer::es256();
        let auth = issuer.authenticator().build().unwrap();
        let k = |t: TokenBuilder<'_>| kind(&auth, &t.sign());
        assert_eq!(k(issuer.token().expired()), Err(AuthErrorKind::Expired));
        assert_eq!(
            k(issuer.token().not_yet_valid()),
            Err(AuthErrorKind::NotYetValid)
        );
        assert_eq!(
            k(issuer.token().audience("x")),
            Err(AuthErrorKind::InvalidAudience)
        );
        assert_eq!(
            k(issuer.token().issuer("https://x")),
            Err(AuthErrorKind::InvalidIssuer)
        );
        assert_eq!(
            k(issuer.token().without("exp")),
            Err(AuthErrorKind::MissingClaim)
        );
        assert_eq!(
            k(issuer.token().kid(Some("nope"))),
            Err(AuthErrorKind::UnknownKey)
        );
        let gate = auth.layer().require_scope("admin").into_gate();
        let decide = |token: &str| {
            let mut headers = http::HeaderMap::new();
            let bearer = format!("Bearer {token}").parse().unwrap();
            headers.insert(http::header::AUTHORIZATION, bearer);
            gate.decide(&http::Method::GET, &http::Uri::from_static("/"), &headers)
        };
        let read = issuer.token().scope("read").sign();
        assert!(matches!(
            decide(&read),
            crate::Decision::Reject(r) if r.error().kind() == AuthErrorKind::InsufficientScope
        ));
        let admin = issuer.token().scope("read admin").sign();
        assert!(matches!(decide(&admin), crate::Decision::Accept(_)));
    }

    #[test]
    fn the_shared_clock_expires_tokens_without_sleeping() {
        let clock = Arc::new(FixedClock::new(NOW));
        let issuer = TestIssuer::hs256().with_clock(Arc::clone(&clock));
        let auth = issuer
            .authenticator()
            .leeway(Duration::ZERO)
            .build()
            .unwrap();
        let t = issuer.token().expires_in(Duration::from_secs(60)).sign();
        let claims = auth.verifier().verify(&t).unwrap();
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 60);
        clock.advance(Duration::from_secs(59));
        assert_eq!(kind(&auth, &t), Ok(()));
        clock.advance(Duration::from_secs(1));
        assert_eq!(kind(&auth, &t), Err(AuthErrorKind::Expired));
    }

    #[test]
    fn exact_claims_and_headers() {
        let issuer = TestIssuer::hs256()
            .with_issuer("https://a")
            .with_audience("b");
        let t = issuer
            .token()
            .claim("tenant", 7)
            .typ("at+jwt")
            .kid(None)
            .sign();
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.kid, None);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let auth = issuer.authenticator().typ("at+jwt").build().unwrap();
        let c = auth.verifier().verify(&t).unwrap();
        assert_eq!(
            (c["iss"].as_str(), c["aud"].as_str()),
            (Some("https://a"), Some("b"))
        );
        assert_eq!(c["tenant"], 7);
        let raw = issuer.sign(&json!({"only": true}));
        assert_eq!(
            kind(&auth, &raw),
            Err(AuthErrorKind::InvalidType),
            "sign() adds typ JWT and nothing else"
        );
        assert!(issuer.token().bearer().starts_with("Bearer ey"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let issuer = TestIssuer::hs256();
        let secret = issuer.jwk()["k"].as_str().unwrap().to_owned();
        let dbg = format!("{issuer:?} {:?}", issuer.token());
        assert!(!dbg.contains(&secret), "{dbg}");
        assert!(dbg.contains(issuer.kid()));
        let ec = TestIssuer::es256();
        assert!(ec.jwk().get("d").is_none(), "no private member in the JWK");
    }
}
