//! Per-user session limits across the nodes of a cluster (`max_sessions`, `no_double_login`)
//! when the state store is shared: each logged-in session limited so holds a lease in the
//! store, one key per user (`ftpsd.sessions/<user>`) holding `node/session -> (ip, until)`.
//! A login claims a lease with one atomic read-modify-write (expired leases pruned, the limits
//! checked over every node's live leases); every node renews its sessions' leases every
//! [`RENEW`], so the leases of a node that died lapse after [`LEASE`] and stop counting.
//!
//! The local registry ([`super::sessions`]) still counts this node's sessions exactly; when the
//! store is unavailable a login is judged by that count alone (limits fall back to per node:
//! an outage must not lock every user out).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::state::{SharedStore, StoreError};

use super::sessions::SessionLimitError;

/// Namespace of the leases in the store.
pub const NS: &str = "ftpsd.sessions";
/// How long a lease lives without renewal.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a node renews its leases.
pub const RENEW: Duration = Duration::from_secs(10);

/// `node/session` -> (client address, lease end in Unix ms).
type Leases = BTreeMap<String, (String, u64)>;

pub struct ClusterSessions {
    store: SharedStore,
    /// This process: another start of the same node is another node (its old leases lapse).
    node: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(transparent)]
    Limit(#[from] SessionLimitError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse(value: &str) -> Leases {
    serde_json::from_str(value).unwrap_or_default()
}

/// What to store for `held`: its leases still running at `now`, expiring with the last of
/// them; None (delete the key) when none are left.
fn write(mut held: Leases, now: u64) -> Option<(String, Option<u64>)> {
    held.retain(|_, (_, until)| *until > now);
    let last = held.values().map(|(_, until)| *until).max()?;
    Some((serde_json::to_string(&held).ok()?, Some(last)))
}

impl ClusterSessions {
    /// `node`: this process's unique id in the cluster ([`crate::cluster::Node::id`]).
    pub fn new(store: SharedStore, node: &str) -> ClusterSessions {
        ClusterSessions {
            store,
            node: node.to_string(),
        }
    }

    fn lease(&self, session: u64) -> String {
        format!("{}/{session}", self.node)
    }

    /// Claims a lease for `session` of `user` from `ip`, within `max_sessions` (0 = no limit)
    /// and `no_double_login` over every node.
    pub fn claim(
        &self,
        user: &str,
        session: u64,
        ip: IpAddr,
        max_sessions: u32,
        no_double_login: bool,
    ) -> Result<(), ClaimError> {
        let now = crate::state::now_ms();
        let key = user.to_ascii_lowercase();
        let ip = ip.to_string();
        let mut refused = None;
        let lease = self.lease(session);
        self.store.update(NS, &key, now, &mut |cur| {
            let mut held = cur.map(|(v, _)| parse(&v)).unwrap_or_default();
            held.retain(|_, (_, until)| *until > now);
            refused = if no_double_login && held.values().any(|(a, _)| *a == ip) {
                Some(SessionLimitError::DoubleLogin(user.into()))
            } else if max_sessions > 0 && held.len() >= max_sessions as usize {
                Some(SessionLimitError::PerUser(user.into(), max_sessions))
            } else {
                None
            };
            if refused.is_none() {
                held.insert(lease.clone(), (ip.clone(), now + LEASE.as_millis() as u64));
            }
            Ok(write(held, now))
        })?;
        match refused {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Gives the lease back (the session ended).
    pub fn release(&self, user: &str, session: u64) {
        let now = crate::state::now_ms();
        let lease = self.lease(session);
        let r = self
            .store
            .update(NS, &user.to_ascii_lowercase(), now, &mut |cur| {
                let mut held = cur.map(|(v, _)| parse(&v)).unwrap_or_default();
                held.remove(&lease);
                Ok(write(held, now))
            });
        if let Err(e) = r {
            tracing::warn!(user, error = %e, "cannot release a session lease; it lapses by itself");
        }
    }

    /// Renews the leases of this node's live sessions (`user`, session ids) and drops this
    /// node's leases that no session holds any more.
    pub fn renew(&self, live: &BTreeMap<String, Vec<(u64, IpAddr)>>) {
        let now = crate::state::now_ms();
        let until = now + LEASE.as_millis() as u64;
        let mine = format!("{}/", self.node);
        for (user, sessions) in live {
            let r = self.store.update(NS, user, now, &mut |cur| {
                let mut held = cur.map(|(v, _)| parse(&v)).unwrap_or_default();
                held.retain(|k, _| !k.starts_with(&mine));
                for (id, ip) in sessions {
                    held.insert(self.lease(*id), (ip.to_string(), until));
                }
                Ok(write(held, now))
            });
            if let Err(e) = r {
                tracing::warn!(user, error = %e, "cannot renew session leases");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_over_nodes_and_a_dead_nodes_leases_lapse() {
        let store: SharedStore = std::sync::Arc::new(crate::state::MemoryStore::default());
        let (a, b) = (
            ClusterSessions::new(store.clone(), "a"),
            ClusterSessions::new(store.clone(), "b"),
        );
        let ip1: IpAddr = "10.0.0.1".parse().unwrap();
        let ip2: IpAddr = "10.0.0.2".parse().unwrap();
        a.claim("Bob", 1, ip1, 1, false).unwrap();
        assert!(matches!(
            b.claim("bob", 7, ip2, 1, false),
            Err(ClaimError::Limit(SessionLimitError::PerUser(_, 1)))
        ));
        assert!(matches!(
            b.claim("bob", 7, ip1, 0, true),
            Err(ClaimError::Limit(SessionLimitError::DoubleLogin(_)))
        ));
        b.claim("bob", 7, ip2, 2, true).unwrap();
        a.release("bob", 1);
        b.claim("bob", 8, ip1, 2, true).unwrap();
        // Node b renews only session 8: its lease 7 is gone.
        b.renew(&BTreeMap::from([("bob".to_string(), vec![(8, ip1)])]));
        a.claim("bob", 2, ip2, 2, false).unwrap();
    }
}
