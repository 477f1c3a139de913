//! Test utilities for your application's tests (feature `test-util`): a
//! [`TestIssuer`] with a throwaway key pair that mints tokens in one line and
//! hands you the matching [`Authenticator`] builder,
//! and a steppable [`FixedClock`](crate::clock::FixedClock). No key files, no network
//! (unless you want your fixtures' key: [`TestIssuer::from_secret`],
//! [`TestIssuer::from_pem`]).
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
use crate::error::{ConfigError, KeyError};
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
/// secret, or a fixed key of yours), an issuer name and an audience; it mints tokens
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
/// To sign with a key your test fixtures hold (a secret or a private key PEM
/// your application is configured with), use [`from_secret`](Self::from_secret)
/// or [`from_pem`](Self::from_pem).
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
        match keygen::generate(alg) {
            Ok(generated) => Self::with_key(alg, generated),
            Err(keygen::KeygenError) => panic!("TestIssuer: generating a {alg:?} key failed"),
        }
    }

    /// An `HS256`, `HS384` or `HS512` issuer signing with `secret`, e.g. the
    /// one your application's test configuration holds.
    ///
    /// # Errors
    /// [`KeyError::AlgorithmMismatch`] if `alg` is not `HS*`;
    /// [`KeyError::HmacTooShort`] if `secret` is shorter than the hash
    /// (32, 48 or 64 bytes, RFC 7518 §3.2): the crate would not verify
    /// its tokens.
    pub fn from_secret(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => return Err(KeyError::AlgorithmMismatch.into()),
        };
        if secret.len() < min {
            return Err(KeyError::HmacTooShort { len: secret.len() }.into());
        }
        Ok(Self::with_key(alg, keygen::from_secret(secret)))
    }

    /// An issuer signing with the private key of `private_pem`, e.g. the
    /// one your test fixtures hold: RSA 2048+ bits (`RS*`, `PS*`; PKCS#8
    /// `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`), P-256 (`ES256`), P-384
    /// (`ES384`) or Ed25519 (`EdDSA`) in PKCS#8 (`PRIVATE KEY`).
    ///
    /// Its public JWK ([`jwk`](Self::jwk)) is derived from the private key.
    ///
    /// # Errors
    /// [`KeyError::InvalidPem`] if the PEM does not hold a private key of
    /// `alg`'s type (or `alg` is `HS*`); the import policy's errors for a
    /// key the crate would not verify with (e.g. [`KeyError::RsaTooSmall`]).
    pub fn from_pem(alg: Algorithm, private_pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let key = keygen::from_pem(alg, private_pem.as_ref())
            .map_err(|keygen::KeygenError| KeyError::InvalidPem)?;
        let issuer = Self::with_key(alg, key);
        issuer.try_key()?;
        Ok(issuer)
    }

    fn with_key(alg: Algorithm, key: keygen::Generated) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self {
            alg,
            kid: format!("test-{}-{n}", format!("{alg:?}").to_ascii_lowercase()),
            issuer: TEST_ISSUER.to_owned(),
            audience: TEST_AUDIENCE.to_owned(),
            encoding: key.encoding,
            jwk: key.jwk,
            secret: key.secret.map(Arc::from),
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
        match self.try_key() {
            Ok(key) => key,
            // A generated key always passes the import policy, and
            // `from_secret` / `from_pem` check theirs.
            Err(e) => panic!("TestIssuer: its own key was refused: {e}"),
        }
    }

    fn try_key(&self) -> Result<Key, KeyError> {
        let key = match &self.secret {
            Some(secret) => Key::hmac(secret),
            None => KeySet::from_jwks_json(&self.jwks())
                .and_then(|set| set.iter().next().cloned().ok_or(KeyError::Empty)),
        };
        key.map(|key| key.with_kid(self.kid.clone()))
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

    /// Like [`sign`](Self::sign), with the header `kid` given (`None`: no
    /// `kid`) instead of this issuer's.
    ///
    /// # Panics
    /// If `claims` does not serialize to JSON (a map with non-string keys).
    #[must_use]
    pub fn sign_with_kid(&self, claims: &impl Serialize, kid: Option<&str>) -> String {
        self.sign_with(claims, kid, Some("JWT"))
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

    const FIXTURE_JWKS: &str = include_str!("../../tests/fixtures/jwks.json");

    /// The fixture private keys, each with the `kid` of its public key in
    /// tests/fixtures/jwks.json.
    fn fixtures() -> [(Algorithm, &'static str, &'static str); 5] {
        [
            (
                Algorithm::RS256,
                include_str!("../../tests/fixtures/rsa2048_private.pem"),
                "rsa-1",
            ),
            (
                Algorithm::PS384,
                include_str!("../../tests/fixtures/rsa2048_private.pem"),
                "rsa-1",
            ),
            (
                Algorithm::ES256,
                include_str!("../../tests/fixtures/ec256_private.pem"),
                "ec256-1",
            ),
            (
                Algorithm::ES384,
                include_str!("../../tests/fixtures/ec384_private.pem"),
                "ec384-1",
            ),
            (
                Algorithm::EdDSA,
                include_str!("../../tests/fixtures/ed25519_private.pem"),
                "ed-1",
            ),
        ]
    }

    #[test]
    fn from_pem_signs_tokens_its_authenticator_and_the_fixture_jwks_accept() {
        let fixture_set = Authenticator::builder()
            .jwk_set(FIXTURE_JWKS)
            .unwrap()
            .build()
            .unwrap();
        let published: Value = serde_json::from_str(FIXTURE_JWKS).unwrap();
        for (alg, pem, kid) in fixtures() {
            let issuer = TestIssuer::from_pem(alg, pem).unwrap().with_kid(kid);
            assert_eq!(issuer.algorithm(), alg);
            let auth = issuer.authenticator().build().unwrap();
            assert_eq!(kind(&auth, &issuer.token().sign()), Ok(()), "{alg:?}");
            assert_eq!(
                kind(
                    &fixture_set,
                    &issuer.sign(&json!({"exp": issuer.now() + 60}))
                ),
                Ok(()),
                "{alg:?}: the fixture JWK Set verifies it"
            );
            // Its JWK is the fixture's public key, with the same members.
            let mut expected = published["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kid"] == kid)
                .unwrap()
                .clone();
            expected.as_object_mut().unwrap().remove("key_ops");
            expected["alg"] = json!(alg);
            assert_eq!(issuer.jwk(), expected, "{alg:?}");
            // A token of a generated key of the same kid is refused.
            let other = TestIssuer::new(alg).with_kid(kid);
            if !(SHARED_RSA && other.jwk()["kty"] == "RSA") {
                assert_eq!(
                    kind(&auth, &other.token().sign()),
                    Err(AuthErrorKind::InvalidSignature),
                    "{alg:?}"
                );
            }
        }
    }

    #[test]
    fn sign_with_kid_sets_or_omits_the_kid() {
        let issuer = TestIssuer::from_pem(
            Algorithm::ES256,
            include_str!("../../tests/fixtures/ec256_private.pem"),
        )
        .unwrap();
        let claims = json!({"sub": "u", "exp": NOW});
        let named = issuer.sign_with_kid(&claims, Some("k-9"));
        let header = jsonwebtoken::decode_header(&named).unwrap();
        assert_eq!(
            (header.kid.as_deref(), header.typ.as_deref()),
            (Some("k-9"), Some("JWT"))
        );
        let bare = issuer.sign_with_kid(&claims, None);
        assert_eq!(jsonwebtoken::decode_header(&bare).unwrap().kid, None);
        // Exactly the claims given: nothing added.
        let payload = bare.split('.').nth(1).unwrap();
        let payload =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&payload).unwrap(), claims);
    }

    #[test]
    fn from_pem_refuses_a_pem_that_is_not_a_usable_private_key_of_the_algorithm() {
        let ec256 = include_str!("../../tests/fixtures/ec256_private.pem");
        let ec384 = include_str!("../../tests/fixtures/ec384_private.pem");
        let ed = include_str!("../../tests/fixtures/ed25519_private.pem");
        let rsa = include_str!("../../tests/fixtures/rsa2048_private.pem");
        let public = include_str!("../../tests/fixtures/rsa2048_public.pem");
        let truncated = &rsa[..rsa.len() / 2];
        for (alg, pem, what) in [
            (Algorithm::ES256, "not a pem", "not a PEM"),
            (Algorithm::RS256, truncated, "a truncated PEM"),
            (Algorithm::RS256, public, "a public key"),
            (Algorithm::ES256, ec384, "a P-384 key for ES256"),
            (Algorithm::ES384, ec256, "a P-256 key for ES384"),
            (Algorithm::RS256, ed, "an Ed25519 key for RS256"),
            (Algorithm::EdDSA, rsa, "an RSA key for EdDSA"),
            (Algorithm::HS256, rsa, "a PEM for HS256"),
        ] {
            assert!(
                matches!(
                    TestIssuer::from_pem(alg, pem),
                    Err(ConfigError::Key(KeyError::InvalidPem))
                ),
                "{what}"
            );
        }
        // A key the crate would not verify with: RSA 1024.
        let small = include_str!("../../tests/fixtures/rsa1024_private.pem");
        assert!(matches!(
            TestIssuer::from_pem(Algorithm::RS256, small),
            Err(ConfigError::Key(
                KeyError::RsaTooSmall { bits: 1024 } | KeyError::InvalidPem
            ))
        ));
    }

    #[test]
    fn from_secret_signs_with_the_secret_and_refuses_short_ones() {
        let secret = b"0123456789abcdef0123456789abcdef0123456789abcdef";
        for alg in [Algorithm::HS256, Algorithm::HS384] {
            let issuer = TestIssuer::from_secret(alg, secret).unwrap();
            assert_eq!(issuer.jwk()["k"], keygen::b64(secret));
            let auth = issuer.authenticator().build().unwrap();
            assert_eq!(kind(&auth, &issuer.token().sign()), Ok(()), "{alg:?}");
            // Any verifier holding the same secret accepts it.
            let same = Authenticator::builder()
                .hmac_secret(secret)
                .build()
                .unwrap();
            let exp = issuer.now() + 60;
            assert_eq!(
                kind(&same, &issuer.sign(&json!({ "exp": exp }))),
                Ok(()),
                "{alg:?}"
            );
        }
        let short = |alg, secret: &[u8]| match TestIssuer::from_secret(alg, secret) {
            Err(ConfigError::Key(KeyError::HmacTooShort { len })) => Some(len),
            _ => None,
        };
        assert_eq!(short(Algorithm::HS256, &secret[..31]), Some(31));
        assert_eq!(short(Algorithm::HS384, &secret[..40]), Some(40));
        assert_eq!(short(Algorithm::HS512, secret), Some(48));
        assert!(matches!(
            TestIssuer::from_secret(Algorithm::RS256, secret),
            Err(ConfigError::Key(KeyError::AlgorithmMismatch))
        ));
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
        let fixed = TestIssuer::from_secret(Algorithm::HS256, "s3cr3t".repeat(6)).unwrap();
        let dbg = format!("{fixed:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        let pem = TestIssuer::from_pem(
            Algorithm::EdDSA,
            include_str!("../../tests/fixtures/ed25519_private.pem"),
        )
        .unwrap();
        assert!(pem.jwk().get("d").is_none(), "no private member in the JWK");
    }
}
