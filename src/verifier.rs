//! The core: [`Verifier`] turns a token into [`Claims`] or an [`AuthError`].
//! It knows nothing of tower; tonic interceptors, tests and other frameworks
//! call it directly.
//!
//! Order of checks (cheapest and most telling first; no crypto runs on a
//! token whose header is already unacceptable):
//! 1. size limit, then exactly three base64url segments (five = JWE);
//! 2. header: a JSON object without duplicate members; `enc` (JWE), `crit`,
//!    `b64: false` and `zip` rejected; `alg` allowed by the allow-list (never
//!    `none`, in any spelling); `typ` when configured;
//! 3. key selection by `kid` and `alg` ([`KeySet`]);
//! 4. signature, with the key's own provider verifier;
//! 5. claims: a JSON object without duplicate members, registered claims
//!    checked ([`rules`](crate::rules)), the route's scopes and roles
//!    ([`policy`](crate::policy)), then deserialized into `C` from the
//!    payload bytes (so typed claims see numbers exactly as sent; see
//!    [`RawClaims`](crate::claims::RawClaims) for the untouched JSON).
//!
//! With the [`cache`](crate::cache) on (the default), a token this verifier
//! verified before skips steps 1–4 and the parsing of step 5: its key is
//! selected again from the current key set and must be the one that
//! verified it, and every check of step 5 runs again on the stored claims,
//! DPoP binding and revocation included.
//!
//! A verifier made by [`Authenticator::by_issuer`](crate::Authenticator::by_issuer)
//! first reads the token's *unverified* `iss` only to pick which issuer's
//! verifier runs; that verifier's keys and rules then decide, so a token
//! signed by one issuer's key and claiming another issuer fails its
//! signature check.
//!
//! `jku`, `x5u`, `jwk` and `x5c` headers are ignored: keys come only from
//! configuration, never from the token (RFC 8725 §3.10).

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::cache::{CacheStats, CachedToken, TokenCache};
use crate::claims::Claims;
use crate::crypto;
use crate::dpop::{self, Dpop};
use crate::error::{AuthError, AuthErrorKind};
use crate::keys::{AlgorithmSet, Key, KeyId, KeySet, KeyStore};
use crate::observe;
use crate::revocation::{Revocation, RevocationError, TokenRef};
use crate::rules::Rules;

pub use crate::policy::RouteRules;

mod header;
use header::Header;

pub(crate) struct VerifierInner {
    pub(crate) keys: KeyStore,
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) rules: Rules,
    pub(crate) max_token_len: usize,
    pub(crate) realm: Option<Arc<str>>,
    pub(crate) revocation: Option<Arc<dyn Revocation>>,
    pub(crate) dpop: Option<Dpop>,
    /// Tokens this verifier accepted before ([`cache`](crate::cache)).
    pub(crate) cache: Option<TokenCache>,
}

/// Turns a verified payload into `C`: the payload bytes and the same
/// payload already parsed (and checked) as a JSON object, which a decoder
/// may take (leaving `None`) instead of parsing the bytes again; one that
/// does not leaves it for the cache, so it is never cloned.
pub(crate) type Decode<C> = fn(&[u8], &mut Option<Map<String, Value>>) -> Option<C>;

/// `C` deserialized from the payload bytes, so numbers reach it as sent.
pub(crate) fn decode_json<C: DeserializeOwned>(
    bytes: &[u8],
    _: &mut Option<Map<String, Value>>,
) -> Option<C> {
    serde_json::from_slice(bytes).ok()
}

/// The default claims type: the object already parsed, no second parse.
pub(crate) fn decode_value(_: &[u8], map: &mut Option<Map<String, Value>>) -> Option<Value> {
    map.take().map(Value::Object)
}

/// A verified payload: its bytes, the checked claims object, the verifier
/// whose rules applied, and what the cache needs to select the key again.
struct Verified<'v> {
    bytes: Vec<u8>,
    claims: Map<String, Value>,
    inner: &'v VerifierInner,
    signed: Signed,
    /// The clock second the claims were checked at.
    now: u64,
}

