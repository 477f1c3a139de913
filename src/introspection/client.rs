//! The introspector: one endpoint, its client, the answer cache and the
//! requests in flight.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use futures_util::future::{FutureExt as _, Shared};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::{form_encode, is_jws_compact, ClientAuth, Endpoint, Introspection};
use crate::cache::{Expiring, TokenCache, TokenKey};
use crate::error::{AuthError, AuthErrorKind, FetchError, FetchErrorKind};
use crate::http_client::{
    build_client, parse_url, read_limited, Clients, HttpClientOptions, Shown,
};

/// At most this many tokens are being introspected at once; beyond it a
/// request is answered 503 rather than opening yet another connection.
const MAX_IN_FLIGHT: usize = 1024;

/// What the endpoint said about one token.
pub(crate) struct Answer {
    /// The members minus `active`; `None`: not active.
    claims: Option<Map<String, Value>>,
    /// The claims as the authenticator's claims type, made on first use
    /// (`None` inside: they do not deserialize into it).
    pub(crate) typed: OnceLock<Option<Arc<dyn Any + Send + Sync>>>,
    expires_at: u64,
}

impl Answer {
    /// The claims of an active token; `None` for an inactive one.
    pub(crate) fn claims(&self) -> Option<&Map<String, Value>> {
        self.claims.as_ref()
    }
}

impl Expiring for Answer {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
    fn set_expires_at(&mut self, at: u64) {
        self.expires_at = at;
    }
}

type Outcome = Result<Arc<Answer>, AuthErrorKind>;
type Flight = Shared<oneshot::Receiver<Outcome>>;

/// One introspection endpoint in use.
pub(crate) struct Introspector {
    client: Clients,
    url: Url,
    auth: ClientAuth,
    /// The total timeout, applied per request to a URL fetched with the
    /// application's own client.
    timeout: Duration,
    max_body: usize,
    rule: Option<fn(&str) -> bool>,
    /// Whether the authenticator has keys to verify JWS tokens locally.
    local_keys: bool,
    cache: Option<TokenCache<Answer>>,
    flights: Mutex<HashMap<TokenKey, Flight>>,
    clock: Arc<dyn crate::clock::Clock>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("url", &Shown(self.url.as_str()).to_string())
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Introspector {
    /// The endpoint of `config` (discovered first if need be), ready, its
    /// requests made under the authenticator's transport `http`.
    pub(crate) async fn start(
        config: Introspection,
        http: &HttpClientOptions,
        local_keys: bool,
        clock: Arc<dyn crate::clock::Clock>,
    ) -> Result<Arc<Self>, FetchError> {
        let target = match &config.endpoint {
            Endpoint::Url(url) | Endpoint::Discover(url) => parse_url(url, http.allow_http)?,
        };
        // Never follow a redirect: the POST carries the token.
        let client = build_client(http, 0, &target)?;
        let url = match &config.endpoint {
            Endpoint::Url(_) => target,
            Endpoint::Discover(issuer) => discover(&client, issuer, http).await?,
        };
        if client.is_own(&url) {
            // The application's client may follow a redirect (a 307 or 308
            // re-sends the token and the client secret) before the crate
            // sees the answer: it is never given a token. A loopback
            // endpoint is asked with the crate's client.
            return Err(FetchError::new(&url, FetchErrorKind::ClientConfig));
        }
        let ttl = config.cache_ttl;
        Ok(Arc::new(Self {
            client,
            url,
            auth: config.auth,
            timeout: http.timeout,
            max_body: http.max_body,
            rule: config.rule,
            local_keys,
            cache: (ttl.as_secs() > 0).then(|| TokenCache::new(config.cache_capacity, ttl)),
            flights: Mutex::new(HashMap::new()),
            clock,
        }))
    }

    /// Whether `token` goes to the endpoint rather than to the keys;
    /// `other_issuers`: the verifier has other issuers (with their keys),
    /// so a JWS compact token goes to the issuer its `iss` names.
    pub(crate) fn wants(&self, token: &str, other_issuers: bool) -> bool {
        match self.rule {
            Some(rule) => rule(token),
            None => !(self.local_keys || other_issuers) || !is_jws_compact(token),
        }
    }

    /// The cached answer for `token` at clock second `now`, if any.
    pub(crate) fn cached(&self, token: &str, now: u64) -> Option<Arc<Answer>> {
        self.cache.as_ref()?.get(token, now)
    }

    /// The endpoint's answer for `token`: from the cache, from a request
    /// already in flight for it, or from a new request (run as its own
    /// task, so a client that goes away does not cancel it for the others).
    pub(crate) async fn answer(self: &Arc<Self>, token: &str) -> Result<Arc<Answer>, AuthError> {
        let (flight, task) = {
            let mut flights = self
                .flights
                .lock()
                .map_err(|_| AuthErrorKind::IntrospectionUnavailable)?;
            let key = TokenKey(token.into());
            if let Some(flight) = flights.get(&key) {
                (flight.clone(), None)
            } else {
                // Answered while this request waited for the lock?
                if let Some(answer) = self.cached(token, self.clock.now()) {
                    return Ok(answer);
                }
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return Err(AuthErrorKind::IntrospectionUnavailable.into());
                };
                if flights.len() >= MAX_IN_FLIGHT {
                    tracing::warn!(
                        url = %Shown(self.url.as_str()),
                        "too many token introspections in flight: request refused"
                    );
                    return Err(AuthErrorKind::IntrospectionUnavailable.into());
                }
                let (tx, rx) = oneshot::channel();
                let flight = rx.shared();
                flights.insert(key.clone(), flight.clone());
                let landing = Landing {
                    introspector: Arc::clone(self),
                    key,
                };
                (flight, Some((runtime, landing, tx)))
            }
        };
        // Spawned with the lock released: a runtime that is shutting down
        // drops the task (and its `Landing`, which takes the lock) at once.
        if let Some((runtime, landing, tx)) = task {
            runtime.spawn(async move {
                let outcome = landing.introspector.ask_and_store(&landing.key.0).await;
                drop(landing);
                let _ = tx.send(outcome);
            });
        }
        match flight.await {
            Ok(outcome) => outcome.map_err(AuthError::new),
            Err(_) => Err(AuthErrorKind::IntrospectionUnavailable.into()),
        }
    }

