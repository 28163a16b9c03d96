//! Connection slots of a small listener anyone may reach (the ACME challenge responders, the
//! admin HTTP listener): both the total and each address's share are capped, an IPv6 /64
//! counting as one address (one host owns a whole /64). For the ACME responders, 1024 in all
//! and 8 per address: 100 attacking addresses hold at most 800 and the CA still gets in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub struct Slots {
    total: usize,
    per_address: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// The address a slot is counted under: IPv6 by its /64.
fn counted_as(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) if a.to_ipv4_mapped().is_none() => {
            let s = a.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(a) => IpAddr::V4(a.to_ipv4_mapped().expect("mapped")),
        v4 => v4,
    }
}

/// A slot; given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    pub fn new(total: usize, per_address: usize) -> Arc<Slots> {
        Arc::new(Slots {
            total,
            per_address,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `ip`, or None when it or the listener is full.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let ip = counted_as(ip);
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = held.values().sum();
        let mine = held.get(&ip).copied().unwrap_or(0);
        if total >= self.total || mine >= self.per_address {
            return None;
        }
        held.insert(ip, mine + 1);
        Some(Slot {
            slots: self.clone(),
            ip,
        })
    }
}

/// Accepts connections for as long as the task runs; each gets a slot (or is closed at once
/// when its address or the listener is full) and is handled in its own task, which gives the
/// slot back when `handle`'s future ends. `handle` bounds its own time.
pub async fn serve<F, Fut>(
    listener: tokio::net::TcpListener,
    slots: Arc<Slots>,
    what: &'static str,
    mut handle: F,
) where
    F: FnMut(tokio::net::TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, listener = what, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = slots.take(peer.ip()) else {
            continue;
        };
        let done = handle(sock);
        tokio::spawn(async move {
            let _slot = slot;
            done.await;
        });
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOTAL: usize = 1024;
    const PER_ADDRESS: usize = 8;

    #[test]
    fn each_address_gets_its_share_and_gives_it_back() {
        let slots = Slots::new(TOTAL, PER_ADDRESS);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let held: Vec<Slot> = (0..PER_ADDRESS).map(|_| slots.take(a).unwrap()).collect();
        assert!(slots.take(a).is_none());
        let other = slots.take(b).expect("another address still gets in");
        drop(held);
        assert!(slots.take(a).is_some());
        drop(other);
        assert!(slots.held.lock().unwrap().is_empty());
    }

    #[test]
    fn the_total_is_capped() {
        let slots = Slots::new(TOTAL, PER_ADDRESS);
        let mut held = Vec::new();
        for i in 0..(TOTAL / PER_ADDRESS) {
            let ip: IpAddr = [10, 0, (i / 256) as u8, (i % 256) as u8].into();
            for _ in 0..PER_ADDRESS {
                held.push(slots.take(ip).unwrap());
            }
        }
        assert!(slots.take([10, 9, 9, 9].into()).is_none());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let slots = Slots::new(TOTAL, 2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _x = slots.take(a).unwrap();
        let _y = slots.take(b).unwrap();
        assert!(slots.take(a).is_none(), "same /64");
        assert!(slots.take(c).is_some(), "another /64");
        // An IPv4-mapped address counts as its IPv4 address.
        let v4: IpAddr = "127.0.0.9".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.9".parse().unwrap();
        let _p = slots.take(v4).unwrap();
        let _q = slots.take(mapped).unwrap();
        assert!(slots.take(v4).is_none());
    }
}
