//! Who holds the passive port range. Each open passive listener (opened by PASV/EPSV, not yet
//! connected) has a place here, by client address and user. No address or account may hold
//! more than `[passive] max_listeners_per_ip` / `max_listeners_per_user` at once, and when the
//! range is exhausted, the oldest unused listener of the address holding the most gives way to
//! an address holding fewer: many addresses cannot starve a newcomer, only themselves. The
//! anonymous account is counted by address only (its name is everyone's).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

struct Entry {
    id: u64,
    ip: String,
    user: Option<String>,
    opened: Instant,
    /// Wakes the listener's task to close it (made way for another address).
    close: Arc<Notify>,
}

#[derive(Default)]
struct Book {
    next: u64,
    entries: Vec<Entry>,
    counts: HashMap<String, usize>,
}

impl Book {
    fn count(&self, key: &str) -> usize {
        self.counts.get(key).copied().unwrap_or(0)
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let i = self.entries.iter().position(|e| e.id == id)?;
        let e = self.entries.swap_remove(i);
        for k in std::iter::once(&e.ip).chain(e.user.as_ref()) {
            if let Some(n) = self.counts.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(k);
                }
            }
        }
        Some(e)
    }
}

#[derive(Default)]
pub struct ListenerCaps {
    book: Mutex<Book>,
}

/// One open listener's place; dropping it frees the place. `closed` is notified when the
/// listener must close to make way for another address.
pub struct ListenerSlot {
    caps: Arc<ListenerCaps>,
    id: u64,
    pub closed: Arc<Notify>,
}

impl Drop for ListenerSlot {
    fn drop(&mut self) {
        lock(&self.caps.book).remove(self.id);
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CapError {
    #[error(
        "Too many open passive listeners for your address ({0}); use the ones you opened or try again later."
    )]
    PerIp(usize),
    #[error("Too many open passive listeners for your account ({0}); try again later.")]
    PerUser(usize),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ip_key(ip: IpAddr) -> String {
    format!("ip:{}", crate::config::network::canonical(ip))
}

impl ListenerCaps {
    /// Takes a place for a listener of `ip` (and `user`, unless None); 0 = no cap.
    pub fn acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        user: Option<&str>,
        max_per_ip: usize,
        max_per_user: usize,
    ) -> Result<ListenerSlot, CapError> {
        let ip = ip_key(ip);
        let user = user.map(|u| format!("user:{}", u.to_ascii_lowercase()));
        let mut book = lock(&self.book);
        if max_per_ip > 0 && book.count(&ip) >= max_per_ip {
            return Err(CapError::PerIp(max_per_ip));
        }
        if let Some(u) = &user
            && max_per_user > 0
            && book.count(u) >= max_per_user
        {
            return Err(CapError::PerUser(max_per_user));
        }
        book.next += 1;
        let id = book.next;
        for k in std::iter::once(&ip).chain(user.as_ref()) {
            *book.counts.entry(k.clone()).or_insert(0) += 1;
        }
        let closed = Arc::new(Notify::new());
        book.entries.push(Entry {
            id,
            ip,
            user,
            opened: Instant::now(),
            close: closed.clone(),
        });
        Ok(ListenerSlot {
            caps: self.clone(),
            id,
            closed,
        })
    }

    /// The range is exhausted and `ip` wants a listener: closes the oldest listener of the
    /// address holding the most, if that address holds more than `ip` would after getting
    /// one. Returns whether one was closed (its port frees as its task ends).
    pub fn make_way_for(&self, ip: IpAddr) -> bool {
        let mine = ip_key(ip);
        let mut book = lock(&self.book);
        let want = book.count(&mine) + 1;
        let heaviest = book
            .counts
            .iter()
            .filter(|(k, _)| k.starts_with("ip:"))
            .max_by_key(|(_, n)| **n)
            .map(|(k, n)| (k.clone(), *n));
        let Some((victim, held)) = heaviest.filter(|(k, n)| *n > want && *k != mine) else {
            return false;
        };
        let oldest = book
            .entries
            .iter()
            .filter(|e| e.ip == victim)
            .min_by_key(|e| e.opened)
            .map(|e| e.id);
        let Some(entry) = oldest.and_then(|id| book.remove(id)) else {
            return false;
        };
        tracing::info!(from = %victim, held, to = %mine, "passive range exhausted: an unused listener made way for another address");
        entry.close.notify_one();
        true
    }

    /// Listeners open now, all clients together.
    pub fn open_total(&self) -> usize {
        lock(&self.book).entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_per_user_and_places_come_back() {
        let caps = Arc::new(ListenerCaps::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let one = caps.acquire(a, Some("bob"), 2, 3).unwrap();
        let _two = caps.acquire(a, Some("bob"), 2, 3).unwrap();
        assert_eq!(caps.acquire(a, None, 2, 3).err(), Some(CapError::PerIp(2)));
        let _three = caps.acquire(b, Some("Bob"), 2, 3).unwrap();
        assert_eq!(
            caps.acquire(b, Some("bob"), 2, 3).err(),
            Some(CapError::PerUser(3))
        );
        assert!(caps.acquire(b, None, 2, 3).is_ok(), "anonymous: by address");
        drop(one);
        assert!(caps.acquire(a, Some("carol"), 2, 3).is_ok());
        assert_eq!(
            caps.acquire(a, None, 0, 0).map(|_| ()),
            Ok(()),
            "0 = no cap"
        );
    }

    #[test]
    fn the_heaviest_address_makes_way_and_only_for_a_lighter_one() {
        let caps = Arc::new(ListenerCaps::default());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let held: Vec<_> = (0..3)
            .map(|_| caps.acquire(a, None, 0, 0).unwrap())
            .collect();
        let oldest = held[0].closed.clone();
        let notified = std::pin::pin!(oldest.notified());
        assert!(caps.make_way_for(b), "b holds none, a holds 3");
        assert_eq!(caps.open_total(), 2);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(
            notified.poll(&mut cx).is_ready(),
            "a's oldest was told to close"
        );
        assert!(!caps.make_way_for(a), "never for the heaviest itself");
        let _b1 = caps.acquire(b, None, 0, 0).unwrap();
        // a holds 2, b would hold 2: no more room made for b.
        assert!(!caps.make_way_for(b));
        drop(held);
        assert_eq!(caps.open_total(), 1);
    }
}