/// The header and key facts of a verified signature.
struct Signed {
    alg: Algorithm,
    /// The header's `kid`, copied only when a cache will store it.
    kid: Option<String>,
    key_id: KeyId,
}

/// Issuer → that issuer's verifier, for [`Authenticator::by_issuer`](crate::Authenticator::by_issuer).
pub(crate) type IssuerTable = HashMap<String, Arc<VerifierInner>>;

/// Verifies tokens against keys and rules; cheap to clone (an `Arc`).
///
/// Built by [`Authenticator::builder`](crate::Authenticator::builder).
pub struct Verifier<C = Value> {
    pub(crate) inner: Arc<VerifierInner>,
    /// Set for a verifier over several issuers; `inner` is then the first
    /// issuer's, used only for settings such as the realm.
    pub(crate) issuers: Option<Arc<IssuerTable>>,
    decode: Decode<C>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> Clone for Verifier<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            issuers: self.issuers.clone(),
            decode: self.decode,
            _claims: PhantomData,
        }
    }
}

impl fmt::Debug for VerifierInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierInner")
            .field("keys", &self.keys)
            .field("algorithms", &self.algorithms)
            .field("rules", &self.rules)
            .field("max_token_len", &self.max_token_len)
            .field("revocation", &self.revocation)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl<C> fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Verifier");
        d.field("claims", &std::any::type_name::<C>());
        match &self.issuers {
            None => d
                .field("keys", &self.inner.keys)
                .field("algorithms", &self.inner.algorithms)
                .field("rules", &self.inner.rules)
                .field("max_token_len", &self.inner.max_token_len)
                .field("revocation", &self.inner.revocation),
            Some(table) => d.field("issuers", table),
        };
        d.finish()
    }
}

impl<C> Verifier<C> {
    pub(crate) fn from_inner(inner: Arc<VerifierInner>, decode: Decode<C>) -> Self {
        Self {
            inner,
            issuers: None,
            decode,
            _claims: PhantomData,
        }
    }

    /// A verifier that picks among `table` by the token's `iss`.
    pub(crate) fn by_issuer(
        first: Arc<VerifierInner>,
        table: IssuerTable,
        decode: Decode<C>,
    ) -> Self {
        Self {
            inner: first,
            issuers: Some(Arc::new(table)),
            decode,
            _claims: PhantomData,
        }
    }

    pub(crate) fn decode(&self) -> Decode<C> {
        self.decode
    }

    /// The upper bound on a token's size, in bytes (the largest of the
    /// issuers' for a verifier over several issuers; each issuer's own
    /// bound still applies to its tokens).
    #[must_use]
    pub fn max_token_len(&self) -> usize {
        match &self.issuers {
            None => self.inner.max_token_len,
            Some(table) => table.values().map(|v| v.max_token_len).max().unwrap_or(0),
        }
    }

    /// The `realm` of the `WWW-Authenticate` challenges, if configured.
    #[must_use]
    pub fn realm(&self) -> Option<&str> {
        self.inner.realm.as_deref()
    }

    pub(crate) fn realm_arc(&self) -> Option<Arc<str>> {
        self.inner.realm.clone()
    }

    pub(crate) fn dpop(&self) -> Option<&Dpop> {
        self.inner.dpop.as_ref()
    }

    /// The algorithms a token may use (the allow-list intersected with what
    /// the keys can verify; for several issuers, the union of theirs).
    #[must_use]
    pub fn algorithms(&self) -> AlgorithmSet {
        match &self.issuers {
            None => self.inner.algorithms,
            Some(table) => table.values().flat_map(|v| v.algorithms.iter()).collect(),
        }
    }

    /// Verifies `token` with the authenticator's rules. It never waits: a
    /// token whose `kid` is not (yet) in a remote key set is rejected now
    /// (and starts a refetch, within the cooldown, for the next request);
    /// [`verify_async`](Self::verify_async) waits for that refetch instead.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed.
    pub fn verify(&self, token: &str) -> Result<Claims<C>, AuthError>
    where
        C: Send + Sync + 'static,
    {
        self.verify_for(token, &RouteRules::default())
    }

