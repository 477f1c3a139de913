//! Multi-tenant issuers (feature `remote`): one issuer pattern such as
//! `https://login.microsoftonline.com/{tenantid}/v2.0`, each tenant's
//! verifier made on first sight (its keys fetched then), once (single
//! flight), for a bounded number of tenants; a tenant the allow-list does
//! not name is refused without any fetch, a tenant whose keys could not be
//! had is not tried again before a cooldown, and a new tenant when the
//! table is full evicts a failed or idle one, or waits (503).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt as _, Shared};
use tokio::runtime::Handle;

use super::IssuerVerifier;
use crate::error::{AuthError, AuthErrorKind, FetchError, FetchErrorKind};
use crate::http_client::Shown;
use crate::keys::AlgorithmSet;

/// The placeholder of an issuer pattern.
pub(crate) const PLACEHOLDER: &str = "{tenantid}";

/// Longest accepted tenant id, in bytes (an Entra tenant id is a 36-byte
/// GUID).
const MAX_TENANT_LEN: usize = 128;

/// Makes one tenant's verifier: (tenant id, its issuer) to the verifier,
/// its keys fetched.
pub(crate) type MakeTenant = Arc<
    dyn Fn(String, String) -> BoxFuture<'static, Result<IssuerVerifier, FetchError>> + Send + Sync,
>;

/// An issuer pattern: the text before and after `{tenantid}`.
#[derive(Clone)]
pub(crate) struct Pattern {
    prefix: String,
    suffix: String,
}

impl fmt::Debug for Pattern {
    // Without the userinfo of the URL it starts with.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pattern")
            .field("prefix", &Shown(&self.prefix).to_string())
            .field("suffix", &self.suffix)
            .finish()
    }
}

impl Pattern {
    /// `None` unless `{tenantid}` occurs exactly once.
    pub(crate) fn parse(pattern: &str) -> Option<Self> {
        let (prefix, suffix) = pattern.split_once(PLACEHOLDER)?;
        if suffix.contains(PLACEHOLDER) {
            return None;
        }
        Some(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The tenant id of `iss`, if it has this pattern's form and the id is
    /// a plain identifier (letters, digits, `-`, `_`, inner `.`; no `..`):
    /// it goes into URLs, so no `/`, `?`, `#`, `%` or dot segments.
    pub(crate) fn tenant<'a>(&self, iss: &'a str) -> Option<&'a str> {
        let tenant = iss
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        valid_tenant(tenant).then_some(tenant)
    }

    /// The issuer of `tenant`.
    pub(crate) fn issuer(&self, tenant: &str) -> String {
        format!("{}{tenant}{}", self.prefix, self.suffix)
    }
}

/// Whether `tenant` may be a tenant id (see [`Pattern::tenant`]).
pub(crate) fn valid_tenant(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant.len() <= MAX_TENANT_LEN
        && !tenant.starts_with('.')
        && !tenant.ends_with('.')
        && !tenant.contains("..")
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

type Loading = Shared<BoxFuture<'static, ()>>;

enum Slot {
    /// Loaded; `used`: when a request last looked it up.
    Ready {
        verifier: Arc<IssuerVerifier>,
        used: Instant,
    },
    Loading(Loading),
    /// The keys could not be had at `at`; `unavailable`: the provider
    /// failed (503), else the tenant does not exist there (401).
    Failed {
        at: Instant,
        unavailable: bool,
    },
}

/// The limits of a tenant table.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// The tenants accepted; `None`: any (bounded by `max_tenants`).
    pub(crate) allowed: Option<HashSet<String>>,
    /// The most tenants held at once (with an allow-list, its length).
    pub(crate) max_tenants: usize,
    /// How long a failed tenant is refused, and how long a ready tenant
    /// must be unused before a new tenant may evict it.
    pub(crate) cooldown: Duration,
    /// The longest a tenant's first load (discovery and keys) may take.
    pub(crate) load_timeout: Duration,
}

