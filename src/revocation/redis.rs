//! [`RedisRevocation`]: a revocation list shared by every instance through
//! Redis, and [`RedisStore`], the small connection it is built on.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;

use super::{keys_of, verdict, BoxFuture, Revocation, RevocationError, TokenRef};
use crate::clock::{Clock, SystemClock};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_LOCAL_CACHE: Duration = Duration::from_secs(1);
const LOCAL_CACHE_MAX_ENTRIES: usize = 100_000;
const DEFAULT_PREFIX: &str = "tower-jwt-auth:";
/// The longest TTL given to Redis (Redis refuses expiries that overflow);
/// an entry that must live longer gets no expiry at all.
const MAX_TTL_SECS: u64 = 10 * 365 * 86_400;

/// A TTL in whole seconds for the scripts: at least 1, and 0 (the entry
/// never expires) beyond ten years. Never shorter than asked: an entry that
/// expired before the token it revokes would make that token valid again.
fn ttl_secs(ttl: Duration) -> u64 {
    match ttl.as_secs() {
        0 => 1,
        s if s > MAX_TTL_SECS => 0,
        s => s,
    }
}

/// A Redis connection (the `redis` crate's auto-reconnecting
/// `ConnectionManager`) with a key prefix and a timeout on every operation,
/// offering the few atomic operations expiring sets need. Cheap to clone:
/// clones share the connection.
///
/// [`RedisRevocation`] is built on it; other features that need a set
/// shared by a fleet (a DPoP proof `jti` seen within a window) use
/// [`insert_if_absent`](Self::insert_if_absent) with their own key
/// namespace, on the same connection.
///
/// Connecting is lazy: [`open`](Self::open) succeeds while Redis is down,
/// operations fail with [`RevocationError::Unavailable`] until it is up, and
/// the connection comes back by itself when Redis returns.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    prefix: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// One Redis server (an auto-reconnecting connection) or a Redis Cluster
/// (the redis crate's cluster client: a connection per node, requests
/// routed by key slot, the slot map refreshed on `MOVED`).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

fn unavailable(op: &'static str) -> impl Fn(redis::RedisError) -> RevocationError {
    // The redis error's text may quote the server; keep only its kind.
    move |e| RevocationError::Unavailable(format!("{op}: {:?}", e.kind()))
}

/// Configures a [`RedisStore`]: where Redis is and which certificate
/// authorities a `rediss://` (TLS) connection trusts.
///
/// TLS (`rediss://HOST:PORT`) uses rustls. By default the server's
/// certificate must chain to a public root (the Mozilla set of
/// `webpki-roots`); [`ca_file`](Self::ca_file) or
/// [`root_certificates_pem`](Self::root_certificates_pem) make it chain to
/// those CAs instead (a private CA, as managed Redis services and
/// self-hosted Redis use: trusting only it is stricter than adding it to
/// the public roots). The host name is always checked against the
/// certificate, and nothing turns the checks off: a URL asking for that
/// (`rediss://…/#insecure`) is refused.
///
/// ```no_run
/// use tower_jwt_auth::revocation::RedisStore;
///
/// # async fn run() -> Result<(), tower_jwt_auth::revocation::RevocationError> {
/// let store = RedisStore::builder("rediss://redis.internal:6380")
///     .ca_file("/etc/redis/ca.pem")
///     .build()?;
/// # let _ = store; Ok(()) }
/// ```
pub struct RedisStoreBuilder {
    target: Target,
    roots: Roots,
}

/// One server, or the seed nodes of a cluster.
enum Target {
    Single(String),
    Cluster(Vec<String>),
}