    /// Verifies `token` with the authenticator's rules plus `route`'s
    /// scopes, roles and audience; never waits (see [`verify`](Self::verify)).
    ///
    /// With a revocation list that must be asked over the network (Redis)
    /// and has no answer at hand (its local cache), this path cannot wait
    /// and fails with [`AuthErrorKind::RevocationUnavailable`]: use
    /// [`verify_for_async`](Self::verify_for_async) there.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed.
    pub fn verify_for(&self, token: &str, route: &RouteRules) -> Result<Claims<C>, AuthError>
    where
        C: Send + Sync + 'static,
    {
        let result = self.verify_now(token, route);
        if result.as_ref().is_err_and(may_need_refetch) {
            // Nobody waits for it here; the next request finds the keys.
            drop(self.refetch(token));
        }
        result
    }

    /// Verifies `token` with the authenticator's rules; when its `kid` is not
    /// in a remote key set, waits (at most the fetch timeout) for the one
    /// refetch that all concurrent requests share, then verifies again. A
    /// known `kid` never waits on the network.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed.
    pub async fn verify_async(&self, token: &str) -> Result<Claims<C>, AuthError>
    where
        C: Send + Sync + 'static,
    {
        self.verify_for_async(token, &RouteRules::default()).await
    }

    /// [`verify_async`](Self::verify_async) with `route`'s rules too. Also
    /// waits for a revocation list that must be asked over the network.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed.
    pub async fn verify_for_async(
        &self,
        token: &str,
        route: &RouteRules,
    ) -> Result<Claims<C>, AuthError>
    where
        C: Send + Sync + 'static,
    {
        let mut result = self.verify_steps(token, route, None);
        if result.as_ref().is_err_and(may_need_refetch) {
            if let Some(wait) = self.refetch(token) {
                wait.await;
                result = self.verify_steps(token, route, None);
            }
        }
        match result? {
            Step::Done(claims) => Ok(claims),
            Step::Revocation(pending) => pending.finish().await,
        }
    }

    /// A refetch of the keys of the verifier that handles `token`, to wait
    /// for (see [`KeyStore::refetch`]).
    fn refetch(&self, token: &str) -> Option<crate::keys::RefetchWait> {
        self.pick(token).ok()?.keys.refetch()
    }

    /// The whole verification against the keys held now, without waiting:
    /// a revocation check that must ask the network fails closed. For a
    /// bearer request: a token bound to a DPoP key (`cnf.jkt`) is refused.
    fn verify_now(&self, token: &str, route: &RouteRules) -> Result<Claims<C>, AuthError>
    where
        C: Send + Sync + 'static,
    {
        match self.verify_steps(token, route, None)? {
            Step::Done(claims) => Ok(claims),
            Step::Revocation(_) => Err(AuthErrorKind::RevocationUnavailable.into()),
        }
    }

    /// Every check against the keys held now; a revocation check that must
    /// ask the network is handed back instead of waited for. Revocation
    /// runs after the signature and claims checks (and after any cache of
    /// them), on every call. The token's `cnf.jkt` must be `jkt`, or absent
    /// for `None` (a bearer request).
    fn verify_steps(
        &self,
        token: &str,
        route: &RouteRules,
        jkt: Option<&str>,
    ) -> Result<Step<C>, AuthError>
    where
        C: Send + Sync + 'static,
    {
        // One span (feature `tracing`) and one timing (feature `metrics`)
        // per verification.
        let observed = observe::Verification::start();
        let result = observed.in_scope(|| self.verify_steps_unobserved(token, route, jkt));
        observed.finish(match &result {
            Ok(step) => Ok(matches!(step, Step::Done(_))),
            Err(e) => Err(e),
        });
        result
    }

