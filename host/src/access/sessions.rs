//! Logged-in sessions: per-user session limits and "no double login from the same IP", counted
//! exactly (check and insert under one lock), and a way to end a user's sessions (a users-file
//! reload that deletes or disables the user).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::kill_switch::KillSwitch;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionLimitError {
    #[error("Too many sessions for user {0} ({1} allowed).")]
    PerUser(String, u32),
    #[error("User {0} is already logged in from your address; double login is not allowed.")]
    DoubleLogin(String),
}

struct Entry {
    user: String,
    ip: IpAddr,
    kill: Arc<KillSwitch>,
    info: Arc<LiveInfo>,
    /// Whether it holds a cluster lease (see [`super::cluster_sessions`]) to renew.
    leased: bool,
}

/// What a logged-in session is doing, for the operator (updated by the session).
#[derive(Default)]
pub struct LiveInfo {
    pub since_ms: u64,
    pub tls: AtomicBool,
    pub command: Mutex<String>,
    pub transfer: Mutex<Option<LiveTransfer>>,
}

pub struct LiveTransfer {
    pub what: String,
    pub started: std::time::Instant,
    pub progress: Arc<AtomicU64>,
    /// The strictest bandwidth limit it moves under, bytes/s.
    pub limit: Option<u64>,
}

/// One session as the admin interface shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionView {
    pub id: u64,
    /// The node it is on, in a cluster's listing (absent on a single node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub user: String,
    pub ip: String,
    pub since_ms: u64,
    pub tls: bool,
    pub command: String,
    pub transfer: Option<TransferView>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TransferView {
    pub what: String,
    pub bytes: u64,
    pub secs: f64,
    /// Bytes per second so far.
    pub rate: f64,
    /// The strictest bandwidth limit it moves under, bytes/s (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Default)]
pub struct SessionRegistry {
    entries: Mutex<Entries>,
    next: AtomicU64,
    /// Told when a session logs in or ends (the cluster's listing is republished).
    pub changed: tokio::sync::Notify,
}

/// Held by a logged-in session; dropping it unregisters the session.
pub struct LoginGuard {
    id: u64,
    registry: Arc<SessionRegistry>,
    /// The cluster lease to give back at the end.
    lease: Option<(Arc<super::cluster_sessions::ClusterSessions>, String)>,
    /// Pulled when the session must end.
    pub kill: Arc<KillSwitch>,
    pub info: Arc<LiveInfo>,
}

/// The sessions, and how many each user has in all and from each address, so a login's limit
/// checks cost the same with ten sessions as with ten thousand.
#[derive(Default)]
struct Entries {
    by_id: HashMap<u64, Entry>,
    per_user: HashMap<String, u32>,
    per_user_ip: HashMap<(String, IpAddr), u32>,
}

impl Entries {
    fn insert(&mut self, id: u64, entry: Entry) {
        *self.per_user.entry(entry.user.clone()).or_default() += 1;
        *self
            .per_user_ip
            .entry((entry.user.clone(), entry.ip))
            .or_default() += 1;
        self.by_id.insert(id, entry);
    }

    fn remove(&mut self, id: u64) {
        let Some(e) = self.by_id.remove(&id) else {
            return;
        };
        let key = (e.user, e.ip);
        if let Some(n) = self.per_user_ip.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.per_user_ip.remove(&key);
            }
        }
        if let Some(n) = self.per_user.get_mut(&key.0) {
            *n -= 1;
            if *n == 0 {
                self.per_user.remove(&key.0);
            }
        }
    }

    fn values(&self) -> impl Iterator<Item = &Entry> {
        self.by_id.values()
    }
}

impl SessionRegistry {
    /// A new session id (from 1): given at connect, so plugins see one id for a connection
    /// from its first event on, and the registry lists the session under it after login.
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn register(
        self: &Arc<Self>,
        id: u64,
        user: &str,
        ip: IpAddr,
        max_sessions: u32,
        no_double_login: bool,
    ) -> Result<LoginGuard, SessionLimitError> {
        let key = user.to_ascii_lowercase();
        let ip = crate::config::network::canonical(ip);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let count = entries.per_user.get(&key).copied().unwrap_or(0);
        let same_ip = no_double_login && entries.per_user_ip.contains_key(&(key.clone(), ip));
        if no_double_login && same_ip {
            return Err(SessionLimitError::DoubleLogin(user.into()));
        }
        if max_sessions > 0 && count >= max_sessions {
            return Err(SessionLimitError::PerUser(user.into(), max_sessions));
        }
        let kill = Arc::new(KillSwitch::default());
        let info = Arc::new(LiveInfo {
            since_ms: crate::state::now_ms(),
            ..LiveInfo::default()
        });
        entries.insert(
            id,
            Entry {
                user: key,
                ip,
                kill: kill.clone(),
                info: info.clone(),
                leased: false,
            },
        );
        drop(entries);
        self.changed.notify_one();
        Ok(LoginGuard {
            id,
            registry: self.clone(),
            lease: None,
            kill,
            info,
        })
    }

