//! Key files re-read when they change, and keys replaced from code
//! ([`KeyHandle`]): the keys of one verifier, swapped in whole.
//!
//! A verifier whose keys may change holds them in an [`ArcSwap`]: a request
//! loads one complete [`KeySet`] without a lock and keeps it for its whole
//! verification, so it never sees half of a swap. Its keys are the union of
//! its sources: the keys given to the builder directly, the last good
//! version of each key file, and the keys of its [`KeyHandle`]. A new
//! version of one source is checked against the others (no shared `kid`,
//! at least one allowed algorithm) before it is published; a version that
//! fails changes nothing.
//!
//! Files are polled by one plain thread per authenticator (no async runtime
//! needed): every interval it reads each file whole and compares a SHA-256
//! digest of its bytes with the version it saw last. Reading the content,
//! rather than comparing modification times, sees every kind of
//! replacement alike: a rewrite in place (even within one timestamp tick),
//! a rename over the file, and the symlink swap of a Kubernetes Secret
//! volume (`..data` pointing at a new directory), and a file that is
//! missing or unreadable for a while. The thread holds the keys weakly and
//! ends when the last clone of the authenticator is dropped.

use std::fmt;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest as _, Sha256};

use super::{AlgorithmSet, Key, KeySet};
use crate::error::{ConfigError, KeyError};

/// The largest key file read (1 MiB): a larger one is refused.
const MAX_FILE_LEN: u64 = 1 << 20;

/// Default time between two reads of the key files.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// How key files are watched: how often they are read again, or not at all.
///
/// Key files are those of
/// [`jwk_set_file`](crate::AuthenticatorBuilder::jwk_set_file),
/// [`public_key_pem_file`](crate::AuthenticatorBuilder::public_key_pem_file)
/// and [`spiffe_bundle_file`](crate::AuthenticatorBuilder::spiffe_bundle_file).
/// Every interval (default 10 s) each file is read whole; a version that
/// differs from the last one seen replaces that file's keys if it is valid,
/// and is otherwise ignored with one warning naming the file (feature
/// `tracing`), the last good keys verifying on. Beside a remote key source
/// ([`jwks_url`](crate::AuthenticatorBuilder::jwks_url) and its kin) the
/// files' keys are published with the remote ones, the allowed algorithms
/// fixed at build; with
/// [`tenant_issuers`](crate::AuthenticatorBuilder::tenant_issuers) they are
/// read once, at build.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt_auth::keys::KeyFileOptions;
///
/// let every_minute = KeyFileOptions::new().interval(Duration::from_secs(60));
/// let read_once = KeyFileOptions::new().reload(false);
/// # let _ = (every_minute, read_once);
/// ```
#[derive(Debug, Clone)]
pub struct KeyFileOptions {
    pub(crate) interval: Duration,
    pub(crate) reload: bool,
}

impl Default for KeyFileOptions {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            reload: true,
        }
    }
}

impl KeyFileOptions {
    /// The defaults: files read again every 10 s.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Time between two reads of the files (default 10 s; at least 10 ms).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Whether the files are read again while the authenticator lives (default true).
    ///
    /// False reads them once, at build.
    #[must_use]
    pub fn reload(mut self, reload: bool) -> Self {
        self.reload = reload;
        self
    }
}

/// What a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// A JWK Set ([`KeySet::from_jwks_json`]).
    JwkSet,
    /// One PEM public key ([`Key::from_pem`]).
    Pem,
    /// A SPIFFE trust bundle ([`KeySet::from_spiffe_bundle_json`]).
    SpiffeBundle,
}

/// What a read of a file found: a digest of its bytes, or the kind of
/// error. Two reads that find the same are the same version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Read([u8; 32]),
    Failed(io::ErrorKind),
}

/// One key file: where, what, the last version seen and the keys of the
/// last good one.
pub(crate) struct KeyFile {
    path: PathBuf,
    kind: FileKind,
    seen: Version,
    good: Version,
    keys: KeySet,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// Reads a whole file, at most [`MAX_FILE_LEN`] bytes.
fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "larger than 1 MiB",
        ));
    }
    Ok(bytes)
}

