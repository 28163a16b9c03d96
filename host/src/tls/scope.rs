//! One control session's view of the shared TLS session cache and ticket keys, so that a data
//! connection can only resume a TLS session that this control session (or one of its own data
//! connections) established.
//!
//! TLS 1.3 tickets also carry the session's token (`set_resumption_data`), but rustls reports
//! that token only for TLS 1.3. A TLS 1.2 client (curl `--tls-max 1.2`, older clients) resumes
//! by session ID or by ticket, and the only proof that it resumed *this* control session is
//! that the server could find the session at all: for data connections the scope hands out only
//! entries its control connection stored, resumed or was issued. The control connection itself
//! may resume any earlier session (a client reconnecting saves a full handshake); what it
//! resumes becomes part of its scope.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::ServerConfig;
use rustls::server::{ProducesTickets, StoresServerSessions};

/// Entries remembered per kind. The first `PINNED` are never forgotten: they are the control
/// handshake's (8 tickets, or one TLS 1.2 session ID), which clients such as lftp offer on
/// every data connection however long the session runs. After them the oldest go first; each
/// protected download issues 2 tickets, and clients such as curl offer the newest.
const REMEMBERED: usize = 64;
const PINNED: usize = 16;

/// What one control session may resume: the session IDs it stored and the tickets it issued
/// (as SHA-256 prefixes, 16 bytes each).
#[derive(Default)]
pub struct ResumptionScope {
    ids: Mutex<VecDeque<Vec<u8>>>,
    tickets: Mutex<VecDeque<[u8; 16]>>,
}

impl ResumptionScope {
    pub fn new() -> Arc<ResumptionScope> {
        Arc::default()
    }

    /// `shared` for the control connection: resumes any session, remembers what it stores,
    /// resumes and issues.
    pub fn control_config(self: &Arc<Self>, shared: &Arc<ServerConfig>) -> Arc<ServerConfig> {
        self.config(shared, Role::Control)
    }

    /// `shared` for a data connection: resumes only what the scope remembers.
    pub fn data_config(self: &Arc<Self>, shared: &Arc<ServerConfig>) -> Arc<ServerConfig> {
        self.config(shared, Role::Data)
    }

    fn config(self: &Arc<Self>, shared: &Arc<ServerConfig>, role: Role) -> Arc<ServerConfig> {
        let mut c = (**shared).clone();
        c.session_storage = Arc::new(ScopedStore {
            inner: shared.session_storage.clone(),
            scope: self.clone(),
            role,
        });
        c.ticketer = Arc::new(ScopedTicketer {
            inner: shared.ticketer.clone(),
            scope: self.clone(),
            role,
        });
        Arc::new(c)
    }

    fn remember_id(&self, key: &[u8]) {
        remember(&self.ids, key.to_vec());
    }

    fn knows_id(&self, key: &[u8]) -> bool {
        lock(&self.ids).iter().any(|k| k == key)
    }

    fn remember_ticket(&self, ticket: &[u8]) {
        remember(&self.tickets, digest(ticket));
    }

    fn knows_ticket(&self, ticket: &[u8]) -> bool {
        let d = digest(ticket);
        lock(&self.tickets).iter().any(|t| *t == d)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Control,
    Data,
}

fn remember<T>(list: &Mutex<VecDeque<T>>, item: T) {
    let mut l = lock(list);
    if l.len() == REMEMBERED {
        l.remove(PINNED);
    }
    l.push_back(item);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn digest(ticket: &[u8]) -> [u8; 16] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ticket);
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.as_ref()[..16]);
    out
}

struct ScopedStore {
    inner: Arc<dyn StoresServerSessions>,
    scope: Arc<ResumptionScope>,
    role: Role,
}

impl fmt::Debug for ScopedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScopedStore")
    }
}

impl StoresServerSessions for ScopedStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.scope.remember_id(&key);
        self.inner.put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.role {
            Role::Data if !self.scope.knows_id(key) => None,
            Role::Data => self.inner.get(key),
            Role::Control => {
                let found = self.inner.get(key)?;
                self.scope.remember_id(key);
                Some(found)
            }
        }
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.role {
            Role::Data if !self.scope.knows_id(key) => None,
            _ => self.inner.take(key),
        }
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