    /// One endpoint request; its answer cached (failures never are).
    async fn ask_and_store(&self, token: &str) -> Outcome {
        let result = self.ask(token).await;
        crate::observe::introspection(result.as_ref().ok().map(|a| a.claims.is_some()));
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => {
                // The URL and the reason; never the token.
                tracing::warn!(error = %e, "token introspection failed: request refused");
                return Err(AuthErrorKind::IntrospectionUnavailable);
            }
        };
        Ok(self.store(token, answer))
    }

    /// Caches `answer` for `token` (never past its `exp`) and returns it.
    fn store(&self, token: &str, answer: Answer) -> Arc<Answer> {
        let exp = answer
            .claims
            .as_ref()
            .and_then(|c| c.get("exp"))
            .and_then(Value::as_f64);
        let answer = Arc::new(answer);
        if let Some(cache) = &self.cache {
            // The cache keeps its own copy of the (small) answer.
            let stored = Answer {
                claims: answer.claims.clone(),
                typed: OnceLock::new(),
                expires_at: 0,
            };
            cache.insert(token, stored, self.clock.now(), exp);
        }
        answer
    }

    /// Fuzzing only: `body` as the endpoint's answer for `token`, read and
    /// cached as [`ask_and_store`](Self::ask_and_store) does. `None`: not
    /// an answer (the request would be refused, 503); else whether the
    /// token is active.
    #[cfg(fuzzing)]
    pub(crate) fn fuzz_answer(&self, token: &str, body: &[u8]) -> Option<bool> {
        let answer = parse_answer(body)?;
        Some(self.store(token, answer).claims.is_some())
    }

    /// POSTs `token` to the endpoint and reads the answer.
    async fn ask(&self, token: &str) -> Result<Answer, FetchError> {
        let url = &self.url;
        let mut body = String::with_capacity(token.len() + 64);
        body.push_str("token=");
        form_encode(token, &mut body);
        body.push_str("&token_type_hint=access_token");
        let mut request = self
            .client
            .for_url(url)
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json");
        match &self.auth {
            ClientAuth::None => {}
            ClientAuth::Basic { id, secret } => {
                request = request.header(AUTHORIZATION, basic(id, secret));
            }
            ClientAuth::Post { id, secret } => {
                body.push_str("&client_id=");
                form_encode(id, &mut body);
                body.push_str("&client_secret=");
                form_encode(secret, &mut body);
            }
        }
        if self.client.is_own(url) {
            request = request.timeout(self.timeout);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| FetchError::transport(url, e))?;
        if response.url() != url {
            // The application's own client followed a redirect.
            return Err(FetchError::new(url, FetchErrorKind::Redirect));
        }
        if response.status() != StatusCode::OK {
            let status = response.status().as_u16();
            return Err(FetchError::new(url, FetchErrorKind::Status(status)));
        }
        let bytes = read_limited(response, url, self.max_body).await?;
        parse_answer(&bytes).ok_or_else(|| FetchError::new(url, FetchErrorKind::InvalidDocument))
    }
}