    fn verify_steps_unobserved(
        &self,
        token: &str,
        route: &RouteRules,
        jkt: Option<&str>,
    ) -> Result<Step<C>, AuthError>
    where
        C: Send + Sync + 'static,
    {
        if let Some((inner, hit, now)) = self.cached(token) {
            if let Some(step) = recheck(inner, token, hit, now, route, jkt) {
                return step;
            }
        }
        let Verified {
            bytes,
            claims,
            inner,
            signed,
            now,
        } = self.verify_claims(token, route)?;
        dpop::check_binding(&claims, jkt)?;
        route.check(&inner.rules, &claims)?;
        if let Some(revocation) = &inner.revocation {
            match revocation.is_revoked_now(&TokenRef::from_claims(&claims)) {
                Some(answer) => revocation_verdict(answer)?,
                None => {
                    // Not cached until a revocation list has answered: the
                    // next request finds the answer at hand, and is cached.
                    return Ok(Step::Revocation(PendingRevocation {
                        revocation: Arc::clone(revocation),
                        claims: PendingClaims::Parsed {
                            bytes,
                            claims,
                            decode: self.decode,
                        },
                    }));
                }
            }
        }
        let invalid = || AuthError::new(AuthErrorKind::InvalidClaims);
        let Some(cache) = &inner.cache else {
            let claims = (self.decode)(&bytes, &mut Some(claims)).ok_or_else(invalid)?;
            return Ok(Step::Done(Claims::new(claims)));
        };
        // Checked by the rules: a number in range, or absent.
        let exp = claims.get("exp").and_then(Value::as_f64);
        // The claims object stays for the cache's re-checks; for the default
        // claims type it *is* the typed claims: one allocation, no clone.
        let mut map = Some(claims);
        let typed: Arc<dyn Any + Send + Sync> =
            Arc::new((self.decode)(&bytes, &mut map).ok_or_else(invalid)?);
        let value = match map {
            Some(map) => Arc::new(Value::Object(map)),
            None => Arc::clone(&typed)
                .downcast::<Value>()
                .map_err(|_| invalid())?,
        };
        let claims = Arc::clone(&typed).downcast::<C>().map_err(|_| invalid())?;
        let entry = CachedToken::new(
            value,
            typed,
            signed.kid.as_deref(),
            signed.alg,
            signed.key_id,
        );
        cache.insert(token, entry, now, exp);
        Ok(Step::Done(Claims(claims)))
    }

    /// The cache entry for `token`, the verifier that stored it, and the
    /// clock second of the lookup (the hit's checks run at that second: the
    /// clock is read once per request). With several issuers, each issuer's
    /// cache is asked: a few lookups, where picking the issuer first would
    /// cost a payload parse on every hit.
    fn cached(&self, token: &str) -> Option<(&VerifierInner, Arc<CachedToken>, u64)> {
        let lookup = |inner: &VerifierInner| {
            // No cached token is larger: don't hash a huge one to find out.
            if token.len() > inner.max_token_len {
                return None;
            }
            let cache = inner.cache.as_ref()?;
            let now = inner.rules.clock.now();
            cache.get(token, now).map(|hit| (hit, now))
        };
        match &self.issuers {
            None => lookup(&self.inner).map(|(hit, now)| (&*self.inner, hit, now)),
            Some(table) => table
                .values()
                .find_map(|inner| lookup(inner).map(|(hit, now)| (&**inner, hit, now))),
        }
    }

    /// The size of the verified-token [`cache`](crate::cache) (for several
    /// issuers, of all their caches together), or `None` when it is off.
    #[must_use]
    pub fn cache_stats(&self) -> Option<CacheStats> {
        let stats = |inner: &VerifierInner| inner.cache.as_ref().map(TokenCache::stats);
        let Some(table) = &self.issuers else {
            return stats(&self.inner);
        };
        let mut seen: Vec<*const VerifierInner> = Vec::new();
        let mut total: Option<CacheStats> = None;
        for inner in table.values() {
            if seen.contains(&Arc::as_ptr(inner)) {
                continue;
            }
            seen.push(Arc::as_ptr(inner));
            if let Some(s) = stats(inner) {
                let t = total.get_or_insert_with(CacheStats::default);
                t.entries += s.entries;
                t.capacity += s.capacity;
            }
        }
        total
    }

