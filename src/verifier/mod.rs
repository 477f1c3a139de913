//! The core: [`Verifier`] turns a token into claims or an error.

#[cfg(feature = "remote")]
mod introspected;
mod issuer;
mod sequence;
#[cfg(feature = "remote")]
pub(crate) mod tenants;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::cache::CacheStats;
use crate::claims::Claims;
use crate::error::{AuthError, AuthErrorKind};
use crate::jws::{decode_segment, Compact};
use crate::keys::AlgorithmSet;
use crate::route_rules::{Matched, RouteRules};

pub(crate) use issuer::{IssuerSettings, IssuerVerifier};

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

/// A boxed verification that waits on I/O (a key refetch, a revocation
/// answer): this path is rare and already waits on the network, so the
/// ready path allocates nothing.
pub(crate) type Waiting<T> = Pin<Box<dyn Future<Output = Result<T, AuthError>> + Send + 'static>>;

/// What verification found without waiting.
pub(crate) enum Verdict<T> {
    /// Decided now.
    Ready(Result<T, AuthError>),
    /// Decided once `wait` completes; `unless_waited` is the answer for a
    /// caller that cannot wait (a refused `kid` still unknown, or a
    /// revocation list that has no answer at hand).
    Pending {
        wait: Waiting<T>,
        unless_waited: AuthError,
    },
}

/// Which issuer's verifier handles a token.
enum Issuers {
    /// One issuer (or any issuer the rules accept).
    One(Arc<IssuerVerifier>),
    /// Picked by the token's unverified `iss`
    /// ([`Authenticator::by_issuer`](crate::Authenticator::by_issuer)).
    ByIssuer(Arc<HashMap<String, Arc<IssuerVerifier>>>),
    /// Picked by the token's unverified `iss` among the tenants of an issuer
    /// pattern, each made on first sight ([`TenantIssuers`](crate::remote::TenantIssuers)).
    #[cfg(feature = "remote")]
    Tenants(Arc<tenants::TenantTable>),
}

/// The verifier [`Verifier::pick`] chose: borrowed from the verifier, or a
/// tenant's, taken from its table.
enum Picked<'a> {
    Borrowed(&'a IssuerVerifier),
    #[cfg(feature = "remote")]
    Tenant(Arc<IssuerVerifier>),
}

impl std::ops::Deref for Picked<'_> {
    type Target = IssuerVerifier;

    fn deref(&self) -> &IssuerVerifier {
        match self {
            Self::Borrowed(v) => v,
            #[cfg(feature = "remote")]
            Self::Tenant(v) => v,
        }
    }
}

impl Clone for Issuers {
    fn clone(&self) -> Self {
        match self {
            Self::One(v) => Self::One(Arc::clone(v)),
            Self::ByIssuer(t) => Self::ByIssuer(Arc::clone(t)),
            #[cfg(feature = "remote")]
            Self::Tenants(t) => Self::Tenants(Arc::clone(t)),
        }
    }
}

