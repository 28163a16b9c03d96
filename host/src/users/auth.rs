//! Login checks. Unknown user, disabled user and wrong password all cost one argon2
//! verification plus the same configured delay, and give the same error.
//! Verified passwords are remembered for a few minutes as a keyed hash (as SFTPGo does),
//! so a client that logs in again does not pay argon2 twice; the cache never holds plaintext.
//! Checks that do need argon2 are bounded: each address has a token bucket, identical checks
//! running at once share one verification (rclone opens many connections with the same
//! password), and the verification itself runs on the fixed pool of [`super::verifier`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;

use super::file::{ANONYMOUS_NAMES, ResolvedMount, UsersFile};
use super::password;
use super::verifier::{Busy, Verifier};
use crate::access::IpRules;
use crate::access::login_throttle::{LoginLimits, LoginThrottle};
use crate::data::bandwidth::Limits;
use crate::protocol::Code;

const CACHE_TTL: Duration = Duration::from_secs(300);
const CACHE_MAX: usize = 10_000;

/// A password check that passed.
#[derive(Debug)]
pub struct Checked {
    pub account: Account,
    /// Answered from the cache of recent checks (no argon2 was paid).
    pub from_cache: bool,
}

/// A logged-in user as the session needs it.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    /// Effective mounts, the root first.
    pub mounts: Vec<ResolvedMount>,
    pub show_mounts: bool,
    pub max_sessions: u32,
    pub ip_rules: IpRules,
    pub anonymous: bool,
    pub ratio: Option<String>,
    /// Group names, for plugins with per-group rules.
    pub groups: Vec<String>,
    /// The user's own bandwidth limits, and those of its groups (each shared by the members).
    pub bandwidth: Limits,
    pub group_bandwidth: Vec<(String, Limits)>,
    /// Folders other users share with this one (`~owner/...`).
    pub shares: Vec<super::shares::ResolvedShare>,
    /// The `authenticate` plugin that vouched for this account (None: the users file). Such
    /// an account lives as long as its sessions; a users-file reload leaves it alone.
    pub external: Option<String>,
}

impl Account {
    pub fn home(&self) -> &PathBuf {
        &self.mounts[0].real
    }