/// Where the trusted CA certificates come from.
enum Roots {
    Public,
    File(std::path::PathBuf),
    Pem(Vec<u8>),
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: never printed.
        let roots = match &self.roots {
            Roots::Public => "public",
            Roots::File(_) => "file",
            Roots::Pem(_) => "pem",
        };
        f.debug_struct("RedisStoreBuilder")
            .field("roots", &roots)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// Trusts the CA certificates in the PEM file at `path` (read by
    /// [`build`](Self::build)) instead of the public roots. `rediss://` only.
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.roots = Roots::File(path.into());
        self
    }

    /// Trusts the CA certificates in `pem` (one or more `CERTIFICATE`
    /// blocks) instead of the public roots. `rediss://` only.
    #[must_use]
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots = Roots::Pem(pem.into());
        self
    }

    /// The store (key prefix `tower-jwt-auth:`, 1 s timeout; change them on
    /// the store). Must be called within a Tokio runtime (the connection
    /// runs on it). Connecting is lazy.
    ///
    /// # Errors
    /// [`RevocationError::Config`] for a malformed URL, a `#insecure` URL,
    /// CA certificates for a URL that is not `rediss://`, a CA file that
    /// cannot be read or holds no certificate, or outside a Tokio runtime.
    pub fn build(self) -> Result<RedisStore, RevocationError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RevocationError::Config(
                "RedisStore must be built within a Tokio runtime".into(),
            ));
        }
        let timeout = DEFAULT_TIMEOUT;
        let conn = match &self.target {
            Target::Single(url) => {
                let client = client(url, &self.roots)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(200));
                let conn =
                    ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
                        RevocationError::Config(format!("redis client ({:?})", e.kind()))
                    })?;
                Conn::Single(conn)
            }
            Target::Cluster(urls) => Conn::Cluster(cluster(urls, &self.roots, timeout)?),
        };
        Ok(RedisStore {
            conn,
            prefix: Arc::from(DEFAULT_PREFIX),
            timeout,
        })
    }
}

/// Reads the trusted CA certificates: PEM with at least one certificate.
fn root_pem(roots: &Roots) -> Result<Option<Vec<u8>>, RevocationError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::CertificateDer;
    let pem = match roots {
        Roots::Public => return Ok(None),
        Roots::Pem(pem) => pem.clone(),
        Roots::File(path) => std::fs::read(path).map_err(|e| {
            RevocationError::Config(format!("redis CA file {}: {}", path.display(), e.kind()))
        })?,
    };
    let mut certs = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        if cert.is_err() {
            return Err(RevocationError::Config(
                "redis CA certificates: malformed PEM".into(),
            ));
        }
        certs += 1;
    }
    if certs == 0 {
        return Err(RevocationError::Config(
            "redis CA certificates: no CERTIFICATE in the PEM".into(),
        ));
    }
    Ok(Some(pem))
}

fn invalid_url(e: redis::RedisError) -> RevocationError {
    RevocationError::Config(format!("invalid redis url ({:?})", e.kind()))
}

/// Parses `url`; whether it is TLS. Refuses a URL that turns certificate
/// checks off.
fn parse_url(url: &str) -> Result<(redis::ConnectionInfo, bool), RevocationError> {
    let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(invalid_url)?;
    let tls = match info.addr() {
        redis::ConnectionAddr::TcpTls { insecure: true, .. } => {
            return Err(RevocationError::Config(
                "redis url turns TLS certificate checks off (#insecure): refused".into(),
            ))
        }
        redis::ConnectionAddr::TcpTls { .. } => true,
        _ => false,
    };
    Ok((info, tls))
}

/// A lazily connecting cluster client on the seed nodes `urls` (all
/// `redis://` or all `rediss://`), with the trust `roots`.
fn cluster(
    urls: &[String],
    roots: &Roots,
    timeout: Duration,
) -> Result<ClusterConnection, RevocationError> {
    let mut infos = Vec::with_capacity(urls.len());
    let mut tls = None;
    for url in urls {
        let (info, is_tls) = parse_url(url)?;
        if *tls.get_or_insert(is_tls) != is_tls {
            return Err(RevocationError::Config(
                "redis cluster urls mix redis:// and rediss://".into(),
            ));
        }
        infos.push(info);
    }
    let Some(tls) = tls else {
        return Err(RevocationError::Config(
            "redis cluster needs at least one node url".into(),
        ));
    };
    let root_cert = root_pem(roots)?;
    let mut builder = redis::cluster::ClusterClientBuilder::new(infos).retries(2);
    if tls {
        install_crypto_provider();
        if root_cert.is_some() {
            builder = builder.certs(redis::TlsCertificates {
                client_tls: None,
                root_cert,
            });
        }
    } else if root_cert.is_some() {
        return Err(RevocationError::Config(
            "redis CA certificates need rediss:// urls".into(),
        ));
    }
    let client = builder
        .build()
        .map_err(|e| RevocationError::Config(format!("redis cluster client ({:?})", e.kind())))?;
    let config = redis::cluster::ClusterConfig::new()
        .set_connection_timeout(timeout)
        .set_response_timeout(timeout);
    Ok(client.get_pending_async_connection_with_config(config))
}