/// Verifies tokens against keys and rules; cheap to clone (an `Arc`).
///
/// Built by [`Authenticator::builder`](crate::Authenticator::builder) and
/// reached with [`Authenticator::verifier`](crate::Authenticator::verifier).
/// A verifier turns a token into [`Claims`] or an [`AuthError`]. It knows
/// nothing of HTTP or tower; the [`Gate`](crate::Gate) calls it for every
/// request, and code without a request (jobs, tests) calls it directly.
///
/// Order of checks (cheapest and most telling first; no crypto runs on a
/// token whose header is already unacceptable):
/// 1. size limit, then exactly three base64url segments (five = JWE);
/// 2. header: a JSON object without duplicate members; `enc` (JWE), `crit`,
///    `b64: false` and `zip` rejected; `alg` allowed by the allow-list (never
///    `none`, in any spelling); `typ` when configured;
/// 3. key selection by `kid` and `alg` ([`KeySet`](crate::keys::KeySet));
/// 4. signature, with the key's own provider verifier;
/// 5. the security sequence: claim rules (time, `iss`,
///    `aud`, required claims), the key's issuer, the sender binding
///    (`cnf`), the route's scopes and roles, revocation; then the claims are
///    deserialized into `C` from the payload bytes (so typed claims see
///    numbers exactly as sent; see [`RawClaims`](crate::RawClaims)).
///
/// With the verified-token cache on (the default), a token verified before
/// skips steps 1–4 and the parsing: its key is selected again from the
/// current key set and must be the one that verified it, and step 5 runs
/// again, the same function as on a miss.
///
/// A verifier made by [`Authenticator::by_issuer`](crate::Authenticator::by_issuer)
/// first reads the token's *unverified* `iss` only to pick which issuer's
/// verifier runs; that verifier's keys and rules then decide, so a token
/// signed by one issuer's key and claiming another issuer fails its
/// signature check.
///
/// With [`Introspection`](crate::remote::Introspection) (feature `remote`), a token
/// the introspection rule claims (by default: not a JWS compact token, or
/// any token when there are no keys) skips steps 1–4: the authorization
/// server's answer, cached or fresh, stands in for the signature, and step
/// 5 runs on its claims exactly as above.
///
/// `jku`, `x5u`, `jwk` and `x5c` headers are ignored: keys come only from
/// configuration, never from the token (RFC 8725 §3.10).
pub struct Verifier<C = Value> {
    issuers: Issuers,
    decode: Decode<C>,
}

impl<C> Clone for Verifier<C> {
    fn clone(&self) -> Self {
        Self {
            issuers: self.issuers.clone(),
            decode: self.decode,
        }
    }
}

impl<C> fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Verifier");
        d.field("claims", &std::any::type_name::<C>());
        match &self.issuers {
            Issuers::One(v) => d.field("issuer", v),
            Issuers::ByIssuer(table) => d.field("issuers", table),
            #[cfg(feature = "remote")]
            Issuers::Tenants(table) => d.field("tenants", table),
        };
        d.finish()
    }
}

/// The one member read before verification to pick an issuer. A payload
/// that is not an object, or names `iss` twice, fails to deserialize.
#[derive(Deserialize)]
struct IssOnly {
    iss: Option<Value>,
}

impl<C> Verifier<C> {
    pub(crate) fn new(issuer: IssuerVerifier, decode: Decode<C>) -> Self {
        Self {
            issuers: Issuers::One(Arc::new(issuer)),
            decode,
        }
    }

    /// A verifier over the tenants of an issuer pattern.
    #[cfg(feature = "remote")]
    pub(crate) fn tenants(table: Arc<tenants::TenantTable>, decode: Decode<C>) -> Self {
        Self {
            issuers: Issuers::Tenants(table),
            decode,
        }
    }

    /// A verifier that picks among `verifiers` by the token's `iss`.
    ///
    /// # Errors
    /// [`ConfigError`](crate::ConfigError) when one accepts no issuer or two
    /// accept the same.
    pub(crate) fn by_issuer(
        verifiers: impl IntoIterator<Item = Self>,
    ) -> Result<Self, crate::ConfigError> {
        use crate::ConfigError;
        let mut table: HashMap<String, Arc<IssuerVerifier>> = HashMap::new();
        let mut decode = None;
        for verifier in verifiers {
            decode.get_or_insert(verifier.decode);
            let entries: Vec<(String, Arc<IssuerVerifier>)> = match verifier.issuers {
                // A pattern is not a list: it stands alone.
                #[cfg(feature = "remote")]
                Issuers::Tenants(_) => return Err(ConfigError::IssuerRequired),
                Issuers::ByIssuer(nested) => nested
                    .iter()
                    .map(|(iss, v)| (iss.clone(), Arc::clone(v)))
                    .collect(),
                Issuers::One(v) => v
                    .accepted_issuers()
                    .ok_or(ConfigError::IssuerRequired)?
                    .map(|iss| (iss.to_owned(), Arc::clone(&v)))
                    .collect(),
            };
            for (iss, v) in entries {
                if table.contains_key(&iss) {
                    return Err(ConfigError::DuplicateIssuer { issuer: iss });
                }
                table.insert(iss, v);
            }
        }
        #[cfg(feature = "remote")]
        {
            let mut introspecting: Vec<*const IssuerVerifier> = table
                .values()
                .filter(|v| v.settings.introspection.is_some())
                .map(Arc::as_ptr)
                .collect();
            introspecting.dedup();
            if introspecting.len() > 1 {
                return Err(ConfigError::SeveralIntrospections);
            }
        }
        Ok(Self {
            issuers: Issuers::ByIssuer(Arc::new(table)),
            decode: decode.ok_or(ConfigError::EmptyList { what: "issuer" })?,
        })
    }