struct ScopedTicketer {
    inner: Arc<dyn ProducesTickets>,
    scope: Arc<ResumptionScope>,
    role: Role,
}

impl fmt::Debug for ScopedTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScopedTicketer")
    }
}

impl ProducesTickets for ScopedTicketer {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let ticket = self.inner.encrypt(plain)?;
        self.scope.remember_ticket(&ticket);
        Some(ticket)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        match self.role {
            Role::Data if !self.scope.knows_ticket(cipher) => None,
            Role::Data => self.inner.decrypt(cipher),
            Role::Control => {
                let plain = self.inner.decrypt(cipher)?;
                self.scope.remember_ticket(cipher);
                Some(plain)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_finds_only_what_it_stored_or_issued() {
        let shared_store = rustls::server::ServerSessionMemoryCache::new(16);
        let shared_ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().unwrap();
        let (a, b) = (ResumptionScope::new(), ResumptionScope::new());
        let store = |s: &Arc<ResumptionScope>| ScopedStore {
            inner: shared_store.clone(),
            scope: s.clone(),
            role: Role::Data,
        };
        let ticketer = |s: &Arc<ResumptionScope>| ScopedTicketer {
            inner: shared_ticketer.clone(),
            scope: s.clone(),
            role: Role::Data,
        };
        assert!(store(&a).put(b"id-a".to_vec(), b"session a".to_vec()));
        assert_eq!(store(&a).get(b"id-a").as_deref(), Some(&b"session a"[..]));
        assert_eq!(store(&b).get(b"id-a"), None, "another session's ID");
        assert_eq!(store(&b).take(b"id-a"), None);
        let t = ticketer(&a).encrypt(b"state a").unwrap();
        assert_eq!(ticketer(&a).decrypt(&t).as_deref(), Some(&b"state a"[..]));
        assert_eq!(ticketer(&b).decrypt(&t), None, "another session's ticket");
        assert_eq!(
            shared_ticketer.decrypt(&t).as_deref(),
            Some(&b"state a"[..])
        );
    }

    #[test]
    fn a_control_connection_resumes_any_session_and_adopts_it() {
        let shared_store = rustls::server::ServerSessionMemoryCache::new(16);
        let shared_ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().unwrap();
        let (old, new) = (ResumptionScope::new(), ResumptionScope::new());
        let pair = |s: &Arc<ResumptionScope>, role| {
            (
                ScopedStore {
                    inner: shared_store.clone(),
                    scope: s.clone(),
                    role,
                },
                ScopedTicketer {
                    inner: shared_ticketer.clone(),
                    scope: s.clone(),
                    role,
                },
            )
        };
        let (old_store, old_ticketer) = pair(&old, Role::Control);
        old_store.put(b"id".to_vec(), b"v".to_vec());
        let t = old_ticketer.encrypt(b"state").unwrap();
        // Data connections of the new session cannot use the old session's entries...
        let (new_data_store, new_data_ticketer) = pair(&new, Role::Data);
        assert_eq!(new_data_store.get(b"id"), None);
        assert_eq!(new_data_ticketer.decrypt(&t), None);
        // ...until its control connection resumed them.
        let (new_store, new_ticketer) = pair(&new, Role::Control);
        assert!(new_store.get(b"id").is_some() && new_ticketer.decrypt(&t).is_some());
        assert!(new_data_store.get(b"id").is_some());
        assert!(new_data_ticketer.decrypt(&t).is_some());
    }

    #[test]
    fn the_control_handshakes_entries_stay_and_the_oldest_later_ones_go() {
        let s = ResumptionScope::new();
        for i in 0..REMEMBERED + 1 {
            s.remember_ticket(&[i as u8]);
        }
        assert!((0..PINNED).all(|i| s.knows_ticket(&[i as u8])), "pinned");
        assert!(
            !s.knows_ticket(&[PINNED as u8]),
            "the oldest unpinned one went"
        );
        assert!(s.knows_ticket(&[PINNED as u8 + 1]) && s.knows_ticket(&[REMEMBERED as u8]));
    }
}
