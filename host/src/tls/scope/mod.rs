//! Which TLS sessions a data connection may resume: those of its own scope. A scope records
//! the session IDs it stored and the tickets it issued (as SHA-256 prefixes), and hands the
//! shared session cache and ticket keys to a data connection only for those. So a data
//! connection that resumes at all proves its client holds keys this server gave to that scope
//! (rustls reports resumption tokens only for TLS 1.3, so for TLS 1.2 this is the proof).
//!
//! Scopes, by `require_session_reuse` mode:
//! - `"connection"`: one control connection and its data connections (vsftpd's
//!   `require_ssl_reuse`).
//! - `"user"` (default): every session of one user from one client address. Clients that
//!   keep one ticket cache for all their connections (rclone/Go, FileZilla) offer a ticket
//!   another of their control connections received; within the scope it resumes. A control
//!   connection starts in a scope of its own (the handshake happens before USER) and joins
//!   the user's scope at login, bringing what its handshake issued.
//!
//! A client that shares one ticket cache across its connections (rclone) may offer, on a data
//! connection of a logged-in session, a ticket another of its control connections received a
//! moment ago, before that connection logged in. Such a resumption is tentative: the data
//! connection waits (within its handshake timeout) until that control connection logs in, and
//! is accepted only if it logs in as the same user — the keys then came from this server to
//! that user after all. A stranger's control connection at the same address never does.
//!
//! The control connection itself may resume any earlier session (a reconnecting client saves
//! a full handshake); what it resumes becomes part of its scope. Entries from control
//! handshakes are pinned (clients such as lftp offer them on every data connection however
//! long the session runs); later ones (tickets from data connections) are kept newest first.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

mod wrappers;

use rustls::ServerConfig;

/// Pinned entries per scope (control handshakes: 8 tickets or a session ID each) and recent
/// ones (2 per protected data connection); the oldest go first when full. A user's scope holds
/// all of that user's sessions from one address: 8192 pinned entries keep the tickets of 1024
/// control connections at once (200 concurrent sessions of one account, one address, are an
/// ordinary batch job), and 4096 recent ones the last 2048 data connections. Entries are
/// recorded only for handshakes this scope's own connections made, so they grow with its
/// sessions' work, never with a stranger's.
const PINNED: usize = 8192;
const RECENT: usize = 4096;

/// A bounded set, oldest first (hashed: a data handshake looks in thousands of entries).
struct Entries<T> {
    items: VecDeque<T>,
    index: HashSet<T>,
    cap: usize,
}

impl<T: Eq + std::hash::Hash + Clone> Entries<T> {
    fn new(cap: usize) -> Self {
        Entries {
            items: VecDeque::new(),
            index: HashSet::new(),
            cap,
        }
    }

    fn push(&mut self, item: T) {
        if self.index.contains(&item) {
            return;
        }
        if self.items.len() == self.cap
            && let Some(old) = self.items.pop_front()
        {
            self.index.remove(&old);
        }
        self.index.insert(item.clone());
        self.items.push_back(item);
    }

    fn contains(&self, item: &T) -> bool {
        self.index.contains(item)
    }
}

struct Lists {
    ids: Entries<Vec<u8>>,
    tickets: Entries<[u8; 16]>,
}

impl Lists {
    fn new(cap: usize) -> Self {
        Lists {
            ids: Entries::new(cap),
            tickets: Entries::new(cap),
        }
    }
}

/// Who a control connection's scope turned out to belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Not logged in yet.
    Unknown,
    /// Logged in as this user.
    User(String),
    /// The session ended without a login.
    Gone,
}

pub struct ResumptionScope {
    owner: tokio::sync::watch::Sender<Owner>,
    pinned: Mutex<Lists>,
    recent: Mutex<Lists>,
    /// TLS 1.3 resumption tokens of the control connections in this scope.
    tokens: Mutex<Entries<[u8; 16]>>,
    /// True while a control handshake runs: what it records is pinned.
    pinning: AtomicBool,
}

impl Default for ResumptionScope {
    fn default() -> Self {
        ResumptionScope {
            owner: tokio::sync::watch::channel(Owner::Unknown).0,
            pinned: Mutex::new(Lists::new(PINNED)),
            recent: Mutex::new(Lists::new(RECENT)),
            tokens: Mutex::new(Entries::new(PINNED)),
            pinning: AtomicBool::new(false),
        }
    }
}