    /// The verifier that handles `token`: this one, or for a verifier over
    /// several issuers, the one of the token's `iss`. That `iss` is read
    /// unverified, only to choose: the chosen verifier's keys and rules
    /// then check the token as usual.
    fn pick(&self, token: &str) -> Result<&VerifierInner, AuthError> {
        let Some(table) = &self.issuers else {
            return Ok(&self.inner);
        };
        if token.len() > self.max_token_len() {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let mut parts = token.split('.');
        let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(p), Some(_), None) => p,
            _ if token.split('.').count() == 5 => return Err(AuthErrorKind::Encrypted.into()),
            _ => return Err(AuthErrorKind::MalformedToken.into()),
        };
        // Only `iss` is read here (the other members are skipped, not
        // built); the chosen verifier parses and checks the whole payload.
        let bytes = decode_segment(payload)?;
        let only: IssOnly = serde_json::from_slice(&bytes)
            .map_err(|_| AuthError::new(AuthErrorKind::MalformedToken))?;
        let iss = match only.iss {
            Some(Value::String(iss)) => iss,
            None | Some(Value::Null) => {
                return Err(AuthError::claim(AuthErrorKind::MissingClaim, "iss"))
            }
            Some(_) => return Err(AuthError::claim(AuthErrorKind::InvalidClaim, "iss")),
        };
        table
            .get(iss.as_str())
            .map(|inner| &**inner)
            .ok_or_else(|| AuthError::claim(AuthErrorKind::InvalidIssuer, "iss"))
    }

    /// Verifies only the JWS: size, shape, header rules, key selection and
    /// signature (steps 1–4 of the module docs), and returns the decoded
    /// payload bytes. No claim is checked: this is for conformance tests and
    /// JWS payloads that are not JWT claims sets, never for authentication.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed.
    pub fn verify_jws(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        let inner = self.pick(token)?;
        let keys = inner.keys.load();
        let (payload_b64, _, _) = verify_signature(inner, &keys, token)?;
        URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| AuthErrorKind::MalformedToken.into())
    }

    /// Steps 1–5 up to the route's scopes and roles: the payload bytes, the
    /// checked claims object and the verifier whose rules applied.
    fn verify_claims(&self, token: &str, route: &RouteRules) -> Result<Verified<'_>, AuthError> {
        let inner = self.pick(token)?;
        let keys = inner.keys.load();
        let (payload_b64, key, signed) = verify_signature(inner, &keys, token)?;
        let bytes = decode_segment(payload_b64)?;
        let claims = parse_object(&bytes)?;
        observe::issuer(claims.get("iss").and_then(Value::as_str));
        let now = inner.rules.clock.now();
        check_claims(inner, &claims, key, route, now)?;
        Ok(Verified {
            bytes,
            claims,
            inner,
            signed,
            now,
        })
    }
}

/// The checks of step 5 that [`RouteRules::check`] does not make: the
/// registered claims (with the route's audience) and the key's issuer.
/// They run on every request, cache hit or miss.
fn check_claims(
    inner: &VerifierInner,
    claims: &Map<String, Value>,
    key: &Key,
    route: &RouteRules,
    now: u64,
) -> Result<(), AuthError> {
    inner
        .rules
        .check_at(claims, route.audiences.as_ref(), now)?;
    // A key bound to an issuer speaks only for that issuer: another
    // issuer's key cannot mint tokens in its name.
    if let Some(bound) = key.issuer() {
        if claims.get("iss").and_then(Value::as_str) != Some(bound) {
            return Err(AuthError::claim(AuthErrorKind::InvalidIssuer, "iss"));
        }
    }
    Ok(())
}