    /// Who this account is to the bandwidth limits (its own, its groups', anonymous).
    pub fn bandwidth_subject(&self) -> crate::data::bandwidth::Subject<'_> {
        crate::data::bandwidth::Subject {
            user: &self.name,
            anonymous: self.anonymous,
            user_limits: self.bandwidth,
            groups: &self.group_bandwidth,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoginError {
    /// Deliberately one case for unknown user, disabled user and wrong password.
    #[error("Login incorrect.")]
    Incorrect,
    /// The address used up its password checks for now; nothing was checked.
    #[error("Too many login attempts from your address; try again in {0} s.")]
    Throttled(u64),
    /// The check could not run now (queue full or waited too long); nothing was checked.
    #[error("The server is busy checking passwords; try again shortly.")]
    Busy,
}

impl LoginError {
    /// 530 for a refused login; 421 (the session closes) when no check was made.
    pub fn code(&self) -> Code {
        match self {
            LoginError::Incorrect => Code::NOT_LOGGED_IN,
            LoginError::Throttled(_) | LoginError::Busy => Code::SERVICE_CLOSING,
        }
    }
}

/// Checks in flight, by (user, keyed hash of the password): later identical checks wait for
/// the first one's result instead of running argon2 again.
type InFlight = Mutex<HashMap<(String, Vec<u8>), Vec<tokio::sync::oneshot::Sender<Option<bool>>>>>;

pub struct Authenticator {
    users: RwLock<Arc<UsersFile>>,
    generation: AtomicU64,
    cache_key: hmac::Key,
    cache: Mutex<HashMap<String, (hmac::Tag, String, Instant)>>,
    /// Milliseconds every refused login waits; a config reload may change it.
    failure_delay_ms: AtomicU64,
    pub throttle: Arc<LoginThrottle>,
    verifier: Verifier,
    in_flight: InFlight,
}

impl Authenticator {
    pub fn new(users: UsersFile, failure_delay: Duration, limits: &LoginLimits) -> Authenticator {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let cache_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("system RNG available");
        let throttle = Arc::new(LoginThrottle::new(limits));
        let t = throttle.clone();
        let rank = Arc::new(move |ip| t.failures(ip, Instant::now()));
        Authenticator {
            users: RwLock::new(Arc::new(users)),
            generation: AtomicU64::new(0),
            cache_key,
            cache: Mutex::new(HashMap::new()),
            failure_delay_ms: AtomicU64::new(failure_delay.as_millis() as u64),
            throttle,
            verifier: Verifier::new(limits.workers(), limits, rank),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// New login limits (config reload); the worker count stays until a restart.
    pub fn set_limits(&self, limits: &LoginLimits) {
        self.throttle.set_limits(limits);
        self.verifier.set_limits(limits);
    }

    /// Password-check workers and checks waiting now (metrics, admin).
    pub fn check_load(&self) -> (usize, usize) {
        (self.verifier.workers(), self.verifier.queued())
    }

    /// How long a refused login waits, whoever refuses it (password, IP rules, a plugin), so
    /// that no refusal is a timing oracle.
    pub fn failure_delay(&self) -> Duration {
        Duration::from_millis(self.failure_delay_ms.load(Ordering::Relaxed))
    }

    pub fn set_failure_delay(&self, delay: Duration) {
        self.failure_delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn users(&self) -> Arc<UsersFile> {
        self.users.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the user list (reload); cached verifications are dropped.
    pub fn replace(&self, users: UsersFile) {
        *self.users.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(users);
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Changes with every reload; sessions compare it to refresh their account.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current account of a logged-in user (after a reload); None if deleted or disabled.
    pub fn current(&self, name: &str, anonymous: bool) -> Option<Account> {
        let users = self.users();
        if anonymous {
            return anonymous_account(&users, name);
        }
        let u = users.find(name).filter(|u| !u.disabled)?;
        account_of(&users, u)
    }

    pub fn is_anonymous_name(name: &str) -> bool {
        ANONYMOUS_NAMES.contains(&name.to_ascii_lowercase().as_str())
    }

    /// Anonymous login (`anonymous` or `ftp`, any password) when the users file enables it.
    pub fn login_anonymous(&self, name: &str) -> Option<Account> {
        anonymous_account(&self.users(), name)
    }

    /// Checks a password. The result says how: a password answered from the cache cost no
    /// argon2, and a refusal of it must pay that cost ([`Authenticator::refuse`]).
    pub async fn login(&self, name: &str, pass: &str, ip: IpAddr) -> Result<Checked, LoginError> {
        let users = self.users();
        let entry = users.find(name).filter(|u| !u.disabled).cloned();
        let stored = stored_hash(entry.as_ref());
        let tag = hmac::sign(&self.cache_key, pass.as_bytes());
        let cached = entry.is_some() && self.cache_hit(name, &tag, &stored);
        let ok = if cached {
            true
        } else {
            let verified = self.verify_shared(name, &tag, pass, &stored, ip).await?;
            verified && entry.is_some()
        };
        match entry {
            Some(u) if ok => {
                if !cached {
                    self.remember(name, tag, stored);
                }
                // Validated at load, so mounts resolve; a failure here is a refused login.
                let account = account_of(&users, &u).ok_or(LoginError::Incorrect)?;
                Ok(Checked {
                    account,
                    from_cache: cached,
                })
            }
            _ => {
                self.throttle.record_failure(ip, Instant::now());
                tokio::time::sleep(self.failure_delay()).await;
                Err(LoginError::Incorrect)
            }
        }
    }

    /// Refuses a correct password (a ban, the user's IP rules) exactly as a wrong one is
    /// refused: the same throttle token and argon2 check when the password came from the cache,
    /// the same failure record and delay. Otherwise the reply's timing (or a throttled
    /// attempt's 421) would tell a banned attacker which guess was right.
    pub async fn refuse(&self, name: &str, pass: &str, ip: IpAddr, from_cache: bool) -> LoginError {
        if from_cache {
            let stored = stored_hash(self.users().find(name));
            let tag = hmac::sign(&self.cache_key, pass.as_bytes());
            if let Err(e) = self.verify_shared(name, &tag, pass, &stored, ip).await {
                return e;
            }
        }
        self.throttle.record_failure(ip, Instant::now());
        tokio::time::sleep(self.failure_delay()).await;
        LoginError::Incorrect
    }

    /// One argon2 verification for all identical checks running at once; the first pays a
    /// token of its address's bucket and waits for a worker, the others wait for its result.
    async fn verify_shared(
        &self,
        name: &str,
        tag: &hmac::Tag,
        pass: &str,
        stored: &str,
        ip: IpAddr,
    ) -> Result<bool, LoginError> {
        let key = (name.to_ascii_lowercase(), tag.as_ref().to_vec());
        let waiter = {
            let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            match map.get_mut(&key) {
                Some(waiting) => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    waiting.push(tx);
                    Some(rx)
                }
                None => {
                    map.insert(key.clone(), Vec::new());
                    None
                }
            }
        };
        if let Some(rx) = waiter {
            return match rx.await {
                Ok(Some(ok)) => Ok(ok),
                _ => Err(LoginError::Busy),
            };
        }
        // The leader: whatever happens (even if this future is dropped), the waiters learn.
        let mut leader = Leader {
            map: &self.in_flight,
            key: Some(key),
            result: None,
        };
        if let Err(t) = self.throttle.try_check(ip, Instant::now()) {
            return Err(LoginError::Throttled(t.retry_after_secs));
        }
        let result = self.verifier.verify(ip, pass, stored).await;
        match result {
            Ok(ok) => {
                leader.result = Some(ok);
                Ok(ok)
            }
            Err(busy) => {
                tracing::info!(%ip, reason = %busy, "password check refused: server busy");
                Err(match busy {
                    Busy::PerIp | Busy::QueueFull | Busy::Waited => LoginError::Busy,
                })
            }
        }
    }

    fn cache_hit(&self, name: &str, tag: &hmac::Tag, stored: &str) -> bool {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&name.to_ascii_lowercase()) {
            Some((t, hash, at)) => {
                at.elapsed() < CACHE_TTL
                    && hash == stored
                    && aws_lc_rs::constant_time::verify_slices_are_equal(t.as_ref(), tag.as_ref())
                        .is_ok()
            }
            None => false,
        }
    }

    fn remember(&self, name: &str, tag: hmac::Tag, stored: String) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, _, at)| at.elapsed() < CACHE_TTL);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(name.to_ascii_lowercase(), (tag, stored, Instant::now()));
    }
}

/// Hands the leader's result to the identical checks that waited for it (None: try later).
struct Leader<'a> {
    map: &'a InFlight,
    key: Option<(String, Vec<u8>)>,
    result: Option<bool>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let waiting = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key)
            .unwrap_or_default();
        for tx in waiting {
            let _ = tx.send(self.result);
        }
    }
}