/// The endpoint's answer body: a JSON object with `active`; `None` when it
/// is not one.
fn parse_answer(body: &[u8]) -> Option<Answer> {
    let mut claims = crate::jws::parse_object(body).ok()?;
    // RFC 7662 §2.2: `active` is REQUIRED; only the literal `true` is an
    // active token.
    let active = claims.remove("active")?;
    Some(Answer {
        claims: (active == Value::Bool(true)).then_some(claims),
        typed: OnceLock::new(),
        expires_at: 0,
    })
}

/// A token's in-flight entry, removed when this is dropped: on every exit
/// of its request's task (an answer, an error, a panic, or the task
/// cancelled with its runtime), so that the next request for the token
/// asks again and the entry stops counting against the limit.
struct Landing {
    introspector: Arc<Introspector>,
    key: TokenKey,
}

impl Drop for Landing {
    fn drop(&mut self) {
        let mut flights = self
            .introspector
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        flights.remove(&self.key);
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1),
/// marked sensitive so that no HTTP layer logs it.
fn basic(id: &str, secret: &str) -> HeaderValue {
    let mut both = String::new();
    form_encode(id, &mut both);
    both.push(':');
    form_encode(secret, &mut both);
    let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(both)))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// The `introspection_endpoint` of `issuer`: RFC 8414 metadata first, then
/// OpenID Connect discovery; a document counts only when its `issuer` is
/// exactly `issuer`. Each document is read under `http`'s size limit.
async fn discover(
    client: &Clients,
    issuer: &str,
    http: &HttpClientOptions,
) -> Result<Url, FetchError> {
    let allow_http = http.allow_http;
    let base = parse_url(issuer, allow_http)?;
    let path = base.path().trim_end_matches('/');
    let mut rfc8414 = base.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    let oidc = parse_url(
        &format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
        allow_http,
    )?;
    for url in [rfc8414, oidc] {
        let mut request = client
            .for_url(&url)
            .get(url.clone())
            .header(ACCEPT, "application/json");
        if client.is_own(&url) {
            request = request.timeout(http.timeout);
        }
        let Ok(response) = request.send().await else {
            continue;
        };
        if response.status() != StatusCode::OK || response.url() != &url {
            continue;
        }
        let Ok(body) = read_limited(response, &url, http.max_body).await else {
            continue;
        };
        if let Some(endpoint) = read_metadata(&body, issuer, allow_http) {
            let endpoint = endpoint?;
            tracing::info!(
                issuer = %Shown(issuer),
                introspection_endpoint = %Shown(endpoint.as_str()),
                "introspection endpoint discovered"
            );
            return Ok(endpoint);
        }
    }
    Err(FetchError::new(
        issuer,
        FetchErrorKind::MissingIntrospectionEndpoint,
    ))
}

/// The `introspection_endpoint` of the metadata document `body` of
/// `issuer`; `None`: not a JSON object, another `issuer`, or no endpoint
/// (the next document is tried).
pub(crate) fn read_metadata(
    body: &[u8],
    issuer: &str,
    allow_http: bool,
) -> Option<Result<Url, FetchError>> {
    let doc = serde_json::from_slice::<Map<String, Value>>(body).ok()?;
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return None;
    }
    let endpoint = doc.get("introspection_endpoint").and_then(Value::as_str)?;
    Some(parse_url(endpoint, allow_http))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside a request's task (the public tests cover the task
    /// dropped with its runtime): its in-flight entry goes with it.
    #[tokio::test]
    async fn an_in_flight_entry_is_removed_when_its_task_panics() {
        let me = Introspector::start(
            Introspection::endpoint("http://127.0.0.1:1/introspect"),
            &HttpClientOptions::new(),
            false,
            Arc::new(crate::clock::SystemClock),
        )
        .await
        .unwrap();
        let key = TokenKey("token".into());
        let (_tx, rx) = oneshot::channel();
        me.flights.lock().unwrap().insert(key.clone(), rx.shared());
        let landing = Landing {
            introspector: Arc::clone(&me),
            key,
        };
        let task = tokio::spawn(async move {
            let _landing = landing;
            panic!("the request panicked");
        });
        assert!(task.await.unwrap_err().is_panic());
        assert!(me.flights.lock().unwrap().is_empty());
    }
}