impl ResumptionScope {
    pub fn new() -> Arc<ResumptionScope> {
        Arc::default()
    }

    /// `shared` for the control connection: resumes any session, and pins what it stores,
    /// resumes and issues. Call [`ResumptionScope::control_done`] after the handshake.
    /// `signal` fires when the connection creates a session ticket (`data::hold`).
    pub fn control_config(
        self: &Arc<Self>,
        shared: &Arc<ServerConfig>,
        token: [u8; 16],
        signal: Arc<TicketSignal>,
    ) -> Arc<ServerConfig> {
        self.pinning.store(true, Ordering::Release);
        lock(&self.tokens).push(token);
        self.config_with(shared, Role::Control, Some(signal))
    }

    /// The control handshake is over: later entries (data connections) are recent, not pinned.
    pub fn control_done(&self) {
        self.pinning.store(false, Ordering::Release);
    }

    /// `shared` for a data connection: resumes only what the scope knows, or (with
    /// `tentative`) what a not-yet-logged-in control connection at the same address knows.
    /// `signal` (if any) fires when the connection creates a session ticket (`data::hold`).
    pub fn data_config(
        self: &Arc<Self>,
        shared: &Arc<ServerConfig>,
        signal: Option<Arc<TicketSignal>>,
        tentative: Option<Tentative>,
    ) -> Arc<ServerConfig> {
        self.config_with(shared, Role::Data(tentative), signal)
    }

    /// Says who this (control connection's) scope belongs to: the user at login, or nobody
    /// when the session ends without one. Tentative resumptions wait for this.
    pub fn set_owner(&self, user: Option<&str>) {
        self.owner.send_replace(match user {
            Some(u) => Owner::User(u.to_ascii_lowercase()),
            None => Owner::Gone,
        });
    }

    /// Waits (at most `limit`) until the owner is known; whether it is `user`.
    pub async fn owned_by(&self, user: &str, limit: std::time::Duration) -> bool {
        let mut rx = self.owner.subscribe();
        let known = tokio::time::timeout(limit, rx.wait_for(|o| *o != Owner::Unknown)).await;
        matches!(known, Ok(Ok(o)) if *o == Owner::User(user.to_ascii_lowercase()))
    }

    /// Whether a TLS 1.3 resumption token belongs to a control connection of this scope.
    pub fn knows_token(&self, token: &[u8]) -> bool {
        <[u8; 16]>::try_from(token).is_ok_and(|t| lock(&self.tokens).contains(&t))
    }

    /// Takes in everything `other` knows (a control connection joining its user's scope).
    pub fn adopt(&self, other: &ResumptionScope) {
        if std::ptr::eq(self, other) {
            return;
        }
        for (from, to) in [(&other.pinned, &self.pinned), (&other.recent, &self.recent)] {
            let from = lock(from);
            let mut to = lock(to);
            for id in &from.ids.items {
                to.ids.push(id.clone());
            }
            for t in &from.tickets.items {
                to.tickets.push(*t);
            }
        }
        let tokens: Vec<[u8; 16]> = lock(&other.tokens).items.iter().copied().collect();
        let mut mine = lock(&self.tokens);
        for t in tokens {
            mine.push(t);
        }
    }

    /// Whether this scope knows a session ID or ticket (for the registry's pending search).
    fn knows(&self, what: &Known<'_>) -> bool {
        match what {
            Known::Id(k) => self.knows_id(k),
            Known::Ticket(t) => self.knows_ticket(t),
        }
    }

    fn target(&self) -> &Mutex<Lists> {
        if self.pinning.load(Ordering::Acquire) {
            &self.pinned
        } else {
            &self.recent
        }
    }

    fn remember_id(&self, key: &[u8]) {
        lock(self.target()).ids.push(key.to_vec());
    }

    fn knows_id(&self, key: &[u8]) -> bool {
        let key = key.to_vec();
        lock(&self.pinned).ids.contains(&key) || lock(&self.recent).ids.contains(&key)
    }

    fn remember_ticket(&self, ticket: &[u8]) {
        lock(self.target()).tickets.push(digest(ticket));
    }