/// A client for `url` with the trust `roots` (TLS URLs only), refusing a
/// URL that turns certificate checks off.
fn client(url: &str, roots: &Roots) -> Result<redis::Client, RevocationError> {
    let invalid = invalid_url;
    let (info, tls) = parse_url(url)?;
    let root_cert = root_pem(roots)?;
    if !tls {
        if root_cert.is_some() {
            return Err(RevocationError::Config(
                "redis CA certificates need a rediss:// url".into(),
            ));
        }
        return redis::Client::open(info).map_err(invalid);
    }
    install_crypto_provider();
    redis::Client::build_with_tls(
        info,
        redis::TlsCertificates {
            client_tls: None,
            root_cert,
        },
    )
    .map_err(|e| RevocationError::Config(format!("redis tls ({:?})", e.kind())))
}

/// The redis crate's rustls configuration asks for the process-wide crypto
/// provider: install ring's when the application has not chosen one (a
/// panic otherwise, when several providers are compiled in).
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err: another thread installed one meanwhile, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl RedisStore {
    /// A store for `url` (`redis://HOST:PORT[/DB]`, or `rediss://` for TLS
    /// trusting the public roots), with the key prefix `tower-jwt-auth:`
    /// and a 1 s timeout per operation. Must be called within a Tokio
    /// runtime (the connection runs on it). [`builder`](Self::builder)
    /// configures the trusted CAs.
    ///
    /// # Errors
    /// [`RevocationError::Config`] for a malformed URL or outside a Tokio
    /// runtime.
    pub fn open(url: &str) -> Result<Self, RevocationError> {
        Self::builder(url).build()
    }

    /// A builder for a store on `url`, to configure TLS trust
    /// ([`RedisStoreBuilder::ca_file`]).
    #[must_use]
    pub fn builder(url: &str) -> RedisStoreBuilder {
        RedisStoreBuilder {
            target: Target::Single(url.to_owned()),
            roots: Roots::Public,
        }
    }

    /// A builder for a store on a Redis Cluster, reached through the seed
    /// nodes `urls` (`redis://HOST:PORT` each, or `rediss://` each; the
    /// client discovers the other nodes). Build it with
    /// [`RedisStoreBuilder::build`]; connecting is lazy.
    ///
    /// **Keys are spread over the cluster, not pinned to one slot.** Every
    /// write is a single-key command (`SET NX`, the cut-off script) routed
    /// to the node owning its key; the revocation check's `MGET` over a
    /// token's jti, sid and sub keys is split by the cluster client into
    /// one read per slot, sent to the nodes concurrently. No hash tag puts
    /// every key on one node: that node would hold the whole list and its
    /// loss would fail every check, where spread keys fail (503) only the
    /// tokens with a key on the lost node. A check that cannot read all of
    /// its keys fails closed like any outage.
    ///
    /// ```no_run
    /// use tower_jwt_auth::revocation::RedisStore;
    ///
    /// # async fn run() -> Result<(), tower_jwt_auth::revocation::RevocationError> {
    /// let store = RedisStore::cluster(["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"])
    ///     .build()?;
    /// # let _ = store; Ok(()) }
    /// ```
    #[must_use]
    pub fn cluster<I>(urls: I) -> RedisStoreBuilder
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        RedisStoreBuilder {
            target: Target::Cluster(urls.into_iter().map(|u| u.as_ref().to_owned()).collect()),
            roots: Roots::Public,
        }
    }

    /// Prefixes every key with `prefix` instead of `tower-jwt-auth:` (to
    /// share one Redis between applications).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// The longest any operation may take before it fails with
    /// [`RevocationError::Unavailable`] (default 1 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, key: &str) -> String {
        let mut k = String::with_capacity(self.prefix.len() + key.len());
        k.push_str(&self.prefix);
        k.push_str(key);
        k
    }

    /// Runs one command (built by `attempt` on a connection) within the
    /// store's timeout. `attempt` must be idempotent: when the first try
    /// meets a broken connection (Redis restarted since the last command,
    /// a reset), it is tried once more, on the fresh connection the manager
    /// opens, within the same timeout. A healthy Redis never costs a
    /// request an error because an earlier connection died.
    async fn run<T, F, Fut>(&self, op: &'static str, mut attempt: F) -> Result<T, RevocationError>
    where
        F: FnMut(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let tries = async {
            match attempt(self.conn.clone()).await {
                Err(e) if broken_connection(&e) => attempt(self.conn.clone()).await,
                r => r,
            }
        };
        match tokio::time::timeout(self.timeout, tries).await {
            Ok(r) => r.map_err(unavailable(op)),
            Err(_) => Err(RevocationError::Unavailable(format!("{op}: timed out"))),
        }
    }

    /// Sets `key` (prefixed) unless it exists, for `ttl`, atomically; `true`
    /// when this call set it. The `ttl` is at least one second; beyond ten
    /// years (more than Redis's expiries safely hold) the entry never
    /// expires.
    ///
    /// The entry holds a random number drawn for this call, so the call can
    /// be retried after a broken connection (see [`run`](Self::run))
    /// without losing its answer: the retry sets the key if it is still
    /// absent, and otherwise finds this call's own number there when the
    /// first try reached Redis (this call set it: `true`), or another's
    /// (`false`). A DPoP proof or a refresh token spent by the first try is
    /// thus never reported as a replay by its own retry, and a replay is
    /// never reported as new.
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when Redis does not answer in time
    /// (or the OS has no randomness to give).
    pub async fn insert_if_absent(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<bool, RevocationError> {
        static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
        let script = SCRIPT.get_or_init(|| {
            redis::Script::new(
                r"local ok
if ARGV[2] == '0' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
end
if ok then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0",
            )
        });
        let token = getrandom::u64()
            .map_err(|_| RevocationError::Unavailable("set: no randomness".into()))?;
        let mut inv = script.key(self.key(key));
        inv.arg(token).arg(ttl_secs(ttl));
        let inv = &inv;
        let set: i64 = self
            .run("set", |mut conn| async move {
                inv.invoke_async(&mut conn).await
            })
            .await?;
        Ok(set == 1)
    }

    /// Sets `key` (prefixed) to `value` unless it holds a larger number, and
    /// keeps it at least `ttl` (beyond ten years, or once without expiry:
    /// for ever); atomic (a Lua script), and idempotent.
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when Redis does not answer in time.
    pub async fn set_max(
        &self,
        key: &str,
        value: u64,
        ttl: Duration,
    ) -> Result<(), RevocationError> {
        static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
        let script = SCRIPT.get_or_init(|| {
            redis::Script::new(
                r"local c = redis.call('GET', KEYS[1])
local v = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local left = redis.call('TTL', KEYS[1])
if left == -1 then
  ttl = 0
elseif ttl ~= 0 and left > ttl then
  ttl = left
end
local nv = ARGV[1]
if c and (tonumber(c) or 0) >= v then nv = c end
if ttl == 0 then
  redis.call('SET', KEYS[1], nv)
else
  redis.call('SET', KEYS[1], nv, 'EX', ttl)
end
return 1",
            )
        });
        let mut inv = script.key(self.key(key));
        inv.arg(value).arg(ttl_secs(ttl));
        let inv = &inv;
        let _: i64 = self
            .run("set_max", |mut conn| async move {
                inv.invoke_async(&mut conn).await
            })
            .await?;
        Ok(())
    }

    /// The numbers stored under `keys` (prefixed), `None` where absent or not
    /// a number; one `MGET` round trip.
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when Redis does not answer in time.
    pub async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<u64>>, RevocationError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for k in keys {
            cmd.arg(self.key(k));
        }
        let cmd = &cmd;
        let values: Vec<Option<String>> = self
            .run("mget", |mut conn| async move {
                cmd.query_async(&mut conn).await
            })
            .await?;
        Ok(values
            .into_iter()
            .map(|v| v.and_then(|s| s.parse().ok()))
            .collect())
    }

    /// Whether Redis answers `PING`.
    ///
    /// # Errors
    /// [`RevocationError::Unavailable`] when it does not, in time.
    pub async fn ping(&self) -> Result<(), RevocationError> {
        let cmd = redis::cmd("PING");
        let cmd = &cmd;
        let _: String = self
            .run("ping", |mut conn| async move {
                cmd.query_async(&mut conn).await
            })
            .await?;
        Ok(())
    }
}

