//! Login checks. Unknown user, disabled user and wrong password all cost one argon2
//! verification plus the same configured delay, and give the same error.
//! Verified passwords are remembered for a few minutes as a keyed hash (as SFTPGo does),
//! so a client that logs in again does not pay argon2 twice; the cache never holds plaintext.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;

use super::file::{ANONYMOUS_NAMES, ResolvedMount, UsersFile};
use super::password;
use crate::access::IpRules;

const CACHE_TTL: Duration = Duration::from_secs(300);
const CACHE_MAX: usize = 10_000;

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
}

impl Account {
    pub fn home(&self) -> &PathBuf {
        &self.mounts[0].real
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoginError {
    /// Deliberately one case for unknown user, disabled user and wrong password.
    #[error("Login incorrect.")]
    Incorrect,
}

pub struct Authenticator {
    users: RwLock<Arc<UsersFile>>,
    generation: AtomicU64,
    cache_key: hmac::Key,
    cache: Mutex<HashMap<String, (hmac::Tag, String, Instant)>>,
    /// Milliseconds every refused login waits; a config reload may change it.
    failure_delay_ms: AtomicU64,
}

impl Authenticator {
    pub fn new(users: UsersFile, failure_delay: Duration) -> Authenticator {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let cache_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).expect("system RNG available");
        Authenticator {
            users: RwLock::new(Arc::new(users)),
            generation: AtomicU64::new(0),
            cache_key,
            cache: Mutex::new(HashMap::new()),
            failure_delay_ms: AtomicU64::new(failure_delay.as_millis() as u64),
        }
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

    pub async fn login(&self, name: &str, pass: &str) -> Result<Account, LoginError> {
        let users = self.users();
        let entry = users.find(name).filter(|u| !u.disabled).cloned();
        let stored = entry
            .as_ref()
            .map(|u| u.password.clone())
            .unwrap_or_else(|| password::dummy_hash().to_string());
        let tag = hmac::sign(&self.cache_key, pass.as_bytes());
        let cached = entry.is_some() && self.cache_hit(name, &tag, &stored);
        let ok = if cached {
            true
        } else {
            let pass = pass.to_string();
            let stored_c = stored.clone();
            let verified = tokio::task::spawn_blocking(move || password::verify(&pass, &stored_c))
                .await
                .unwrap_or(false);
            verified && entry.is_some()
        };
        match entry {
            Some(u) if ok => {
                if !cached {
                    self.remember(name, tag, stored);
                }
                // Validated at load, so mounts resolve; a failure here is a refused login.
                account_of(&users, &u).ok_or(LoginError::Incorrect)
            }
            _ => {
                tokio::time::sleep(self.failure_delay()).await;
                Err(LoginError::Incorrect)
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
    })
}
