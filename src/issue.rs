//! [`TokenIssuer`]: signs access and refresh tokens, exchanges a refresh

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::authenticator::{Authenticator, AuthenticatorBuilder};
use crate::claims::Claims;
use crate::clock::{Clock, SystemClock};
use crate::crypto;
use crate::error::{AuthError, ConfigError, KeyError};
use crate::keys::{Key, KeyKind};
use crate::revocation::{MemoryRevocation, RefreshSpend, Revocation, RevocationError, TokenRef};
use crate::verifier::Verifier;

/// The header `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The header `typ` of refresh tokens: anything but `at+jwt`, so that an
/// access-token verifier refuses them and the refresh exchange refuses
/// access tokens.
pub const REFRESH_TOKEN_TYPE: &str = "refresh+jwt";

/// The refresh token's claim that numbers it within its session (0 for
/// the login's, then one more per exchange): spending it records one
/// number per session ([`Revocation::spend_refresh`]), not one entry per
/// token.
const GENERATION: &str = "refresh_gen";

/// How long a refresh exchange that failed after its spend may be retried
/// with the same token ([`TokenIssuerBuilder::refresh_retry_grace`]).
const DEFAULT_RETRY_GRACE: Duration = Duration::from_secs(30);

/// Claims the issuer sets itself; custom claims may not name them.
const REGISTERED: [&str; 9] = [
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", GENERATION,
];

/// An access token and a refresh token, as an OAuth 2.0 token response
/// (RFC 6749 §5.1) serializes them. `Debug` shows no token.
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct TokenPair {
    /// The access token (`typ` `at+jwt`).
    pub access_token: String,
    /// The refresh token (`typ` `refresh+jwt`).
    pub refresh_token: String,
    /// Always `"Bearer"`.
    pub token_type: &'static str,
    /// The access token's lifetime in seconds.
    pub expires_in: u64,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Why a token could not be issued.
#[non_exhaustive]
#[derive(Debug)]
pub enum IssueError {
    /// The custom claims do not serialize to a JSON object.
    ClaimsNotAnObject,
    /// The custom claims name a claim the issuer sets itself.
    ReservedClaim(&'static str),
    /// The subject is empty.
    EmptySubject,
    /// The system's random number generator failed.
    Random,
    /// The crypto backend could not sign.
    Sign,
}

impl fmt::Display for IssueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClaimsNotAnObject => f.write_str("custom claims must serialize to a json object"),
            Self::ReservedClaim(name) => {
                write!(f, "custom claims may not set `{name}`: the issuer sets it")
            }
            Self::EmptySubject => f.write_str("the subject is empty"),
            Self::Random => f.write_str("the random number generator failed"),
            Self::Sign => f.write_str("the token could not be signed"),
        }
    }
}

impl std::error::Error for IssueError {}

/// Why a refresh exchange was refused. Every variant but
/// [`Unavailable`](Self::Unavailable) is an OAuth `invalid_grant`.
#[non_exhaustive]
#[derive(Debug)]
pub enum RefreshError {
    /// Not a valid refresh token: bad signature, expired, wrong `typ` (an
    /// access token), wrong issuer or audience, missing `jti`/`sid`/`sub`.
    Invalid(AuthError),
    /// The token's session or subject was revoked (logout).
    Revoked,
    /// The token was already spent: reuse. Its whole family has now been
    /// revoked.
    Reused,
    /// Another exchange of the same refresh token took this one's place.
    ///
    /// That happens while this one was running (the client retried, or the
    /// token was presented twice at once): this exchange's pair is dropped,
    /// the other's stands, and the session is kept. See
    /// [`TokenIssuerBuilder::refresh_retry_grace`].
    Superseded,
    /// The revocation store could not answer (fail closed: 503).
    Unavailable(RevocationError),
    /// The new pair could not be issued.
    Issue(IssueError),
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid refresh token: {e}"),
            Self::Revoked => f.write_str("the refresh token has been revoked"),
            Self::Reused => f.write_str(
                "the refresh token was already used: its whole session has been revoked",
            ),
            Self::Superseded => {
                f.write_str("another exchange of the same refresh token took this one's place")
            }
            Self::Unavailable(e) => write!(f, "{e}"),
            Self::Issue(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RefreshError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Unavailable(e) => Some(e),
            Self::Issue(e) => Some(e),
            _ => None,
        }
    }
}