/// The tenants of one issuer pattern.
pub(crate) struct TenantTable {
    pub(crate) pattern: Pattern,
    pub(crate) limits: Limits,
    /// The template's algorithms and size limit (every tenant has them).
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) max_token_len: usize,
    make: MakeTenant,
    slots: Mutex<HashMap<String, Slot>>,
    runtime: Handle,
    this: Weak<TenantTable>,
}

impl fmt::Debug for TenantTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenants = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("TenantTable")
            .field("pattern", &self.pattern)
            .field("limits", &self.limits)
            .field("algorithms", &self.algorithms)
            .field("tenants", &tenants)
            .finish_non_exhaustive()
    }
}

/// A tenant's verifier now, or a wait for it.
pub(crate) enum Lookup {
    Ready(Arc<IssuerVerifier>),
    Loading(Loading),
}

impl TenantTable {
    pub(crate) fn new(
        pattern: Pattern,
        limits: Limits,
        algorithms: AlgorithmSet,
        max_token_len: usize,
        make: MakeTenant,
        runtime: Handle,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            pattern,
            limits,
            algorithms,
            max_token_len,
            make,
            slots: Mutex::new(HashMap::new()),
            runtime,
            this: this.clone(),
        })
    }

    /// The verifier of the tenant `iss` names, starting its load when the
    /// tenant is new, allowed and there is room for it.
    ///
    /// # Errors
    /// `InvalidIssuer` (401) for an issuer not of the pattern, a tenant
    /// not allowed, or unknown to the provider; `KeySourceUnavailable`
    /// (503) while its provider fails, or while the table is full and no
    /// tenant can be evicted.
    pub(crate) fn lookup(&self, iss: &str) -> Result<Lookup, AuthError> {
        let refused = || AuthError::claim(AuthErrorKind::InvalidIssuer, "iss");
        let tenant = self.pattern.tenant(iss).ok_or_else(refused)?;
        if self
            .limits
            .allowed
            .as_ref()
            .is_some_and(|allowed| !allowed.contains(tenant))
        {
            return Err(refused());
        }
        let mut slots = self
            .slots
            .lock()
            .map_err(|_| AuthError::new(AuthErrorKind::KeySourceUnavailable))?;
        match slots.get_mut(tenant) {
            Some(Slot::Ready { verifier, used }) => {
                *used = Instant::now();
                return Ok(Lookup::Ready(Arc::clone(verifier)));
            }
            Some(Slot::Loading(wait)) => return Ok(Lookup::Loading(wait.clone())),
            Some(Slot::Failed { at, unavailable }) if at.elapsed() < self.limits.cooldown => {
                return Err(if *unavailable {
                    AuthError::new(AuthErrorKind::KeySourceUnavailable)
                } else {
                    refused()
                });
            }
            Some(Slot::Failed { .. }) => {}
            None => {
                if slots.len() >= self.limits.max_tenants && !self.make_room(&mut slots) {
                    tracing::warn!(
                        max_tenants = self.limits.max_tenants,
                        "new tenant waits: the tenant table is full of tenants in use"
                    );
                    return Err(AuthError::new(AuthErrorKind::KeySourceUnavailable));
                }
            }
        }
        let wait = self.start(tenant.to_owned());
        slots.insert(tenant.to_owned(), Slot::Loading(wait.clone()));
        Ok(Lookup::Loading(wait))
    }

    /// Frees one slot of a full table: forgets every tenant that failed a
    /// cooldown ago, else the least recently used ready tenant unused for
    /// a cooldown. `false` when every tenant is loading, failed within the
    /// cooldown or in use: a slot is then reused at most once a cooldown.
    fn make_room(&self, slots: &mut HashMap<String, Slot>) -> bool {
        let cooldown = self.limits.cooldown;
        slots
            .retain(|_, slot| !matches!(slot, Slot::Failed { at, .. } if at.elapsed() >= cooldown));
        if slots.len() < self.limits.max_tenants {
            return true;
        }
        let idlest = slots
            .iter()
            .filter_map(|(tenant, slot)| match slot {
                Slot::Ready { used, .. } if used.elapsed() >= cooldown => Some((*used, tenant)),
                _ => None,
            })
            .min()
            .map(|(_, tenant)| tenant.clone());
        match idlest {
            Some(tenant) => {
                tracing::info!(%tenant, "tenant evicted: unused, and the tenant table is full");
                slots.remove(&tenant);
                true
            }
            None => false,
        }
    }

    /// The verifier of the tenant `iss` names, if it is ready.
    pub(crate) fn ready(&self, iss: &str) -> Option<Arc<IssuerVerifier>> {
        let tenant = self.pattern.tenant(iss)?;
        match self.slots.lock().ok()?.get_mut(tenant)? {
            Slot::Ready { verifier, used } => {
                *used = Instant::now();
                Some(Arc::clone(verifier))
            }
            _ => None,
        }
    }

    /// Every ready tenant's verifier.
    pub(crate) fn each_ready(&self) -> Vec<Arc<IssuerVerifier>> {
        self.slots
            .lock()
            .map(|slots| {
                slots
                    .values()
                    .filter_map(|s| match s {
                        Slot::Ready { verifier, .. } => Some(Arc::clone(verifier)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Loads `tenant` in a task of its own (it finishes even if no request
    /// waits any more); the table is held weakly.
    fn start(&self, tenant: String) -> Loading {
        let issuer = self.pattern.issuer(&tenant);
        let made = (self.make)(tenant.clone(), issuer.clone());
        let tenant_for_cleanup = tenant.clone();
        let table = self.this.clone();
        tracing::info!(issuer = %Shown(&issuer), "new tenant: fetching its keys");
        let limit = self.limits.load_timeout;
        let task = self.runtime.spawn(async move {
            let result = match tokio::time::timeout(limit, made).await {
                Ok(result) => result,
                Err(_) => Err(FetchError::new(&issuer, FetchErrorKind::Timeout)),
            };
            let Some(table) = table.upgrade() else { return };
            let slot = match result {
                Ok(verifier) => Slot::Ready {
                    verifier: Arc::new(verifier),
                    used: Instant::now(),
                },
                Err(e) => {
                    tracing::warn!(issuer = %Shown(&issuer), error = %e, "tenant keys unavailable");
                    Slot::Failed {
                        at: Instant::now(),
                        unavailable: !not_a_tenant(&e),
                    }
                }
            };
            if let Ok(mut slots) = table.slots.lock() {
                slots.insert(tenant, slot);
            };
        });
        // A load that died (a panic) leaves no tenant half made: forget it.
        let table = self.this.clone();
        let task = task.map(move |joined| {
            if joined.is_err() {
                if let Some(table) = table.upgrade() {
                    if let Ok(mut slots) = table.slots.lock() {
                        slots.remove(&tenant_for_cleanup);
                    };
                }
            }
        });
        task.boxed().shared()
    }
}

/// Failures that say the provider has no such tenant (a 4xx, or discovery
/// naming another issuer), rather than that it is down.
fn not_a_tenant(e: &FetchError) -> bool {
    matches!(
        e.kind(),
        FetchErrorKind::Status(400..=499)
            | FetchErrorKind::IssuerMismatch
            | FetchErrorKind::MissingJwksUri
            | FetchErrorKind::NoUsableKeys
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_has_one_placeholder_and_tenants_are_plain_identifiers() {
        assert!(Pattern::parse("https://x/v2.0").is_none());
        assert!(Pattern::parse("https://x/{tenantid}/{tenantid}").is_none());
        let p = Pattern::parse("https://login.example/{tenantid}/v2.0").unwrap();
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        assert_eq!(p.tenant(&p.issuer(tid)), Some(tid));
        for bad in [
            "https://login.example//v2.0",
            "https://login.example/a/b/v2.0",
            "https://login.example/../v2.0",
            "https://login.example/a?b/v2.0",
            "https://login.example/a%2fb/v2.0",
            "https://login.example/.a/v2.0",
            "https://login.example/a/v2.0/",
            "https://other.example/a/v2.0",
        ] {
            assert_eq!(p.tenant(bad), None, "{bad}");
        }
        assert_eq!(p.tenant(&p.issuer(&"a".repeat(129))), None);
    }
}