/// The hash a password is checked against: the user's, or a dummy one (same cost) when there
/// is no such user.
fn stored_hash(entry: Option<&super::file::UserEntry>) -> String {
    entry
        .map(|u| u.password.clone())
        .unwrap_or_else(|| password::dummy_hash().to_string())
}

fn account_of(users: &UsersFile, u: &super::file::UserEntry) -> Option<Account> {
    Some(Account {
        name: u.name.clone(),
        mounts: users.mounts_of(u).ok()?,
        show_mounts: u.show_mounts,
        max_sessions: u.max_sessions,
        ip_rules: u.ip_rules(),
        anonymous: false,
        ratio: u.ratio.clone(),
        groups: u.groups.clone(),
        bandwidth: u.bandwidth(),
        group_bandwidth: users
            .groups
            .iter()
            .filter(|g| u.groups.contains(&g.name) && g.bandwidth() != Limits::default())
            .map(|g| (g.name.clone(), g.bandwidth()))
            .collect(),
        shares: users.shares_for(u),
        external: None,
    })
}

fn anonymous_account(users: &UsersFile, name: &str) -> Option<Account> {
    let a = users.anonymous.as_ref().filter(|a| a.enabled)?;
    Some(Account {
        name: name.to_ascii_lowercase(),
        mounts: users.anonymous_mounts()?,
        show_mounts: true,
        max_sessions: a.max_sessions,
        ip_rules: IpRules::default(),
        anonymous: true,
        ratio: None,
        groups: Vec::new(),
        bandwidth: a.bandwidth(),
        group_bandwidth: Vec::new(),
        shares: Vec::new(),
        external: None,
    })
}