/// Whether `e` says the connection broke (rather than Redis answering
/// with an error): the command may be retried on a fresh one.
fn broken_connection(e: &redis::RedisError) -> bool {
    e.is_connection_dropped() || e.is_io_error() || e.is_unrecoverable_error()
}

/// Answers from Redis, per kind (jti, sid, sub: the order of
/// [`keys_of`]) and keyed by the token's own strings, so a hit builds no
/// key. A value is what Redis held (`None`: no entry), when it was read,
/// and the generation of the cache when it was written.
///
/// The cache only ever moves towards "revoked" for what this instance
/// revoked: every revocation on this instance bumps `generation` and marks
/// its entry revoked; an answer from a lookup that started before (an
/// older generation) is merged with that entry (the more revoked of the
/// two wins) instead of overwriting it, and is not remembered at all once
/// entries were evicted after it started.
#[derive(Default)]
struct LocalCache {
    maps: [HashMap<String, Entry>; 3],
    /// Bumped by every revocation made on this instance.
    generation: u64,
    /// The generation at the last eviction: older lookups are not
    /// remembered (an evicted revocation mark cannot protect itself).
    evicted_at: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    value: Option<u64>,
    at: Instant,
    generation: u64,
}

impl LocalCache {
    fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }
}

/// The more revoked of two answers for one key: any entry beats none, and
/// a later subject cut-off beats an earlier one (jti and sid entries hold
/// 0, so for them this is "any entry").
fn more_revoked(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    a.max(b)
}