    /// Every issuer's verifier (one may appear several times, for each
    /// issuer it accepts); no allocation, as a cache lookup walks it.
    fn all(&self) -> impl Iterator<Item = &IssuerVerifier> {
        let (one, table) = match &self.issuers {
            Issuers::One(v) => (Some(&**v), None),
            Issuers::ByIssuer(table) => (None, Some(table)),
            // Tenants are picked first, then asked (their table is locked).
            #[cfg(feature = "remote")]
            Issuers::Tenants(_) => (None, None),
        };
        one.into_iter()
            .chain(table.into_iter().flat_map(|t| t.values().map(|v| &**v)))
    }

    /// The issuer's verifier whose introspection endpoint takes `token`
    /// (at most one issuer introspects: [`Self::by_issuer`] checks).
    #[cfg(feature = "remote")]
    fn introspecting(
        &self,
        token: &str,
    ) -> Option<(
        &Arc<IssuerVerifier>,
        &Arc<crate::introspection::Introspector>,
    )> {
        let (one, table) = match &self.issuers {
            Issuers::One(v) => (Some(v), None),
            Issuers::ByIssuer(table) => (None, Some(table)),
            // Tenant issuers introspect nothing (refused at build).
            Issuers::Tenants(_) => (None, None),
        };
        one.into_iter()
            .chain(table.into_iter().flat_map(|t| t.values()))
            .find_map(|v| {
                let introspection = v.settings.introspection.as_ref()?;
                let wanted = introspection.wants(token, table.is_some());
                wanted.then_some((v, introspection))
            })
    }

    /// Fuzzing only: `body` as the introspection endpoint's answer for
    /// `token`, cached by the introspector that takes `token` (`None`: no
    /// introspector takes it, or `body` is not an answer).
    #[cfg(all(fuzzing, feature = "remote"))]
    pub(crate) fn fuzz_introspection_answer(&self, token: &str, body: &[u8]) -> Option<bool> {
        let (_, introspector) = self.introspecting(token)?;
        introspector.fuzz_answer(token, body)
    }

    /// Each issuer's verifier once.
    fn each(&self) -> Vec<&IssuerVerifier> {
        let mut seen: Vec<&IssuerVerifier> = Vec::new();
        for v in self.all() {
            if !seen.iter().any(|s| std::ptr::eq(*s, v)) {
                seen.push(v);
            }
        }
        seen
    }

    /// The upper bound on a token's size, in bytes (the largest of the
    /// issuers' for a verifier over several issuers; each issuer's own
    /// bound still applies to its tokens).
    #[must_use]
    pub fn max_token_len(&self) -> usize {
        match &self.issuers {
            Issuers::One(v) => v.settings.max_token_len,
            Issuers::ByIssuer(table) => table
                .values()
                .map(|v| v.settings.max_token_len)
                .max()
                .unwrap_or(0),
            #[cfg(feature = "remote")]
            Issuers::Tenants(table) => table.max_token_len,
        }
    }

    /// The algorithms a token may use (the allow-list intersected with what
    /// the keys can verify; for several issuers, the union of theirs).
    #[must_use]
    pub fn algorithms(&self) -> AlgorithmSet {
        #[cfg(feature = "remote")]
        if let Issuers::Tenants(table) = &self.issuers {
            return table.algorithms;
        }
        self.each()
            .iter()
            .map(|v| v.algorithms_now())
            .fold(AlgorithmSet::empty(), AlgorithmSet::union)
    }