fn parse(kind: FileKind, bytes: &[u8]) -> Result<KeySet, KeyError> {
    let text = || std::str::from_utf8(bytes).map_err(|_| KeyError::InvalidJwkSet);
    match kind {
        FileKind::JwkSet => KeySet::from_jwks_json(text()?),
        FileKind::SpiffeBundle => KeySet::from_spiffe_bundle_json(text()?),
        FileKind::Pem => {
            let mut set = KeySet::new();
            set.push(Key::from_pem(bytes)?)?;
            Ok(set)
        }
    }
}

impl KeyFile {
    /// Reads and parses the file at build.
    ///
    /// # Errors
    /// [`ConfigError::Io`] naming the path when it cannot be read, else the
    /// parse error.
    pub(crate) fn load(path: &Path, kind: FileKind) -> Result<Self, ConfigError> {
        let bytes = read_file(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let keys = parse(kind, &bytes)?;
        let version = Version::Read(Sha256::digest(&bytes).into());
        Ok(Self {
            path: path.to_owned(),
            kind,
            seen: version,
            good: version,
            keys,
        })
    }
}

/// The sources of one verifier's keys.
#[derive(Debug)]
pub(crate) struct Sources {
    pub(crate) fixed: KeySet,
    pub(crate) files: Vec<KeyFile>,
    pub(crate) handle: Option<KeyHandle>,
    /// The handle's keys as this verifier last took them.
    handle_keys: KeySet,
}

impl Sources {
    pub(crate) fn new(fixed: KeySet, files: Vec<KeyFile>, handle: Option<KeyHandle>) -> Self {
        let handle_keys = handle.as_ref().map(KeyHandle::keys).unwrap_or_default();
        Self {
            fixed,
            files,
            handle,
            handle_keys,
        }
    }

    /// Every source's keys in one set.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`] when two sources use one `kid`.
    pub(crate) fn union(&self) -> Result<KeySet, KeyError> {
        let mut set = self.fixed.clone();
        for file in &self.files {
            set.extend(file.keys.clone())?;
        }
        set.extend(self.handle_keys.clone())?;
        Ok(set)
    }

    /// [`union`](Self::union), refused when it holds keys but none may
    /// verify an algorithm of `allowed`.
    fn checked_union(&self, allowed: AlgorithmSet) -> Result<KeySet, ConfigError> {
        let set = self.union()?;
        if !set.is_empty() && set.algorithms().intersection(allowed).is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        Ok(set)
    }
}

/// Keys that change while the verifier runs: key files read again, a
/// [`KeyHandle`]'s keys replaced.
pub(crate) struct ReloadingKeys {
    current: ArcSwap<KeySet>,
    sources: Mutex<Sources>,
    /// The algorithms any key may ever verify here: the allow-list, or
    /// every algorithm when none was configured.
    allowed: AlgorithmSet,
    /// A remote source whose local keys these are: it gets every set
    /// published.
    #[cfg(feature = "remote")]
    remote: std::sync::OnceLock<Weak<super::remote::RemoteKeys>>,
    /// Dropped with the last clone of the authenticator: ends the thread
    /// that reads the files.
    _stop: Option<mpsc::Sender<()>>,
}

impl fmt::Debug for ReloadingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingKeys")
            .field("keys", &**self.current.load())
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; were it to, the data is
    // still whole (every update is one assignment).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ReloadingKeys {
    /// Publishes `keys` (the union of `sources`, checked by the build),
    /// registers with the handle, and starts the thread that reads the
    /// files when `options` say so.
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the thread cannot be started; as
    /// [`KeyHandle::replace`] when the handle's keys changed since the
    /// builder took them and no longer fit.
    pub(crate) fn start(
        keys: KeySet,
        sources: Sources,
        allowed: AlgorithmSet,
        options: &KeyFileOptions,
    ) -> Result<Arc<Self>, ConfigError> {
        let watch = options.reload && !sources.files.is_empty();
        let first_path = sources.files.first().map(|f| f.path.clone());
        let handle = sources.handle.clone();
        let (stop, stopped) = mpsc::channel();
        let this = Arc::new(Self {
            current: ArcSwap::from_pointee(keys),
            sources: Mutex::new(sources),
            allowed,
            #[cfg(feature = "remote")]
            remote: std::sync::OnceLock::new(),
            _stop: watch.then_some(stop),
        });
        if let Some(handle) = handle {
            // The handle's keys as of now: a replacement made since the
            // builder took them is not lost.
            let mut state = lock(&handle.inner);
            let mut sources = lock(&this.sources);
            sources.handle_keys = state.keys.clone();
            this.publish(sources.checked_union(allowed)?);
            drop(sources);
            state.stores.push(Arc::downgrade(&this));
        }
        if watch {
            let weak = Arc::downgrade(&this);
            let interval = options.interval;
            #[cfg(feature = "tracing")]
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            std::thread::Builder::new()
                .name("tower-jwt-auth-key-files".into())
                .spawn(move || {
                    #[cfg(feature = "tracing")]
                    let _guard = tracing::dispatcher::set_default(&dispatch);
                    watch_files(&weak, &stopped, interval);
                })
                .map_err(|source| ConfigError::Io {
                    path: first_path.unwrap_or_default(),
                    source,
                })?;
        }
        Ok(this)
    }