/// A cache hit: everything that does not depend on the token's bytes runs
/// again, in the order of a miss (the time and claim rules, the key's
/// issuer, the DPoP binding, the route's rules, revocation). `None`: the
/// entry no longer stands (its key left the key set, now names other
/// material, or is too stale to use) and the token must be verified afresh.
fn recheck<C: Send + Sync + 'static>(
    inner: &VerifierInner,
    token: &str,
    hit: Arc<CachedToken>,
    now: u64,
    route: &RouteRules,
    jkt: Option<&str>,
) -> Option<Result<Step<C>, AuthError>> {
    let cache = inner.cache.as_ref()?;
    observe::header(hit.alg, hit.kid.as_deref());
    let keys = inner.keys.load();
    let key = match keys.select(hit.kid.as_deref(), hit.alg) {
        Ok(key)
            if key.id() == hit.key_id
                && inner.keys.usable(key)
                && inner.algorithms.contains(hit.alg) =>
        {
            key
        }
        _ => {
            cache.remove(token, &hit);
            return None;
        }
    };
    let (Some(claims), Some(typed)) = (hit.claims(), hit.typed::<C>()) else {
        cache.remove(token, &hit);
        return None;
    };
    observe::issuer(claims.get("iss").and_then(Value::as_str));
    let checked = check_claims(inner, claims, key, route, now)
        .and_then(|()| dpop::check_binding(claims, jkt))
        .and_then(|()| route.check(&inner.rules, claims));
    if let Err(e) = checked {
        return Some(Err(e));
    }
    if let Some(revocation) = &inner.revocation {
        match revocation.is_revoked_now(&TokenRef::from_claims(claims)) {
            Some(answer) => {
                if let Err(e) = revocation_verdict(answer) {
                    return Some(Err(e));
                }
            }
            None => {
                return Some(Ok(Step::Revocation(PendingRevocation {
                    revocation: Arc::clone(revocation),
                    claims: PendingClaims::Cached {
                        claims: Claims(typed),
                        entry: hit,
                    },
                })))
            }
        }
    }
    Some(Ok(Step::Done(Claims(typed))))
}

/// Steps 1–4 with `inner`'s rules and `keys` (loaded from `inner`); returns
/// the (still encoded) payload segment, the key that verified it, and the
/// facts the cache needs to select that key again.
fn verify_signature<'t, 'k>(
    inner: &VerifierInner,
    keys: &'k KeySet,
    token: &'t str,
) -> Result<(&'t str, &'k Key, Signed), AuthError> {
    if token.len() > inner.max_token_len {
        return Err(AuthErrorKind::TokenTooLarge.into());
    }
    let mut parts = token.split('.');
    let (header_b64, payload_b64, signature_b64) =
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s), None) => (h, p, s),
            // RFC 7516 §7.1: a JWE compact serialization has five parts.
            _ if token.split('.').count() == 5 => return Err(AuthErrorKind::Encrypted.into()),
            _ => return Err(AuthErrorKind::MalformedToken.into()),
        };

    let header_bytes = decode_segment(header_b64)?;
    let header = Header::parse(&header_bytes)?;
    let alg = header.alg;
    observe::header(alg, header.kid.as_deref());
    if !inner.algorithms.contains(alg) {
        return Err(AuthErrorKind::DisallowedAlgorithm.into());
    }
    inner.rules.check_typ(header.typ.as_deref())?;
    let key = match keys.select(header.kid.as_deref(), alg) {
        Ok(key) if inner.keys.usable(key) => key,
        // A remote key past its source's maximum stale age: fail closed.
        Ok(_) => return Err(AuthErrorKind::KeySourceUnavailable.into()),
        // No key, and a remote source that cannot vouch for that.
        Err(AuthErrorKind::UnknownKey) if inner.keys.unavailable() => {
            return Err(AuthErrorKind::KeySourceUnavailable.into())
        }
        Err(e) => return Err(e.into()),
    };

    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| AuthErrorKind::InvalidSignature)?;
    let message = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !crypto::verify(message.as_bytes(), signature, key.decoding_key(), alg) {
        return Err(AuthErrorKind::InvalidSignature.into());
    }
    let signed = Signed {
        alg,
        // Only a cache entry keeps the `kid`: no copy without a cache.
        kid: inner.cache.as_ref().and(header.kid).map(Cow::into_owned),
        key_id: key.id(),
    };
    Ok((payload_b64, key, signed))
}