/// The token's strings in [`keys_of`] order.
fn fields<'a>(token: &TokenRef<'a>) -> [Option<&'a str>; 3] {
    [token.jti, token.sid, token.sub]
}

/// A revocation list in Redis, shared by every instance that points at the
/// same Redis: a logout on one instance rejects the token on all of them.
///
/// - Entries live as long as the tokens they revoke (Redis TTL = the
///   token's remaining life plus a grace covering the verifier's leeway,
///   5 minutes by default), so Redis memory stays bounded. An entry for
///   a token living more than ten years gets no expiry at all (Redis's
///   expiries are capped there; an entry expiring first would make the
///   token valid again): such an entry stays until deleted by hand.
/// - A check costs one `MGET` round trip (jti, sid and sub keys at once).
///   With the local cache (default 1 s, [`RedisRevocationBuilder::local_cache`])
///   answers are kept that long in process, so a hot token costs no round
///   trip. **Staleness bound:** a revocation made on another instance is
///   seen here at most the local cache's lifetime later (plus one round
///   trip); on the instance that revoked, at once.
/// - Redis unreachable or too slow (1 s timeout): the check fails, and the
///   verifier answers 503 (fail closed). The only way to accept tokens
///   during an outage is [`RedisRevocationBuilder::danger_fail_open`], which
///   logs a warning at every outage (`tracing`).
///
/// Cheap to clone: clones share the connection and the local cache.
///
/// ```no_run
/// use tower_jwt_auth::revocation::{RedisRevocation, RedisStore};
///
/// # async fn run() -> Result<(), tower_jwt_auth::revocation::RevocationError> {
/// let store = RedisStore::open("redis://127.0.0.1:6379")?;
/// let revocation = RedisRevocation::builder(store)
///     .local_cache(std::time::Duration::from_secs(1))
///     .build();
/// # let _ = revocation; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRevocation {
    inner: Arc<RedisInner>,
}

struct RedisInner {
    store: RedisStore,
    local_ttl: Duration,
    local: Mutex<LocalCache>,
    clock: Arc<dyn Clock>,
    grace: u64,
    fail_open: bool,
    degraded: AtomicBool,
}

impl fmt::Debug for RedisRevocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocation")
            .field("store", &self.inner.store)
            .field("local_cache", &self.inner.local_ttl)
            .field("grace_secs", &self.inner.grace)
            .field("fail_open", &self.inner.fail_open)
            .finish()
    }
}