    /// The current keys (lock-free).
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.current.load()
    }

    /// From now on, every set published goes to `remote` too, as its
    /// local keys; the current set goes there at once.
    #[cfg(feature = "remote")]
    pub(crate) fn publish_to(&self, remote: &Arc<super::remote::RemoteKeys>) {
        // Under the sources' lock: no set is published meanwhile.
        let _sources = lock(&self.sources);
        let _ = self.remote.set(Arc::downgrade(remote));
        remote.set_local(self.current.load().as_ref().clone());
    }

    /// Publishes a new set (the caller holds the sources' lock, so sets
    /// are published in order).
    fn publish(&self, set: KeySet) {
        #[cfg(feature = "remote")]
        if let Some(remote) = self.remote.get().and_then(Weak::upgrade) {
            remote.set_local(set.clone());
        }
        self.current.store(Arc::new(set));
    }

    /// Reads every file once; publishes the keys when a file has a new
    /// good version.
    fn poll(&self) {
        let mut sources = lock(&self.sources);
        for i in 0..sources.files.len() {
            let file = &sources.files[i];
            let read = read_file(&file.path);
            let version = match &read {
                Ok(bytes) => Version::Read(Sha256::digest(bytes).into()),
                Err(e) => Version::Failed(e.kind()),
            };
            if version == file.seen {
                continue;
            }
            sources.files[i].seen = version;
            let file = &sources.files[i];
            let path = file.path.display().to_string();
            let bytes = match read {
                Ok(bytes) => bytes,
                Err(e) => {
                    warn_file(&path, &e);
                    continue;
                }
            };
            if version == file.good {
                // Back to the version in use: nothing to swap.
                info_file(
                    &path,
                    "key file back to the version in use",
                    file.keys.len(),
                );
                continue;
            }
            let keys = match parse(file.kind, &bytes) {
                Ok(keys) => keys,
                Err(e) => {
                    warn_file(&path, &e);
                    continue;
                }
            };
            let old = std::mem::replace(&mut sources.files[i].keys, keys);
            match sources.checked_union(self.allowed) {
                Ok(set) => {
                    let count = sources.files[i].keys.len();
                    sources.files[i].good = version;
                    self.publish(set);
                    info_file(&path, "key file reloaded", count);
                }
                Err(e) => {
                    sources.files[i].keys = old;
                    warn_file(&path, &e);
                }
            }
        }
    }
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn warn_file(path: &str, error: &dyn fmt::Display) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        path,
        error = %error,
        "key file version not used: the last good keys keep verifying"
    );
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn info_file(path: &str, what: &str, keys: usize) {
    #[cfg(feature = "tracing")]
    tracing::info!(path, keys, "{what}");
}