    /// Ends every session of `user`; returns how many were told.
    pub fn end_user(&self, user: &str, reason: &str) -> usize {
        let key = user.to_ascii_lowercase();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for e in entries.values().filter(|e| e.user == key) {
            e.kill.pull(reason);
            n += 1;
        }
        n
    }

    /// Names of users with at least one session (for reloads).
    pub fn logged_in_users(&self) -> Vec<String> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<String> = entries.per_user.keys().cloned().collect();
        v.sort();
        v
    }

    /// Every logged-in session, oldest first.
    pub fn list(&self) -> Vec<SessionView> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<SessionView> = entries
            .by_id
            .iter()
            .map(|(id, e)| {
                let transfer = e
                    .info
                    .transfer
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map(|t| {
                        let bytes = t.progress.load(Ordering::Relaxed);
                        let secs = t.started.elapsed().as_secs_f64();
                        TransferView {
                            what: t.what.clone(),
                            bytes,
                            secs,
                            rate: if secs > 0.0 { bytes as f64 / secs } else { 0.0 },
                            limit: t.limit,
                        }
                    });
                SessionView {
                    id: *id,
                    node: None,
                    user: e.user.clone(),
                    ip: e.ip.to_string(),
                    since_ms: e.info.since_ms,
                    tls: e.info.tls.load(Ordering::Relaxed),
                    command: e
                        .info
                        .command
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone(),
                    transfer,
                }
            })
            .collect();
        v.sort_by_key(|s| s.id);
        v
    }

    /// Ends one session; false if there is no such session.
    pub fn kick(&self, id: u64, reason: &str) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.by_id.get(&id) {
            Some(e) => {
                e.kill.pull(reason);
                true
            }
            None => false,
        }
    }

    /// Ends every session; returns how many were told.
    pub fn kick_all(&self, reason: &str) -> usize {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for e in entries.values() {
            e.kill.pull(reason);
        }
        entries.by_id.len()
    }

    pub fn count(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .len()
    }
}

impl LoginGuard {
    /// Records the cluster lease this session holds: renewed while it lives, released after.
    pub fn hold_lease(
        &mut self,
        cluster: Arc<super::cluster_sessions::ClusterSessions>,
        user: &str,
    ) {
        if let Some(e) = self
            .registry
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .get_mut(&self.id)
        {
            e.leased = true;
        }
        self.lease = Some((cluster, user.to_string()));
    }
}

impl SessionRegistry {
    /// This node's sessions holding cluster leases, by user (for their renewal).
    pub fn leased(&self) -> std::collections::BTreeMap<String, Vec<(u64, IpAddr)>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: std::collections::BTreeMap<String, Vec<(u64, IpAddr)>> = Default::default();
        for (id, e) in entries.by_id.iter().filter(|(_, e)| e.leased) {
            out.entry(e.user.clone()).or_default().push((*id, e.ip));
        }
        out
    }
}

impl Drop for LoginGuard {
    fn drop(&mut self) {
        self.registry
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.id);
        self.registry.changed.notify_one();
        if let Some((cluster, user)) = self.lease.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let id = self.id;
            rt.spawn_blocking(move || cluster.release(&user, id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let r = Arc::new(SessionRegistry::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let g1 = r.register(r.next_id(), "Bob", a, 2, true).unwrap();
        assert_eq!(
            r.register(r.next_id(), "bob", a, 2, true).err(),
            Some(SessionLimitError::DoubleLogin("bob".into()))
        );
        let _g2 = r.register(r.next_id(), "bob", b, 2, true).unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        assert_eq!(
            r.register(r.next_id(), "bob", c, 2, true).err(),
            Some(SessionLimitError::PerUser("bob".into(), 2))
        );
        assert!(
            r.register(r.next_id(), "alice", a, 2, true).is_ok(),
            "other users are not affected"
        );
        drop(g1);
        let g3 = r.register(r.next_id(), "bob", c, 2, false).unwrap();
        assert_eq!(r.end_user("BOB", "deleted"), 2);
        assert_eq!(g3.kill.reason(), Some("deleted"));
    }

    /// The per-user and per-address counts follow logouts: an address that logged out may log
    /// in again under no-double-login, and a user with no session left is not listed.
    #[test]
    fn counts_follow_logouts() {
        let r = Arc::new(SessionRegistry::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let g1 = r.register(r.next_id(), "bob", a, 2, true).unwrap();
        let g2 = r.register(r.next_id(), "bob", b, 2, true).unwrap();
        drop(g1);
        let g3 = r.register(r.next_id(), "bob", a, 2, true).unwrap();
        assert!(r.register(r.next_id(), "bob", a, 0, true).is_err());
        assert_eq!(r.logged_in_users(), vec!["bob".to_string()]);
        drop((g2, g3));
        assert!(r.logged_in_users().is_empty());
        assert_eq!(r.count(), 0);
        let _g = r.register(r.next_id(), "bob", a, 1, true).unwrap();
    }
}
