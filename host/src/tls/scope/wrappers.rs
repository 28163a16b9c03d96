//! The session store and ticketer a scoped connection uses: they record what they issue in the
//! connection's scope and resume only what the scope (or a tentative owner) knows.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustls::server::{ProducesTickets, StoresServerSessions};

use rustls::ServerConfig;

use super::{Known, ResumptionScope, Role, TicketSignal};

pub(super) struct ScopedStore {
    pub(super) inner: Arc<dyn StoresServerSessions>,
    pub(super) scope: Arc<ResumptionScope>,
    pub(super) role: Role,
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
        match &self.role {
            Role::Data(t) if !self.scope.knows_id(key) => t
                .as_ref()
                .filter(|t| t.find(Known::Id(key)))
                .and_then(|_| self.inner.get(key)),
            Role::Data(_) => self.inner.get(key),
            Role::Control => {
                let found = self.inner.get(key)?;
                self.scope.remember_id(key);
                Some(found)
            }
        }
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        match &self.role {
            Role::Data(t) if !self.scope.knows_id(key) => t
                .as_ref()
                .filter(|t| t.find(Known::Id(key)))
                .and_then(|_| self.inner.take(key)),
            _ => self.inner.take(key),
        }
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

pub(super) struct ScopedTicketer {
    pub(super) inner: Arc<dyn ProducesTickets>,
    pub(super) scope: Arc<ResumptionScope>,
    pub(super) role: Role,
    pub(super) signal: Option<Arc<TicketSignal>>,
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
        if let Some(s) = &self.signal {
            s.0.store(true, Ordering::Release);
        }
        Some(ticket)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        match &self.role {
            Role::Data(t) if !self.scope.knows_ticket(cipher) => t
                .as_ref()
                .filter(|t| t.find(Known::Ticket(cipher)))
                .and_then(|_| self.inner.decrypt(cipher)),
            Role::Data(_) => self.inner.decrypt(cipher),
            Role::Control => {
                let plain = self.inner.decrypt(cipher)?;
                self.scope.remember_ticket(cipher);
                Some(plain)
            }
        }
    }
}

impl ResumptionScope {
    /// `shared` with this scope's store and ticketer in place of the shared ones.
    pub(super) fn config_with(
        self: &Arc<Self>,
        shared: &Arc<ServerConfig>,
        role: Role,
        signal: Option<Arc<TicketSignal>>,
    ) -> Arc<ServerConfig> {
        let mut c = (**shared).clone();
        c.session_storage = Arc::new(ScopedStore {
            inner: shared.session_storage.clone(),
            scope: self.clone(),
            role: role.clone(),
        });
        c.ticketer = Arc::new(ScopedTicketer {
            inner: shared.ticketer.clone(),
            scope: self.clone(),
            role,
            signal,
        });
        Arc::new(c)
    }
}