/// Configures a [`RedisRevocation`].
pub struct RedisRevocationBuilder {
    store: RedisStore,
    local_ttl: Duration,
    clock: Arc<dyn Clock>,
    grace: u64,
    fail_open: bool,
}

impl fmt::Debug for RedisRevocationBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocationBuilder")
            .field("store", &self.store)
            .field("local_cache", &self.local_ttl)
            .field("grace_secs", &self.grace)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

impl RedisRevocationBuilder {
    /// How long this process trusts an answer from Redis (default 1 s;
    /// `Duration::ZERO` asks Redis on every check). This is the staleness
    /// bound for revocations made by other instances.
    #[must_use]
    pub fn local_cache(mut self, ttl: Duration) -> Self {
        self.local_ttl = ttl;
        self
    }

    /// Keeps entries `grace` past the `expires_at` they were given (default
    /// 5 minutes; keep it at least the verifier's leeway).
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace.as_secs();
        self
    }

    /// The clock that turns `expires_at` into a TTL (default: the system
    /// clock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// DANGER: while Redis is unreachable, treat every token as not revoked
    /// (accept revoked tokens) instead of failing with 503. Each outage is
    /// logged as a `tracing` warning. Revoking still fails during an outage.
    #[must_use]
    pub fn danger_fail_open(mut self) -> Self {
        self.fail_open = true;
        self
    }

    /// The revocation list.
    #[must_use]
    pub fn build(self) -> RedisRevocation {
        if self.fail_open {
            tracing::warn!(
                "redis revocation list configured to FAIL OPEN: revoked tokens are accepted while redis is unreachable"
            );
        }
        RedisRevocation {
            inner: Arc::new(RedisInner {
                store: self.store,
                local_ttl: self.local_ttl,
                local: Mutex::new(LocalCache::default()),
                clock: self.clock,
                grace: self.grace,
                fail_open: self.fail_open,
                degraded: AtomicBool::new(false),
            }),
        }
    }
}

impl RedisRevocation {
    /// A builder on `store` (local cache 1 s, fail closed).
    #[must_use]
    pub fn builder(store: RedisStore) -> RedisRevocationBuilder {
        RedisRevocationBuilder {
            store,
            local_ttl: DEFAULT_LOCAL_CACHE,
            clock: Arc::new(SystemClock),
            grace: super::DEFAULT_GRACE_SECS,
            fail_open: false,
        }
    }

    /// The store underneath, to share its connection.
    #[must_use]
    pub fn store(&self) -> &RedisStore {
        &self.inner.store
    }

    fn local(&self) -> std::sync::MutexGuard<'_, LocalCache> {
        // The maps are only ever inserted into, removed from or cleared: a
        // poisoned lock still holds a consistent cache.
        self.inner.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation a lookup starts at (see [`LocalCache`]).
    fn generation(&self) -> u64 {
        self.local().generation
    }

    /// Makes room for one more entry: drops expired answers, and all of
    /// them if that is not enough (dropping answers is always safe: they
    /// are asked again).
    fn make_room(&self, local: &mut LocalCache, now: Instant) {
        if local.len() < LOCAL_CACHE_MAX_ENTRIES {
            return;
        }
        let ttl = self.inner.local_ttl;
        for map in &mut local.maps {
            map.retain(|_, e| now.duration_since(e.at) < ttl);
        }
        if local.len() >= LOCAL_CACHE_MAX_ENTRIES {
            local.maps.iter_mut().for_each(HashMap::clear);
        }
        local.evicted_at = local.generation;
    }

    /// Remembers Redis's answer for one field (`kind` in [`keys_of`] order)
    /// from a lookup that started at generation `started`; returns the
    /// answer to use, which is more revoked than Redis's when this
    /// instance revoked the field after the lookup started.
    fn remember(&self, kind: usize, field: &str, value: Option<u64>, started: u64) -> Option<u64> {
        if self.inner.local_ttl.is_zero() {
            return value;
        }
        let now = Instant::now();
        let mut local = self.local();
        let generation = local.generation;
        let value = match local.maps[kind].get(field) {
            // This instance revoked it after the lookup started: the
            // older answer may predate the revocation.
            Some(e) if e.generation > started => more_revoked(e.value, value),
            _ => value,
        };
        if started < local.evicted_at {
            // A revocation mark this lookup could predate may have been
            // evicted: do not remember an answer that could undo it.
            return value;
        }
        self.make_room(&mut local, now);
        local.maps[kind].insert(
            field.to_owned(),
            Entry {
                value,
                at: now,
                generation,
            },
        );
        value
    }

