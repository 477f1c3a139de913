//! [`RedisStore`]: the Redis connection (one node, TLS, or a Cluster) with
//! a key prefix and a timeout, and the few atomic operations the stores use.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;

use crate::revocation::RevocationError;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
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
/// offering the few atomic operations expiring sets need.
///
/// Cheap to clone:
/// clones share the connection.
///
/// [`RedisRevocation`](super::RedisRevocation) is built on it; other features that need a set
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
pub(super) enum Conn {
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
    /// the store).
    ///
    /// Must be called within a Tokio runtime (the connection
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
/// provider: install the backend's (aws-lc-rs, or ring under `rust-crypto`
/// alone) when the application has not chosen one.
fn install_crypto_provider() {
    crate::crypto::install_tls_provider();
}

impl RedisStore {
    /// A store for `url` (`redis://HOST:PORT[/DB]`, or `rediss://` for TLS
    /// trusting the public roots), with the key prefix `tower-jwt-auth:`
    /// and a 1 s timeout per operation.
    ///
    /// Must be called within a Tokio
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
    /// client discovers the other nodes).
    ///
    /// Build it with
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

    pub(super) fn key(&self, key: &str) -> String {
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
    pub(super) async fn run<T, F, Fut>(
        &self,
        op: &'static str,
        mut attempt: F,
    ) -> Result<T, RevocationError>
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
    /// when this call set it.
    ///
    /// The `ttl` is at least one second; beyond ten
    /// years (more than Redis's expiries safely hold) the entry never
    /// expires.
    ///
    /// The entry holds a random number drawn for this call, so the call can
    /// be retried after a broken connection (a broken connection is retried once on a fresh one)
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

    /// Spends a refresh token in the session entry `key` (prefixed), as
    /// [`Revocation::spend_refresh`](crate::revocation::Revocation::spend_refresh)
    /// says, atomically (a Lua script) and idempotently for one attempt.
    /// The entry holds `next|spent_at|<p or d><attempt>|jti` (`p`: pending,
    /// `d`: confirmed) and keeps the longer of its TTL and `ttl`.
    pub(super) async fn spend_refresh(
        &self,
        key: &str,
        spend: &crate::revocation::RefreshSpend<'_>,
        ttl: Duration,
    ) -> Result<bool, RevocationError> {
        static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
        let script = SCRIPT.get_or_init(|| {
            redis::Script::new(
                r"local at = ARGV[3]
local cur = redis.call('GET', KEYS[1])
if cur then
  local n, sat, st, att, jti = string.match(cur, '^(%d+)|(%d+)|([pd])(%d+)|(.*)$')
  if not n then return 0 end
  if tonumber(n) > tonumber(ARGV[1]) then
    if n ~= ARGV[2] or jti ~= ARGV[6] then return 0 end
    if att == ARGV[5] then return 1 end
    if st ~= 'p' or tonumber(ARGV[3]) >= tonumber(sat) + tonumber(ARGV[4]) then return 0 end
    at = sat
  end
end
local v = ARGV[2] .. '|' .. at .. '|p' .. ARGV[5] .. '|' .. ARGV[6]
local ttl = tonumber(ARGV[7])
local left = redis.call('TTL', KEYS[1])
if left == -1 then
  ttl = 0
elseif ttl ~= 0 and left > ttl then
  ttl = left
end
if ttl == 0 then
  redis.call('SET', KEYS[1], v)
else
  redis.call('SET', KEYS[1], v, 'EX', ttl)
end
return 1",
            )
        });
        let mut inv = script.key(self.key(key));
        inv.arg(spend.generation)
            .arg(spend.generation.saturating_add(1))
            .arg(spend.now)
            .arg(spend.retry_grace)
            .arg(spend.attempt)
            .arg(spend.jti)
            .arg(ttl_secs(ttl));
        let inv = &inv;
        let spent: i64 = self
            .run("spend", |mut conn| async move {
                inv.invoke_async(&mut conn).await
            })
            .await?;
        Ok(spent == 1)
    }

    /// Confirms the spend `spend` made in the session entry `key`
    /// (prefixed): `true` when its attempt still holds it (now confirmed,
    /// or confirmed already: idempotent); the TTL is kept.
    pub(super) async fn confirm_refresh(
        &self,
        key: &str,
        spend: &crate::revocation::RefreshSpend<'_>,
    ) -> Result<bool, RevocationError> {
        static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
        let script = SCRIPT.get_or_init(|| {
            redis::Script::new(
                r"local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local n, sat, st, att, jti = string.match(cur, '^(%d+)|(%d+)|([pd])(%d+)|(.*)$')
if n ~= ARGV[1] or att ~= ARGV[2] then return 0 end
if st == 'p' then
  local v = n .. '|' .. sat .. '|d' .. att .. '|' .. jti
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 then
    redis.call('SET', KEYS[1], v, 'PX', left)
  else
    redis.call('SET', KEYS[1], v)
  end
end
return 1",
            )
        });
        let mut inv = script.key(self.key(key));
        inv.arg(spend.generation.saturating_add(1))
            .arg(spend.attempt);
        let inv = &inv;
        let confirmed: i64 = self
            .run("confirm", |mut conn| async move {
                inv.invoke_async(&mut conn).await
            })
            .await?;
        Ok(confirmed == 1)
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