impl<C: Send + Sync + 'static> Verifier<C> {
    /// The layer's entry point: the result when it is known now (always, for
    /// a known `kid`), or a future when verification must wait (a refetch of
    /// a remote key set for an unknown `kid`). Other asynchronous checks
    /// join here by returning [`Verification::Pending`].
    pub(crate) fn verify_request(&self, token: &str, route: &Arc<RouteRules>) -> Verification<C> {
        self.verify_request_bound(token, route, None)
    }

    /// [`verify_request`](Self::verify_request); the token's `cnf.jkt`
    /// must be `jkt` (a DPoP request, RFC 9449 §7.1) or absent (`None`, a
    /// bearer request).
    pub(crate) fn verify_request_bound(
        &self,
        token: &str,
        route: &Arc<RouteRules>,
        jkt: Option<&str>,
    ) -> Verification<C> {
        match self.verify_steps(token, route, jkt) {
            Ok(Step::Done(claims)) => Verification::Ready(Ok(claims)),
            Ok(Step::Revocation(pending)) => {
                Verification::Pending(PendingVerification::new(pending.finish()))
            }
            Err(e) if may_need_refetch(&e) => match self.refetch(token) {
                Some(wait) => {
                    let verifier = self.clone();
                    let token = token.to_owned();
                    let route = Arc::clone(route);
                    let jkt = jkt.map(str::to_owned);
                    Verification::Pending(PendingVerification::new(async move {
                        wait.await;
                        match verifier.verify_steps(&token, &route, jkt.as_deref())? {
                            Step::Done(claims) => Ok(claims),
                            Step::Revocation(pending) => pending.finish().await,
                        }
                    }))
                }
                None => Verification::Ready(Err(e)),
            },
            Err(e) => Verification::Ready(Err(e)),
        }
    }
}

/// The outcome of [`Verifier::verify_steps`].
enum Step<C> {
    /// Verified, revocation included.
    Done(Claims<C>),
    /// Verified up to the revocation check, which must ask the network.
    Revocation(PendingRevocation<C>),
}

/// A verified token whose revocation check must ask the network; it owns
/// what it needs, so its future is `'static`.
struct PendingRevocation<C> {
    revocation: Arc<dyn Revocation>,
    claims: PendingClaims<C>,
}

/// The claims of a [`PendingRevocation`]: just verified, or from the cache.
enum PendingClaims<C> {
    Parsed {
        bytes: Vec<u8>,
        claims: Map<String, Value>,
        decode: Decode<C>,
    },
    Cached {
        entry: Arc<CachedToken>,
        claims: Claims<C>,
    },
}

impl<C> PendingRevocation<C> {
    /// Asks the revocation list, then decodes the claims.
    async fn finish(self) -> Result<Claims<C>, AuthError> {
        let invalid = || AuthError::new(AuthErrorKind::InvalidClaims);
        let map = match &self.claims {
            PendingClaims::Parsed { claims, .. } => claims,
            PendingClaims::Cached { entry, .. } => entry.claims().ok_or_else(invalid)?,
        };
        let answer = self
            .revocation
            .is_revoked(&TokenRef::from_claims(map))
            .await;
        revocation_verdict(answer)?;
        match self.claims {
            PendingClaims::Parsed {
                bytes,
                claims,
                decode,
            } => decode(&bytes, &mut Some(claims))
                .map(Claims::new)
                .ok_or_else(invalid),
            PendingClaims::Cached { claims, .. } => Ok(claims),
        }
    }
}

/// A revocation list's answer as a verification outcome: revoked is 401,
/// a list that cannot answer is 503 (fail closed).
fn revocation_verdict(answer: Result<bool, RevocationError>) -> Result<(), AuthError> {
    match answer {
        Ok(false) => Ok(()),
        Ok(true) => Err(AuthErrorKind::Revoked.into()),
        Err(_e) => {
            #[cfg(feature = "tracing")]
            tracing::warn!(error = %_e, "revocation list unavailable: request refused");
            Err(AuthErrorKind::RevocationUnavailable.into())
        }
    }
}

/// Whether a refetch of the keys could change this outcome.
fn may_need_refetch(e: &AuthError) -> bool {
    matches!(
        e.kind(),
        AuthErrorKind::UnknownKey | AuthErrorKind::KeySourceUnavailable
    )
}