/// The thread that reads the files: every `interval`, until the keys are
/// dropped.
fn watch_files(weak: &Weak<ReloadingKeys>, stop: &mpsc::Receiver<()>, interval: Duration) {
    loop {
        match stop.recv_timeout(interval) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // The sender is dropped with the keys (and never sends).
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        let Some(keys) = weak.upgrade() else { return };
        keys.poll();
    }
}

/// Keys replaced from code: part of every authenticator built with the handle.
///
/// [`replace`](Self::replace) swaps them. Give it to the builder with
/// [`AuthenticatorBuilder::key_handle`](crate::AuthenticatorBuilder::key_handle);
/// its keys then verify besides the builder's other keys (a `kid` used
/// twice fails the build). A replacement is published whole: a request
/// uses the keys from before or from after it, never a mix. A key no
/// longer present stops verifying at once, cached tokens included. Beside
/// a remote key source its keys are published with the remote ones; it
/// cannot be combined with tenant issuers.
///
/// ```
/// use tower_jwt_auth::{Authenticator, keys::Key, keys::KeyHandle, keys::KeySet};
///
/// let mut keys = KeySet::new();
/// keys.push(Key::hmac(b"the first secret, 32 bytes long!")?.with_kid("k1"))?;
/// let handle = KeyHandle::new(keys);
/// let auth = Authenticator::builder().key_handle(&handle).build()?;
///
/// // Later: a new key, the old one withdrawn.
/// let mut rotated = KeySet::new();
/// rotated.push(Key::hmac(b"the second secret, 32 bytes long")?.with_kid("k2"))?;
/// handle.replace(rotated)?;
/// # let _ = auth;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct KeyHandle {
    inner: Arc<Mutex<HandleState>>,
}

struct HandleState {
    keys: KeySet,
    stores: Vec<Weak<ReloadingKeys>>,
}

impl fmt::Debug for KeyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyHandle")
            .field("keys", &lock(&self.inner).keys)
            .finish_non_exhaustive()
    }
}

impl KeyHandle {
    /// A handle holding `keys`.
    #[must_use]
    pub fn new(keys: KeySet) -> Self {
        Self {
            inner: Arc::new(Mutex::new(HandleState {
                keys,
                stores: Vec::new(),
            })),
        }
    }

    /// The handle's keys now.
    #[must_use]
    pub fn keys(&self) -> KeySet {
        lock(&self.inner).keys.clone()
    }

    /// Replaces the handle's keys in every authenticator built with it, all or none.
    ///
    /// An empty set withdraws the handle's keys (the authenticators' other
    /// keys keep verifying).
    ///
    /// # Errors
    /// [`ConfigError::Key`] ([`KeyError::DuplicateKid`]) when a key's `kid`
    /// is also one of an authenticator's other keys, and
    /// [`ConfigError::NoAlgorithms`] when no key of the result may verify
    /// an algorithm its allow-list admits: nothing is replaced.
    pub fn replace(&self, keys: KeySet) -> Result<(), ConfigError> {
        let mut state = lock(&self.inner);
        state.stores.retain(|s| s.strong_count() > 0);
        let stores: Vec<Arc<ReloadingKeys>> =
            state.stores.iter().filter_map(Weak::upgrade).collect();
        // Every store locked (each has one handle: no other order exists),
        // every result checked, then every store published.
        let mut locked: Vec<MutexGuard<'_, Sources>> =
            stores.iter().map(|s| lock(&s.sources)).collect();
        let mut sets = Vec::with_capacity(stores.len());
        for (store, sources) in stores.iter().zip(&mut locked) {
            let old = std::mem::replace(&mut sources.handle_keys, keys.clone());
            let result = sources.checked_union(store.allowed);
            sources.handle_keys = old;
            sets.push(result?);
        }
        for ((store, sources), set) in stores.iter().zip(&mut locked).zip(sets) {
            sources.handle_keys = keys.clone();
            store.publish(set);
        }
        state.keys = keys;
        Ok(())
    }
}