/// [`TokenIssuer`]: signs access and refresh tokens, exchanges a refresh
/// token for a new pair (rotation with reuse detection), and revokes
/// sessions.
///
/// The login flow every JWT guide starts from:
/// 1. a user logs in; [`TokenIssuer::issue`] returns a [`TokenPair`]: a
///    short-lived access token (5 minutes by default, header `typ`
///    `at+jwt`, RFC 9068) and a refresh token (24 hours, `typ`
///    `refresh+jwt`), both with a random `jti` and the same `sid`: the
///    login session, or "family";
/// 2. the client sends the access token as `Authorization: Bearer`; the
///    [`Authenticator`] from [`TokenIssuer::authenticator_builder`] accepts
///    only access tokens (`typ` `at+jwt`), checks revocation, and needs no
///    other configuration;
/// 3. when it expires, the client trades the refresh token with
///    [`TokenIssuer::refresh`] for a new pair; the used refresh token is
///    spent (rotation). A spent refresh token presented again is *reuse*
///    (a sign it was stolen, OAuth 2.0 Security BCP §4.14): the whole family
///    is revoked and [`RefreshError::Reused`] reported;
/// 4. logout revokes the session ([`TokenIssuer::revoke_session`]): every
///    token of the family stops working, on every instance sharing the
///    [`Revocation`] store.
///
/// ```
/// use tower_jwt_auth::issue::TokenIssuer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = TokenIssuer::builder()
///     .hmac_secret("a secret of at least thirty-two bytes")
///     .issuer("https://auth.example")
///     .audience(["api"])
///     .build()?;
/// let auth = issuer.authenticator_builder().build()?;
///
/// let pair = issuer.issue("alice", &serde_json::json!({"scope": "read"}))?;
/// let claims = auth.verifier().verify(&pair.access_token)?;
/// assert_eq!(claims["sub"], "alice");
/// // A refresh token is not an access token:
/// assert!(auth.verifier().verify(&pair.refresh_token).is_err());
///
/// let next = issuer.refresh(&pair.refresh_token).await?;      // rotation
/// assert!(issuer.refresh(&pair.refresh_token).await.is_err()); // reuse: family revoked
/// assert!(auth.verifier().verify(&next.access_token).is_err());
/// # Ok(()) }
/// ```
///
/// [`Authenticator`]: crate::Authenticator
///
/// Signs access and refresh tokens; cheap to clone (an `Arc`).
///
#[derive(Clone)]
pub struct TokenIssuer {
    inner: Arc<IssuerInner>,
}