/// The outcome of [`Verifier::verify_request`].
pub(crate) enum Verification<C> {
    /// Known now, without waiting.
    Ready(Result<Claims<C>, AuthError>),
    /// Known once the future completes.
    Pending(PendingVerification<C>),
}

/// A verification that waits on I/O (boxed: this path is rare and already
/// waits on the network; the ready path allocates nothing).
pub(crate) struct PendingVerification<C>(
    Pin<Box<dyn Future<Output = Result<Claims<C>, AuthError>> + Send + 'static>>,
);

impl<C> PendingVerification<C> {
    pub(crate) fn new(
        future: impl Future<Output = Result<Claims<C>, AuthError>> + Send + 'static,
    ) -> Self {
        Self(Box::pin(future))
    }
}

impl<C> Future for PendingVerification<C> {
    type Output = Result<Claims<C>, AuthError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

/// The one member [`Verifier::pick`] reads before verification. A payload
/// that is not an object, or names `iss` twice, fails to deserialize.
#[derive(Deserialize)]
struct IssOnly {
    iss: Option<Value>,
}

/// base64url (no padding, canonical) → a JSON object with unique member
/// names at every depth.
pub(crate) fn decode_object(segment: &str) -> Result<Map<String, Value>, AuthError> {
    parse_object(&decode_segment(segment)?)
}

fn decode_segment(segment: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| AuthErrorKind::MalformedToken.into())
}

/// JSON bytes → an object with unique member names at every depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, AuthError> {
    match serde_json::from_slice::<Unique>(bytes) {
        Ok(Unique(Value::Object(map))) => Ok(map),
        _ => Err(AuthErrorKind::MalformedToken.into()),
    }
}

/// A JSON value whose objects have unique member names, at every depth:
/// RFC 7515 §5.2 and RFC 7519 §4 allow "reject" or "last one wins"; two
/// parsers that pick differently (`{"roles":["user"],"roles":["admin"]}`)
/// are an attack, so we reject. serde_json's recursion limit still applies.
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Unique, E> {
        Ok(Unique(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Unique, E> {
        Ok(Unique(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Unique, E> {
        Ok(Unique(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Unique(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Unique, A::Error> {
        let mut map = Map::new();
        while let Some(k) = access.next_key::<String>()? {
            if map.contains_key(&k) {
                return Err(serde::de::Error::custom("duplicate member name"));
            }
            let Unique(v) = access.next_value()?;
            map.insert(k, v);
        }
        Ok(Unique(Value::Object(map)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn duplicate_member_names_are_malformed() {
        assert!(decode_object(&b64(r#"{"a":1,"b":2}"#)).is_ok());
        assert_eq!(
            decode_object(&b64(r#"{"a":1,"a":2}"#)).unwrap_err().kind(),
            AuthErrorKind::MalformedToken
        );
    }

    #[test]
    fn nested_duplicate_member_names_are_malformed() {
        let dup = r#"{"exp":1,"realm_access":{"roles":["user"],"roles":["admin"]}}"#;
        assert_eq!(
            decode_object(&b64(dup)).unwrap_err().kind(),
            AuthErrorKind::MalformedToken
        );
        let deep = r#"{"a":[{"b":{"c":1,"c":2}}]}"#;
        assert!(decode_object(&b64(deep)).is_err());
        let ok = r#"{"a":[{"b":{"c":1,"d":[1,-2,2.5,"x",null,true]}}],"e":{}}"#;
        assert_eq!(
            Value::Object(decode_object(&b64(ok)).unwrap()),
            serde_json::from_str::<Value>(ok).unwrap()
        );
    }

    #[test]
    fn non_objects_and_padding_are_malformed() {
        for seg in [
            b64("[1]"),
            b64("\"s\""),
            b64("{"),
            format!("{}=", b64("{}1")),
            "*".into(),
        ] {
            assert_eq!(
                decode_object(&seg).unwrap_err().kind(),
                AuthErrorKind::MalformedToken,
                "{seg}"
            );
        }
    }
}