    /// Marks a field revoked by this instance (after Redis recorded it):
    /// `value` merged with what the cache holds, at a new generation, so
    /// that no lookup already in flight can write an older answer over it.
    fn mark_revoked(&self, kind: usize, field: &str, value: u64) {
        let now = Instant::now();
        let mut local = self.local();
        local.generation += 1;
        let generation = local.generation;
        if self.inner.local_ttl.is_zero() {
            return;
        }
        self.make_room(&mut local, now);
        let old = local.maps[kind].get(field).and_then(|e| e.value);
        local.maps[kind].insert(
            field.to_owned(),
            Entry {
                value: more_revoked(old, Some(value)),
                at: now,
                generation,
            },
        );
    }

    fn ttl(&self, expires_at: u64) -> Duration {
        let until = expires_at.saturating_add(self.inner.grace);
        Duration::from_secs(until.saturating_sub(self.inner.clock.now()))
    }

    fn outage(&self, e: RevocationError) -> Result<bool, RevocationError> {
        if self.inner.fail_open {
            if !self.inner.degraded.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "redis revocation list unreachable: FAILING OPEN, revoked tokens are accepted");
            }
            return Ok(false);
        }
        Err(e)
    }

    fn recovered(&self) {
        if self.inner.degraded.swap(false, Ordering::Relaxed) {
            tracing::warn!("redis revocation list reachable again");
        }
    }
}

impl Revocation for RedisRevocation {
    fn is_revoked<'a>(
        &'a self,
        token: &'a TokenRef<'a>,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let keys = keys_of(token);
            let started = self.generation();
            let wanted: Vec<&str> = keys.iter().flatten().map(String::as_str).collect();
            let values = match self.inner.store.get_many(&wanted).await {
                Ok(v) => v,
                Err(e) => return self.outage(e),
            };
            self.recovered();
            let mut values = values.into_iter();
            let mut found = [None; 3];
            for (kind, field) in fields(token).into_iter().enumerate() {
                if let Some(field) = field {
                    let v = values.next().flatten();
                    found[kind] = self.remember(kind, field, v, started);
                }
            }
            Ok(verdict(token, found))
        })
    }

    fn is_revoked_now(&self, token: &TokenRef<'_>) -> Option<Result<bool, RevocationError>> {
        if self.inner.local_ttl.is_zero() {
            return None;
        }
        let ttl = self.inner.local_ttl;
        let local = self.local();
        let mut found = [None; 3];
        for (kind, field) in fields(token).into_iter().enumerate() {
            if let Some(field) = field {
                let e = local.maps[kind].get(field)?;
                if e.at.elapsed() >= ttl {
                    return None;
                }
                found[kind] = e.value;
            }
        }
        Some(Ok(verdict(token, found)))
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, RevocationError>> {
        Box::pin(async move {
            let key = format!("jti:{jti}");
            let ttl = self.ttl(expires_at);
            let fresh = self.inner.store.insert_if_absent(&key, ttl).await?;
            self.mark_revoked(0, jti, 0);
            Ok(fresh)
        })
    }

    fn revoke_family<'a>(
        &'a self,
        sid: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            let key = format!("sid:{sid}");
            let ttl = self.ttl(expires_at);
            self.inner.store.insert_if_absent(&key, ttl).await?;
            self.mark_revoked(1, sid, 0);
            Ok(())
        })
    }

    fn revoke_subject<'a>(
        &'a self,
        sub: &'a str,
        issued_before: u64,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), RevocationError>> {
        Box::pin(async move {
            let key = format!("sub:{sub}");
            let ttl = self.ttl(expires_at);
            self.inner.store.set_max(&key, issued_before, ttl).await?;
            // Redis may hold a later cut-off (another instance's): ours is
            // a lower bound, and later ones are seen within the local
            // cache's lifetime, like any other instance's revocation.
            self.mark_revoked(2, sub, issued_before);
            Ok(())
        })
    }
}
