//! Exact connection counting under concurrency: one mutex, checked and incremented together,
//! released by a guard's Drop so a vanished client always frees its slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    #[error("Too many users connected ({0} allowed); try again later.")]
    Total(usize),
    #[error("Too many connections from your address ({0} allowed).")]
    PerIp(usize),
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// The maxima live under the same lock as the counts, so a reload never races a check.
    max_total: usize,
    max_per_ip: usize,
}

#[derive(Clone)]
pub struct ConnectionLimits {
    counts: Arc<Mutex<Counts>>,
}

pub struct ConnectionGuard {
    ip: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

impl ConnectionLimits {
    /// 0 means unlimited for either limit.
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        let l = ConnectionLimits {
            counts: Arc::default(),
        };
        l.set_maxima(max_total, max_per_ip);
        l
    }

    /// New maxima (config reload) for the connections that come next; connections already
    /// admitted stay, even above a lowered limit.
    pub fn set_maxima(&self, max_total: usize, max_per_ip: usize) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.max_total = max_total;
        c.max_per_ip = max_per_ip;
    }

    pub fn try_acquire(&self, ip: IpAddr) -> Result<ConnectionGuard, LimitError> {
        let ip = crate::config::network::canonical(ip);
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.max_total > 0 && c.total >= c.max_total {
            return Err(LimitError::Total(c.max_total));
        }
        let from_ip = c.per_ip.get(&ip).copied().unwrap_or(0);
        if c.max_per_ip > 0 && from_ip >= c.max_per_ip {
            return Err(LimitError::PerIp(c.max_per_ip));
        }
        c.total += 1;
        *c.per_ip.entry(ip).or_default() += 1;
        Ok(ConnectionGuard {
            ip,
            counts: self.counts.clone(),
        })
    }

    pub fn current(&self) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowered_maxima_apply_to_the_next_connection() {
        let l = ConnectionLimits::new(0, 0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let a = l.try_acquire(ip).unwrap();
        let _b = l.try_acquire(ip).unwrap();
        l.set_maxima(0, 2);
        assert_eq!(l.try_acquire(ip).err(), Some(LimitError::PerIp(2)));
        drop(a);
        assert!(l.try_acquire(ip).is_ok());
        l.set_maxima(1, 0);
        assert_eq!(l.try_acquire(ip).err(), Some(LimitError::Total(1)));
    }

    #[test]
    fn limits_and_release() {
        let l = ConnectionLimits::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let g1 = l.try_acquire(a).unwrap();
        let _g2 = l.try_acquire(a).unwrap();
        assert_eq!(l.try_acquire(a).err(), Some(LimitError::PerIp(2)));
        let _g3 = l.try_acquire(b).unwrap();
        assert_eq!(l.try_acquire(b).err(), Some(LimitError::Total(3)));
        drop(g1);
        let _g4 = l.try_acquire(a).unwrap();
        assert_eq!(l.current(), 3);
    }

    #[test]
    fn exact_under_threads() {
        let l = ConnectionLimits::new(0, 10);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let guards: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..50)
                .map(|_| s.spawn(|| l.try_acquire(ip).ok()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(guards.iter().filter(|g| g.is_some()).count(), 10);
    }
}