    fn knows_ticket(&self, ticket: &[u8]) -> bool {
        let d = digest(ticket);
        lock(&self.pinned).tickets.contains(&d) || lock(&self.recent).tickets.contains(&d)
    }
}

/// The scopes of logged-in users, by (user, client address), for `"user"` mode, and the
/// control connections not logged in yet, by address. Entries live as long as a session holds
/// them.
#[derive(Default)]
pub struct ScopeRegistry {
    map: Mutex<HashMap<(String, IpAddr), Weak<ResumptionScope>>>,
    pending: Mutex<HashMap<IpAddr, Vec<Weak<ResumptionScope>>>>,
}

enum Known<'a> {
    Id(&'a [u8]),
    Ticket(&'a [u8]),
}

/// A data connection's way to a tentative resumption: the registry, its client's address,
/// and where the control connection whose keys it used is noted.
#[derive(Clone)]
pub struct Tentative {
    pub registry: Arc<ScopeRegistry>,
    pub ip: IpAddr,
    pub found: Arc<Mutex<Option<Arc<ResumptionScope>>>>,
}

impl Tentative {
    fn find(&self, what: Known<'_>) -> bool {
        let Some(s) = self.registry.pending_knowing(self.ip, &what) else {
            return false;
        };
        *lock(&self.found) = Some(s);
        true
    }

    /// The control connection's scope a tentative resumption used, if it was one.
    pub fn used(&self) -> Option<Arc<ResumptionScope>> {
        lock(&self.found).clone()
    }
}

impl ScopeRegistry {
    /// The scope of `user` at `ip`, created on first use.
    pub fn for_user(&self, user: &str, ip: IpAddr) -> Arc<ResumptionScope> {
        let mut map = lock(&self.map);
        let key = (user.to_ascii_lowercase(), ip);
        if let Some(scope) = map.get(&key).and_then(Weak::upgrade) {
            return scope;
        }
        // Forget scopes no session holds any more (bounded by the live sessions).
        map.retain(|_, w| w.strong_count() > 0);
        let scope = ResumptionScope::new();
        map.insert(key, Arc::downgrade(&scope));
        scope
    }

    /// A control connection at `ip` that has not logged in yet.
    pub fn register_pending(&self, ip: IpAddr, scope: &Arc<ResumptionScope>) {
        let mut pending = lock(&self.pending);
        pending.retain(|_, v| {
            v.retain(|w| {
                w.upgrade()
                    .is_some_and(|s| *s.owner.borrow() == Owner::Unknown)
            });
            !v.is_empty()
        });
        pending.entry(ip).or_default().push(Arc::downgrade(scope));
    }

    fn pending_knowing(&self, ip: IpAddr, what: &Known<'_>) -> Option<Arc<ResumptionScope>> {
        lock(&self.pending)
            .get(&ip)?
            .iter()
            .filter_map(Weak::upgrade)
            .find(|s| *s.owner.borrow() == Owner::Unknown && s.knows(what))
    }

    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone)]