    /// The size of the verified-token cache (for several issuers, of all
    /// their caches together), or `None` when it is off.
    #[must_use]
    pub fn cache_stats(&self) -> Option<CacheStats> {
        let mut total: Option<CacheStats> = None;
        #[cfg(feature = "remote")]
        let tenants = match &self.issuers {
            Issuers::Tenants(table) => table.each_ready(),
            _ => Vec::new(),
        };
        #[cfg(not(feature = "remote"))]
        let tenants: Vec<Arc<IssuerVerifier>> = Vec::new();
        let each = self.each().into_iter().chain(tenants.iter().map(|v| &**v));
        for v in each {
            if let Some(s) = v.cache_stats() {
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
    fn pick(&self, token: &str) -> Result<Picked<'_>, AuthError> {
        let table = match &self.issuers {
            Issuers::One(v) => return Ok(Picked::Borrowed(v)),
            Issuers::ByIssuer(table) => table,
            #[cfg(feature = "remote")]
            Issuers::Tenants(table) => {
                let iss = self.unverified_iss(token)?;
                return table
                    .ready(&iss)
                    .map(Picked::Tenant)
                    .ok_or_else(|| AuthError::new(AuthErrorKind::KeySourceUnavailable));
            }
        };
        let iss = self.unverified_iss(token)?;
        table
            .get(iss.as_str())
            .map(|v| Picked::Borrowed(v))
            .ok_or_else(|| AuthError::claim(AuthErrorKind::InvalidIssuer, "iss"))
    }

    /// The token's `iss`, read unverified, only to choose a verifier.
    fn unverified_iss(&self, token: &str) -> Result<String, AuthError> {
        if token.len() > self.max_token_len() {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        // Only `iss` is read here (the other members are skipped, not
        // built); the chosen verifier parses and checks the whole payload.
        let bytes = decode_segment(Compact::split(token)?.payload)?;
        let only: IssOnly = serde_json::from_slice(&bytes)
            .map_err(|_| AuthError::new(AuthErrorKind::MalformedToken))?;
        match only.iss {
            Some(Value::String(iss)) => Ok(iss),
            None | Some(Value::Null) => Err(AuthError::claim(AuthErrorKind::MissingClaim, "iss")),
            Some(_) => Err(AuthError::claim(AuthErrorKind::InvalidClaim, "iss")),
        }
    }

    /// Verifies only the JWS: size, shape, header rules, key selection and
    /// signature (steps 1–4 of the module docs), and returns the decoded
    /// payload bytes. No claim is checked: for the crate's conformance tests
    /// and fuzz targets, never for authentication.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed.
    #[doc(hidden)]
    pub fn verify_jws(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        let v = self.pick(token)?;
        let keys = v.keys.load();
        let signed = v.verify_signature(&keys, token)?;
        decode_segment(signed.payload)
    }
}

impl<C: Send + Sync + 'static> Verifier<C> {
    /// Verifies `token` with the authenticator's rules.
    ///
    /// It never waits: a
    /// token whose `kid` is not (yet) in a remote key set is rejected now
    /// (and starts a refetch, within the cooldown, for the next call), and a
    /// revocation list that must be asked over the network (Redis) without
    /// an answer at hand fails closed with
    /// [`AuthErrorKind::RevocationUnavailable`], and an opaque token whose
    /// introspection answer is not cached with
    /// [`AuthErrorKind::IntrospectionUnavailable`];
    /// [`verify_async`](Self::verify_async) waits for them instead.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed.
    pub fn verify(&self, token: &str) -> Result<Claims<C>, AuthError> {
        match self.check(token, &RouteRules::default(), &Matched::default(), None) {
            Verdict::Ready(result) => result,
            Verdict::Pending { unless_waited, .. } => Err(unless_waited),
        }
    }

    /// Verifies `token` with the authenticator's rules; when its `kid` is not
    /// in a remote key set, waits (at most the fetch timeout) for the one
    /// refetch that all concurrent requests share, then verifies again; and
    /// waits for a revocation list that must be asked over the network.
    ///
    /// A
    /// known `kid` never waits on the network.
    ///
    /// # Errors
    /// An [`AuthError`] naming the first check that failed.
    pub async fn verify_async(&self, token: &str) -> Result<Claims<C>, AuthError> {
        match self.check(token, &RouteRules::default(), &Matched::default(), None) {
            Verdict::Ready(result) => result,
            Verdict::Pending { wait, .. } => wait.await,
        }
    }

    /// Every check with `route`'s rules; the token's `cnf.jkt` must be
    /// `jkt` (a DPoP request) or absent (`None`, a bearer request). What
    /// cannot be decided without waiting comes back as a future that owns
    /// what it needs: a key refetch (then everything again), or the
    /// revocation answer.
    pub(crate) fn check(
        &self,
        token: &str,
        route: &RouteRules,
        matched: &Matched,
        jkt: Option<&str>,
    ) -> Verdict<Claims<C>> {
        let first = self.check_now(token, route, matched, jkt);
        let Verdict::Ready(Err(e)) = &first else {
            return first;
        };
        if !matches!(
            e.kind(),
            AuthErrorKind::UnknownKey | AuthErrorKind::KeySourceUnavailable
        ) {
            return first;
        }
        let Some(refetch) = self.pick(token).ok().and_then(|v| v.keys.refetch()) else {
            return first;
        };
        let unless_waited = e.clone();
        let verifier = self.clone();
        let token = token.to_owned();
        let route = route.clone();
        let matched = matched.clone();
        let jkt = jkt.map(str::to_owned);
        Verdict::Pending {
            wait: Box::pin(async move {
                refetch.await;
                match verifier.check_now(&token, &route, &matched, jkt.as_deref()) {
                    Verdict::Ready(result) => result,
                    Verdict::Pending { wait, .. } => wait.await,
                }
            }),
            unless_waited,
        }
    }

    /// [`check`](Self::check) against the keys held now, in one tracing
    /// span (feature `tracing`) and one timing (feature `metrics`).
    fn check_now(
        &self,
        token: &str,
        route: &RouteRules,
        matched: &Matched,
        jkt: Option<&str>,
    ) -> Verdict<Claims<C>> {
        let span = crate::observe::VerifySpan::start();
        let verdict = span.in_scope(|| self.check_unobserved(token, route, matched, jkt));
        span.finish(match &verdict {
            Verdict::Ready(Ok(_)) => Ok(true),
            Verdict::Ready(Err(e)) => Err(e),
            Verdict::Pending { .. } => Ok(false),
        });
        verdict
    }

    fn check_unobserved(
        &self,
        token: &str,
        route: &RouteRules,
        matched: &Matched,
        jkt: Option<&str>,
    ) -> Verdict<Claims<C>> {
        let facts = sequence::Request {
            route,
            matched,
            jkt,
        };
        #[cfg(feature = "remote")]
        if let Issuers::Tenants(table) = &self.issuers {
            return self.check_tenant(table, token, route, matched, jkt, &facts);
        }
        // A cached token first: with several issuers, each issuer's cache is
        // asked (a few lookups, where picking the issuer first would cost a
        // payload parse on every hit).
        for v in self.all() {
            if let Some(verdict) = v.check_cached(token, &facts) {
                return verdict;
            }
        }
        #[cfg(feature = "remote")]
        if let Some((v, introspector)) = self.introspecting(token) {
            return introspected::check(v, introspector, token, &facts, self.decode);
        }
        match self.pick(token) {
            Ok(v) => v.check_token(token, &facts, self.decode),
            Err(e) => Verdict::Ready(Err(e)),
        }
    }

    /// A token of a tenant: its verifier (cache, then the full check), or
    /// a wait while the tenant's keys are fetched for the first time.
    #[cfg(feature = "remote")]
    fn check_tenant(
        &self,
        table: &tenants::TenantTable,
        token: &str,
        route: &RouteRules,
        matched: &Matched,
        jkt: Option<&str>,
        facts: &sequence::Request<'_>,
    ) -> Verdict<Claims<C>> {
        let iss = match self.unverified_iss(token) {
            Ok(iss) => iss,
            Err(e) => return Verdict::Ready(Err(e)),
        };
        match table.lookup(&iss) {
            Err(e) => Verdict::Ready(Err(e)),
            Ok(tenants::Lookup::Ready(v)) => v
                .check_cached(token, facts)
                .unwrap_or_else(|| v.check_token(token, facts, self.decode)),
            Ok(tenants::Lookup::Loading(loading)) => {
                let verifier = self.clone();
                let token = token.to_owned();
                let route = route.clone();
                let matched = matched.clone();
                let jkt = jkt.map(str::to_owned);
                Verdict::Pending {
                    wait: Box::pin(async move {
                        loading.await;
                        match verifier.check_now(&token, &route, &matched, jkt.as_deref()) {
                            Verdict::Ready(result) => result,
                            // Still loading after its load ended (the task
                            // died): fail closed rather than wait again.
                            Verdict::Pending { unless_waited, .. }
                                if unless_waited.kind() == AuthErrorKind::KeySourceUnavailable =>
                            {
                                Err(unless_waited)
                            }
                            Verdict::Pending { wait, .. } => wait.await,
                        }
                    }),
                    unless_waited: AuthError::new(AuthErrorKind::KeySourceUnavailable),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;

    use super::*;
    use crate::cache::TokenCache;

    fn only(issuers: Issuers) -> Arc<IssuerVerifier> {
        match issuers {
            Issuers::One(v) => v,
            _ => panic!("one issuer"),
        }
    }

    fn cache<C>(v: &Verifier<C>) -> &TokenCache {
        match &v.issuers {
            Issuers::One(v) => v.cache.as_ref().unwrap(),
            _ => panic!("one issuer"),
        }
    }

    /// The verifier of `key`, with the cache taken from `from` (the same
    /// authenticator after its key set changed).
    fn verifier_with_cache(key: crate::keys::Key, from: Option<Verifier>) -> Verifier {
        let auth = crate::Authenticator::builder()
            .key(key)
            .clock(crate::clock::FixedClock::new(1_000))
            .build()
            .unwrap();
        let verifier = auth.verifier().clone();
        drop(auth);
        let mut inner = Arc::try_unwrap(only(verifier.issuers)).ok().unwrap();
        if let Some(from) = from {
            inner.cache = Arc::try_unwrap(only(from.issuers)).ok().unwrap().cache;
        }
        Verifier::new(inner, decode_value)
    }

    fn hs256(secret: &[u8], kid: &str) -> String {
        crate::crypto::install_default_provider();
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some(kid.into());
        let claims = serde_json::json!({"sub": "a", "exp": 2_000});
        let key = jsonwebtoken::EncodingKey::from_secret(secret);
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    const OLD: &[u8] = b"old-secret-old-secret-old-secret";
    const NEW: &[u8] = b"new-secret-new-secret-new-secret";

    #[test]
    fn a_rotated_out_key_turns_its_cached_tokens_into_misses() {
        let old = crate::keys::Key::hmac(OLD).unwrap().with_kid("k1");
        let old_key = || old.clone();
        let token = hs256(OLD, "k1");
        let v = verifier_with_cache(old_key(), None);
        assert!(v.verify(&token).is_ok());
        let entry = cache(&v).get(&token, 1_000).unwrap();

        // The same key (a refresh that changed nothing keeps its id): the
        // entry still stands and is used as it is.
        let v = verifier_with_cache(old_key(), Some(v));
        assert!(v.verify(&token).is_ok());
        let cache = cache(&v);
        assert!(Arc::ptr_eq(&cache.get(&token, 1_000).unwrap(), &entry));
        drop(entry);

        // `k1` now names another key: the cached token is verified afresh,
        // fails, and its entry is gone.
        let rotated =
            verifier_with_cache(crate::keys::Key::hmac(NEW).unwrap().with_kid("k1"), Some(v));
        assert_eq!(
            rotated.verify(&token).unwrap_err().kind(),
            AuthErrorKind::InvalidSignature
        );
        assert_eq!(rotated.cache_stats().unwrap().entries, 0);

        // `k1` is gone and `k2` came: unknown key.
        let token = hs256(NEW, "k1");
        let v = verifier_with_cache(crate::keys::Key::hmac(NEW).unwrap().with_kid("k1"), None);
        assert!(v.verify(&token).is_ok());
        let v = verifier_with_cache(crate::keys::Key::hmac(NEW).unwrap().with_kid("k2"), Some(v));
        assert_eq!(
            v.verify(&token).unwrap_err().kind(),
            AuthErrorKind::UnknownKey
        );
        assert_eq!(v.cache_stats().unwrap().entries, 0);
    }
}