struct IssuerInner {
    signing: EncodingKey,
    alg: Algorithm,
    kid: Option<String>,
    verify_key: Key,
    issuer: Option<String>,
    audience: Vec<String>,
    access_ttl: u64,
    refresh_ttl: u64,
    retry_grace: u64,
    clock: Arc<dyn Clock>,
    revocation: Arc<dyn Revocation>,
    refresh_verifier: Verifier<Value>,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &*self.inner;
        f.debug_struct("TokenIssuer")
            .field("alg", &i.alg)
            .field("kid", &i.kid)
            .field("issuer", &i.issuer)
            .field("audience", &i.audience)
            .field("access_ttl", &i.access_ttl)
            .field("refresh_ttl", &i.refresh_ttl)
            .field("refresh_retry_grace", &i.retry_grace)
            .field("revocation", &i.revocation)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenIssuer`]: one signing key (required), optional
/// `iss`/`aud`, lifetimes, clock and revocation store.
pub struct TokenIssuerBuilder {
    key: Option<Result<(EncodingKey, Key), ConfigError>>,
    alg: Option<Algorithm>,
    kid: Option<String>,
    issuer: Option<String>,
    audience: Vec<String>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    retry_grace: Duration,
    clock: Arc<dyn Clock>,
    revocation: Option<Arc<dyn Revocation>>,
}

impl fmt::Debug for TokenIssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuerBuilder")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("refresh_retry_grace", &self.retry_grace)
            .finish_non_exhaustive()
    }
}

impl TokenIssuerBuilder {
    /// Signs with an HMAC secret (at least 32 bytes; `HS256` unless
    /// [`algorithm`](Self::algorithm) says otherwise).
    #[must_use]
    pub fn hmac_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        self.key = Some(
            Key::hmac(secret)
                .map(|k| (EncodingKey::from_secret(secret), k))
                .map_err(ConfigError::from),
        );
        self
    }

    /// Signs with a private key in PEM (RSA 2048+ bits, EC P-256/P-384 in
    /// PKCS#8, Ed25519), given with its public key in PEM, which verifiers
    /// use.
    ///
    /// [`build`](Self::build) checks that the two belong together.
    /// The algorithm defaults to `RS256`, `ES256`, `ES384` or `EdDSA` by key
    /// type.
    #[must_use]
    pub fn private_key_pem(
        mut self,
        private_pem: impl AsRef<[u8]>,
        public_pem: impl AsRef<[u8]>,
    ) -> Self {
        let private_pem = private_pem.as_ref();
        self.key = Some(
            Key::from_pem(public_pem)
                .map_err(ConfigError::from)
                .and_then(|public| {
                    let signing = match public.kind() {
                        KeyKind::Rsa { .. } => EncodingKey::from_rsa_pem(private_pem),
                        KeyKind::EcP256 | KeyKind::EcP384 => EncodingKey::from_ec_pem(private_pem),
                        KeyKind::Ed25519 => EncodingKey::from_ed_pem(private_pem),
                        _ => return Err(KeyError::InvalidPem.into()),
                    };
                    signing
                        .map(|s| (s, public))
                        .map_err(|_| ConfigError::Key(KeyError::InvalidPem))
                }),
        );
        self
    }

    /// The signing algorithm (it must fit the key).
    #[must_use]
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.alg = Some(alg);
        self
    }

    /// The `kid` put in every header (and given to the verifying key).
    #[must_use]
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The `iss` of every token (and the issuer verifiers require).
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud` of every token (a string for one, an array for several;
    /// verifiers require one of them).
    #[must_use]
    pub fn audience<I, S>(mut self, audience: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audience = audience.into_iter().map(Into::into).collect();
        self
    }

    /// Access token lifetime (default 5 minutes; whole seconds).
    #[must_use]
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh token lifetime (default 24 hours; whole seconds). Each
    /// refresh issues a refresh token with a full lifetime.
    #[must_use]
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// How long a failed refresh exchange may be retried with its token.
    ///
    /// The exchange failed after spending its token (a store error or
    /// timeout: [`RefreshError::Unavailable`], the pair never returned);
    /// default 30 seconds, counted from the spend; whole seconds;
    /// `Duration::ZERO` disables it.
    ///
    /// An exchange spends the token, issues the pair, checks the session
    /// once more and only then *confirms* the spend and returns the pair.
    /// A spend that was never confirmed (the check after it timed out, or
    /// the store applied the spend but its reply was lost) is taken over by
    /// the same token presented again within the grace: the retry gets a
    /// new pair (of the generation the lost one had) instead of being
    /// reported as reuse (which would revoke the session). A confirmed spend is never taken
    /// over: presenting the token again is reuse at once, as is presenting
    /// it after the grace, or once the next refresh token was used. The
    /// exchange taken over returns [`RefreshError::Superseded`], never its
    /// pair. With zero, any second presentation is reuse, and the
    /// confirmation (one store round trip) is skipped.
    ///
    /// What a thief of a refresh token gains from it: while an exchange of
    /// that token is unconfirmed (running, or failed) and within the grace,
    /// the same token gets a pair; the legitimate client then holds a spent
    /// token whose next presentation is reuse and revokes the session, the
    /// thief's pair with it. Stores other than the crate's may have no
    /// grace ([`Revocation::spend_refresh`]).
    #[must_use]
    pub fn refresh_retry_grace(mut self, grace: Duration) -> Self {
        self.retry_grace = grace;
        self
    }

    /// The clock for `iat`, `nbf`, `exp` (default: the system clock), also
    /// used by the default revocation list and by the authenticators from
    /// [`TokenIssuer::authenticator_builder`].
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The revocation list that spends refresh tokens and records logouts
    /// (default: a fresh [`MemoryRevocation`] on the issuer's
    /// [`clock`](Self::clock); several instances share a
    /// `RedisRevocation`).
    ///
    /// The authenticator from
    /// [`TokenIssuer::authenticator_builder`] checks the same list.
    ///
    /// A list given here keeps its own clock: entries expire at times of
    /// the issuer's clock (a token's `exp`), so give it the same one (e.g.
    /// `MemoryRevocation::new().clock(clock.clone())` with a
    /// [`FixedClock`](crate::clock::FixedClock)); a list whose clock runs ahead of
    /// the issuer's forgets revocations and spent refresh tokens early.
    /// The same holds for a `RedisRevocation`, whose TTLs are counted on
    /// its builder's `clock`.
    #[must_use]
    pub fn revocation(mut self, revocation: impl Revocation) -> Self {
        self.revocation = Some(Arc::new(revocation));
        self
    }

    /// Builds the issuer.
    ///
    /// # Errors
    /// [`ConfigError::NoKeys`] without a key; [`ConfigError::Key`] for a
    /// refused key, a private key that does not match its public key, or an
    /// algorithm the key cannot serve; [`ConfigError::InvalidLifetime`] for
    /// a zero lifetime.
    pub fn build(self) -> Result<TokenIssuer, ConfigError> {
        crypto::install_default_provider();
        let (signing, mut verify_key) = self.key.ok_or(ConfigError::NoKeys)??;
        let alg = match self.alg {
            Some(alg) => alg,
            None => match verify_key.kind() {
                KeyKind::Hmac { .. } => Algorithm::HS256,
                KeyKind::EcP256 => Algorithm::ES256,
                KeyKind::EcP384 => Algorithm::ES384,
                KeyKind::Ed25519 => Algorithm::EdDSA,
                _ => Algorithm::RS256,
            },
        };
        if !verify_key.algorithms().contains(alg) {
            return Err(KeyError::AlgorithmMismatch.into());
        }
        verify_key = verify_key.with_algorithms([alg]);
        if let Some(kid) = &self.kid {
            verify_key = verify_key.with_kid(kid.clone());
        }
        // A private key that is not the public key's other half would sign
        // tokens nobody can verify: find out now, not at the first login.
        let probe = b"tower-jwt-auth key pair probe";
        let signature = sign_raw(probe, &signing, alg).ok_or(KeyError::InvalidPem)?;
        if !crypto::verify(probe, signature, verify_key.decoding_key(), alg) {
            return Err(KeyError::KeyPairMismatch.into());
        }
        let (access_ttl, refresh_ttl) = (self.access_ttl.as_secs(), self.refresh_ttl.as_secs());
        if access_ttl == 0 || refresh_ttl == 0 {
            return Err(ConfigError::InvalidLifetime);
        }
        let clock = self.clock;
        // One clock for the issuer, its default list and its authenticators:
        // entries expire at times of the issuer's clock (a token's `exp`).
        let revocation = self.revocation.unwrap_or_else(|| {
            Arc::new(MemoryRevocation::new().clock(SharedClock(Arc::clone(&clock))))
        });
        let mut refresh = Authenticator::builder()
            .key(verify_key.clone())
            .typ(REFRESH_TOKEN_TYPE)
            .require_claim("jti")
            .require_claim("sub")
            .require_claim("sid")
            .clock(SharedClock(Arc::clone(&clock)));
        if let Some(iss) = &self.issuer {
            refresh = refresh.issuer([iss.clone()]);
        }
        if !self.audience.is_empty() {
            refresh = refresh.audience(self.audience.clone());
        }
        let refresh_verifier = refresh.build()?.verifier().clone();
        Ok(TokenIssuer {
            inner: Arc::new(IssuerInner {
                signing,
                alg,
                kid: self.kid,
                verify_key,
                issuer: self.issuer,
                audience: self.audience,
                access_ttl,
                refresh_ttl,
                retry_grace: self.retry_grace.as_secs(),
                clock,
                revocation,
                refresh_verifier,
            }),
        })
    }
}

/// Signs `message` with the crate's own provider (no process default
/// needed, so no panic when both backend features are on).
fn sign_raw(message: &[u8], key: &EncodingKey, alg: Algorithm) -> Option<Vec<u8>> {
    let signer = (crypto::provider().signer_factory)(&alg, key).ok()?;
    signer.try_sign(message).ok()
}

fn random_id() -> Result<String, IssueError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| IssueError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl TokenIssuer {
    /// A builder with no key yet, 5 minute access and 24 hour refresh
    /// tokens, a 30 second refresh retry grace, the system clock and an
    /// in-memory revocation list.
    #[must_use]
    pub fn builder() -> TokenIssuerBuilder {
        TokenIssuerBuilder {
            key: None,
            alg: None,
            kid: None,
            issuer: None,
            audience: Vec::new(),
            access_ttl: Duration::from_secs(300),
            refresh_ttl: Duration::from_secs(86_400),
            retry_grace: DEFAULT_RETRY_GRACE,
            clock: Arc::new(SystemClock),
            revocation: None,
        }
    }

    /// An authenticator builder that accepts exactly this issuer's access
    /// tokens: its verifying key (with `kid` and algorithm), `iss` and `aud`
    /// when set, `typ` `at+jwt` (so refresh tokens are refused), `jti`,
    /// `sub` and `sid` required, the same clock, and this issuer's
    /// revocation list.
    ///
    /// Add rules or switch the claims type before
    /// `build()`.
    #[must_use]
    pub fn authenticator_builder(&self) -> AuthenticatorBuilder<Value> {
        let i = &*self.inner;
        let mut b = Authenticator::builder()
            .key(i.verify_key.clone())
            .typ(ACCESS_TOKEN_TYPE)
            .require_claim("jti")
            .require_claim("sub")
            .require_claim("sid")
            .clock(SharedClock(Arc::clone(&i.clock)))
            .revocation_shared(Arc::clone(&i.revocation));
        if let Some(iss) = &i.issuer {
            b = b.issuer([iss.clone()]);
        }
        if !i.audience.is_empty() {
            b = b.audience(i.audience.clone());
        }
        b
    }

    /// The key verifiers need (the public key, or the HMAC secret), with
    /// this issuer's `kid` and algorithm.
    #[must_use]
    pub fn verification_key(&self) -> &Key {
        &self.inner.verify_key
    }

    /// The revocation list this issuer spends refresh tokens in.
    #[must_use]
    pub fn revocation(&self) -> &Arc<dyn Revocation> {
        &self.inner.revocation
    }

    /// The access token lifetime, in seconds.
    #[must_use]
    pub fn access_ttl(&self) -> u64 {
        self.inner.access_ttl
    }

    /// The refresh token lifetime, in seconds.
    #[must_use]
    pub fn refresh_ttl(&self) -> u64 {
        self.inner.refresh_ttl
    }

    /// Issues a pair for a new login session of `sub`, with `custom`
    /// claims (any `Serialize` type that makes a JSON object, `()` for
    /// none) in both tokens.
    ///
    /// # Errors
    /// [`IssueError`]: claims that are not an object or set a registered
    /// claim, an empty `sub`, a failing random source or signer.
    pub fn issue<T: Serialize + ?Sized>(
        &self,
        sub: &str,
        custom: &T,
    ) -> Result<TokenPair, IssueError> {
        let custom = custom_claims(custom)?;
        let sid = random_id()?;
        let now = self.inner.clock.now();
        self.pair(
            &Grant {
                sub,
                sid: &sid,
                custom: &custom,
                now,
            },
            0,
        )
    }

    /// Issues one access token (its own new session, no refresh token).
    ///
    /// # Errors
    /// As [`issue`](Self::issue).
    pub fn issue_access_token<T: Serialize + ?Sized>(
        &self,
        sub: &str,
        custom: &T,
    ) -> Result<String, IssueError> {
        let custom = custom_claims(custom)?;
        let sid = random_id()?;
        let now = self.inner.clock.now();
        let grant = Grant {
            sub,
            sid: &sid,
            custom: &custom,
            now,
        };
        self.token(ACCESS_TOKEN_TYPE, self.inner.access_ttl, &grant, None)
    }

    /// An access token and a refresh token of generation `generation`.
    fn pair(&self, grant: &Grant<'_>, generation: u64) -> Result<TokenPair, IssueError> {
        let i = &*self.inner;
        Ok(TokenPair {
            access_token: self.token(ACCESS_TOKEN_TYPE, i.access_ttl, grant, None)?,
            refresh_token: self.token(
                REFRESH_TOKEN_TYPE,
                i.refresh_ttl,
                grant,
                Some(generation),
            )?,
            token_type: "Bearer",
            expires_in: i.access_ttl,
        })
    }

    fn token(
        &self,
        typ: &str,
        ttl: u64,
        grant: &Grant<'_>,
        generation: Option<u64>,
    ) -> Result<String, IssueError> {
        let Grant {
            sub,
            sid,
            custom,
            now,
        } = *grant;
        if sub.is_empty() {
            return Err(IssueError::EmptySubject);
        }
        let i = &*self.inner;
        let mut header = Map::new();
        header.insert(
            "alg".into(),
            serde_json::to_value(i.alg).map_err(|_| IssueError::Sign)?,
        );
        header.insert("typ".into(), Value::from(typ));
        if let Some(kid) = &i.kid {
            header.insert("kid".into(), Value::from(kid.as_str()));
        }
        let mut claims = custom.clone();
        if let Some(iss) = &i.issuer {
            claims.insert("iss".into(), Value::from(iss.as_str()));
        }
        claims.insert("sub".into(), Value::from(sub));
        match i.audience.as_slice() {
            [] => {}
            [one] => {
                claims.insert("aud".into(), Value::from(one.as_str()));
            }
            many => {
                claims.insert("aud".into(), Value::from(many.to_vec()));
            }
        }
        claims.insert("iat".into(), Value::from(now));
        claims.insert("nbf".into(), Value::from(now));
        claims.insert("exp".into(), Value::from(now.saturating_add(ttl)));
        claims.insert("jti".into(), Value::from(random_id()?));
        claims.insert("sid".into(), Value::from(sid));
        if let Some(generation) = generation {
            claims.insert(GENERATION.into(), Value::from(generation));
        }
        let header = serde_json::to_vec(&header).map_err(|_| IssueError::Sign)?;
        let claims = serde_json::to_vec(&claims).map_err(|_| IssueError::Sign)?;
        let mut token = URL_SAFE_NO_PAD.encode(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = sign_raw(token.as_bytes(), &i.signing, i.alg).ok_or(IssueError::Sign)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// The refresh exchange: verifies `refresh_token` (signature, `typ`
    /// `refresh+jwt`, lifetime, `iss`/`aud`), refuses it when its session or
    /// subject was revoked, spends it (atomically: of two concurrent
    /// exchanges of one token, one wins) and issues a new pair in the same
    /// session with the same custom claims.
    ///
    /// The session and subject are
    /// checked again once the new pair's `iat` is fixed, so a logout that
    /// lands during the exchange refuses it ([`RefreshError::Revoked`])
    /// rather than letting a pair issued after its cut-off survive.
    ///
    /// A token that was already spent is reuse: the whole session is revoked
    /// (the pair issued by the first exchange included) and
    /// [`RefreshError::Reused`] returned; with the `tracing` feature a
    /// warning names the subject. Except for a retry: an exchange that
    /// failed after spending the token (its pair never returned) can be
    /// retried with the same token within
    /// [`TokenIssuerBuilder::refresh_retry_grace`] (30 s by default), and
    /// the retry gets a new pair.
    ///
    /// # Errors
    /// [`RefreshError`]; all but `Unavailable` are OAuth `invalid_grant`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let i = &*self.inner;
        let claims = i
            .refresh_verifier
            .verify(refresh_token)
            .map_err(RefreshError::Invalid)?;
        let Value::Object(claims) = claims.as_ref() else {
            return Err(RefreshError::Invalid(AuthError::new(
                crate::AuthErrorKind::InvalidClaims,
            )));
        };
        let token = TokenRef::from_claims(claims);
        let (Some(jti), Some(sid), Some(sub)) = (token.jti, token.sid, token.sub) else {
            return Err(RefreshError::Invalid(AuthError::new(
                crate::AuthErrorKind::MissingClaim,
            )));
        };
        let session = TokenRef { jti: None, ..token };
        match i.revocation.is_revoked(&session).await {
            Ok(false) => {}
            Ok(true) => return Err(RefreshError::Revoked),
            Err(e) => return Err(RefreshError::Unavailable(e)),
        }
        let exp = token.exp.unwrap_or(u64::MAX);
        // Spent: the session's generation moves past this token's (one
        // entry per session, however often it refreshes). A refresh token
        // from before generations (no such claim) is spent by its `jti`.
        let generation = claims.get(GENERATION).and_then(Value::as_u64);
        let attempt = getrandom::u64().map_err(|_| RefreshError::Issue(IssueError::Random))?;
        let spend = RefreshSpend {
            sid,
            generation: generation.unwrap_or(0),
            jti,
            attempt,
            now: i.clock.now(),
            retry_grace: i.retry_grace,
            expires_at: exp,
        };
        let spent = match generation {
            Some(_) => i.revocation.spend_refresh(&spend),
            None => i.revocation.revoke_token(jti, exp),
        };
        match spent.await {
            Ok(true) => {}
            Ok(false) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    sub,
                    "refresh token reuse detected: the session has been revoked"
                );
                let until = self.session_expiry();
                i.revocation
                    .revoke_family(sid, until)
                    .await
                    .map_err(RefreshError::Unavailable)?;
                return Err(RefreshError::Reused);
            }
            Err(e) => return Err(RefreshError::Unavailable(e)),
        }
        let custom: Map<String, Value> = claims
            .iter()
            .filter(|(k, _)| !REGISTERED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // The new pair's `iat` is read now, after the session check: a
        // logout (of the session, or of the subject everywhere) may have
        // landed in between, with a cut-off taken in an earlier second than
        // this `iat`, so that it would not revoke the new pair. Check the
        // spent token again once the `iat` is fixed: a logout before this
        // check revokes the spent token (refused here), and one after it
        // takes its cut-off at a time no earlier than the `iat`, so it
        // revokes the new pair. Issue 17, finding 6.
        let now = i.clock.now();
        let grant = Grant {
            sub,
            sid,
            custom: &custom,
            now,
        };
        let next = generation.map_or(1, |n| n.saturating_add(1));
        let pair = self.pair(&grant, next).map_err(RefreshError::Issue)?;
        match i.revocation.is_revoked(&session).await {
            Ok(false) => {}
            Ok(true) => return Err(RefreshError::Revoked),
            Err(e) => return Err(RefreshError::Unavailable(e)),
        }
        // Until here the spend is unconfirmed: an exchange that failed
        // above (its pair never returned) can be retried with the same
        // token within the grace. Confirming ends that: from now on the
        // token presented again is reuse. Issue 24, finding 6.
        if generation.is_none() || i.retry_grace == 0 {
            return Ok(pair);
        }
        match i.revocation.confirm_refresh(&spend).await {
            Ok(true) => Ok(pair),
            // A retry of the same token took the spend over while this
            // exchange ran: the retry's pair stands, not this one.
            Ok(false) => Err(RefreshError::Superseded),
            // The pair passed every check. Unconfirmed, the spend can
            // still be taken over within the grace by the same token (a
            // pair for it, and the next rotation of either reports reuse);
            // refusing here instead would turn a lost reply to the
            // confirmation into a logout at the client's retry.
            Err(_e) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    sub,
                    error = %_e,
                    "refresh spend not confirmed (store error): the pair is returned"
                );
                Ok(pair)
            }
        }
    }

    /// Checks a refresh token (signature, `typ` `refresh+jwt`, lifetime,
    /// `iss`/`aud`, `jti`/`sub`/`sid` present) without consulting the
    /// revocation list or spending it: e.g. to find which session a logout
    /// request's refresh token belongs to.
    ///
    /// # Errors
    /// The [`AuthError`] of the first check that failed.
    pub fn verify_refresh_token(&self, refresh_token: &str) -> Result<Claims<Value>, AuthError> {
        self.inner.refresh_verifier.verify(refresh_token)
    }

    /// Logout: revokes every token of the session `sid` (the access token's
    /// and all refresh tokens descended from the same login), on every
    /// instance sharing the revocation list, until the longest-lived of
    /// them (access or refresh token) has expired.
    ///
    /// # Errors
    /// [`RevocationError`] when the list cannot record it.
    pub async fn revoke_session(&self, sid: &str) -> Result<(), RevocationError> {
        self.inner
            .revocation
            .revoke_family(sid, self.session_expiry())
            .await
    }

    /// The latest `exp` a token issued until now can have: the entry that
    /// revokes a session or a subject must live until then (the store adds
    /// its grace for the verifier's leeway), whichever of the access and
    /// refresh tokens lives longer.
    fn session_expiry(&self) -> u64 {
        let i = &*self.inner;
        i.clock
            .now()
            .saturating_add(i.refresh_ttl.max(i.access_ttl))
    }

    /// Logout everywhere: revokes every token of `sub` issued until now (in
    /// this second included).
    ///
    /// # Errors
    /// [`RevocationError`] when the list cannot record it.
    pub async fn revoke_subject(&self, sub: &str) -> Result<(), RevocationError> {
        let now = self.inner.clock.now();
        self.inner
            .revocation
            .revoke_subject(sub, now.saturating_add(1), self.session_expiry())
            .await
    }
}

fn custom_claims<T: Serialize + ?Sized>(custom: &T) -> Result<Map<String, Value>, IssueError> {
    let map = match serde_json::to_value(custom) {
        Ok(Value::Object(map)) => map,
        Ok(Value::Null) => Map::new(),
        _ => return Err(IssueError::ClaimsNotAnObject),
    };
    if let Some(name) = REGISTERED.iter().find(|n| map.contains_key(**n)) {
        return Err(IssueError::ReservedClaim(name));
    }
    Ok(map)
}

/// What the tokens of one pair share: subject, session, custom claims and
/// issue time.
#[derive(Clone, Copy)]
struct Grant<'a> {
    sub: &'a str,
    sid: &'a str,
    custom: &'a Map<String, Value>,
    now: u64,
}

/// A clock shared with the authenticators the issuer configures.
struct SharedClock(Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> u64 {
        self.0.now()
    }
}