enum Role {
    Control,
    /// A data connection, with its way to tentative resumptions (user mode).
    Data(Option<Tentative>),
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

/// Fires when a connection's ticketer creates a ticket: the moment after which, in TLS 1.3,
/// rustls writes only tickets until the application writes (see `data::hold`).
#[derive(Debug, Default)]
pub struct TicketSignal(pub(super) AtomicBool);

impl TicketSignal {
    pub fn fired(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::wrappers::{ScopedStore, ScopedTicketer};
    use super::*;
    use rustls::server::{ProducesTickets, StoresServerSessions};

    fn parts(
        s: &Arc<ResumptionScope>,
        role: Role,
        store: &Arc<dyn StoresServerSessions>,
        ticketer: &Arc<dyn ProducesTickets>,
    ) -> (ScopedStore, ScopedTicketer) {
        (
            ScopedStore {
                inner: store.clone(),
                scope: s.clone(),
                role: role.clone(),
            },
            ScopedTicketer {
                inner: ticketer.clone(),
                scope: s.clone(),
                role,
                signal: None,
            },
        )
    }

    fn shared() -> (Arc<dyn StoresServerSessions>, Arc<dyn ProducesTickets>) {
        (
            rustls::server::ServerSessionMemoryCache::new(16),
            rustls::crypto::aws_lc_rs::Ticketer::new().unwrap(),
        )
    }

    #[test]
    fn a_scope_finds_only_what_it_stored_or_issued() {
        let (store, ticketer) = shared();
        let (a, b) = (ResumptionScope::new(), ResumptionScope::new());
        let (sa, ta) = parts(&a, Role::Data(None), &store, &ticketer);
        let (sb, tb) = parts(&b, Role::Data(None), &store, &ticketer);
        assert!(sa.put(b"id-a".to_vec(), b"session a".to_vec()));
        assert_eq!(sa.get(b"id-a").as_deref(), Some(&b"session a"[..]));
        assert_eq!(sb.get(b"id-a"), None, "another scope's ID");
        assert_eq!(sb.take(b"id-a"), None);
        let t = ta.encrypt(b"state a").unwrap();
        assert_eq!(ta.decrypt(&t).as_deref(), Some(&b"state a"[..]));
        assert_eq!(tb.decrypt(&t), None, "another scope's ticket");
        assert_eq!(ticketer.decrypt(&t).as_deref(), Some(&b"state a"[..]));
    }

    #[test]
    fn a_control_connection_resumes_any_session_and_adopts_it() {
        let (store, ticketer) = shared();
        let (old, new) = (ResumptionScope::new(), ResumptionScope::new());
        let (old_store, old_ticketer) = parts(&old, Role::Control, &store, &ticketer);
        old_store.put(b"id".to_vec(), b"v".to_vec());
        let t = old_ticketer.encrypt(b"state").unwrap();
        let (new_data_store, new_data_ticketer) = parts(&new, Role::Data(None), &store, &ticketer);
        assert_eq!(new_data_store.get(b"id"), None);
        assert_eq!(new_data_ticketer.decrypt(&t), None);
        let (new_store, new_ticketer) = parts(&new, Role::Control, &store, &ticketer);
        assert!(new_store.get(b"id").is_some() && new_ticketer.decrypt(&t).is_some());
        assert!(new_data_store.get(b"id").is_some());
        assert!(new_data_ticketer.decrypt(&t).is_some());
    }

    #[test]
    fn sessions_of_one_user_share_a_scope_at_login_and_others_do_not() {
        let (store, ticketer) = shared();
        let registry = ScopeRegistry::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        // Two control connections of bob, each issued a ticket before login.
        let (c1, c2) = (ResumptionScope::new(), ResumptionScope::new());
        let t1 = parts(&c1, Role::Control, &store, &ticketer)
            .1
            .encrypt(b"1")
            .unwrap();
        let t2 = parts(&c2, Role::Control, &store, &ticketer)
            .1
            .encrypt(b"2")
            .unwrap();
        let bob = registry.for_user("bob", ip);
        bob.adopt(&c1);
        registry.for_user("Bob", ip).adopt(&c2);
        // A data connection of either session resumes either ticket (one client cache).
        let (_, data) = parts(&bob, Role::Data(None), &store, &ticketer);
        assert!(data.decrypt(&t1).is_some() && data.decrypt(&t2).is_some());
        // Another user, or bob at another address, has its own scope.
        for other in [
            registry.for_user("carol", ip),
            registry.for_user("bob", "10.0.0.2".parse().unwrap()),
        ] {
            let (_, data) = parts(&other, Role::Data(None), &store, &ticketer);
            assert!(data.decrypt(&t1).is_none() && data.decrypt(&t2).is_none());
        }
        // Scopes no session holds are forgotten.
        drop((bob, data));
        let _ = registry.for_user("dave", ip);
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn control_handshake_entries_stay_and_the_oldest_later_ones_go() {
        let s = ResumptionScope::new();
        s.pinning.store(true, Ordering::Release);
        s.remember_ticket(b"control");
        s.control_done();
        for i in 0..RECENT + 1 {
            s.remember_ticket(&(i as u32).to_le_bytes());
        }
        assert!(s.knows_ticket(b"control"), "pinned");
        assert!(
            !s.knows_ticket(&0u32.to_le_bytes()),
            "the oldest later one went"
        );
        assert!(s.knows_ticket(&(RECENT as u32).to_le_bytes()));
    }
}
