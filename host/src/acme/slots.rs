//! Connection slots of a challenge responder: a public port anyone can open, so both the total
//! and each address's share are capped. With 1024 in all and 8 per address, 100 attacking
//! addresses hold at most 800 and the CA's validation connections still get in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub const TOTAL: usize = 1024;
pub const PER_ADDRESS: usize = 8;

#[derive(Default)]
pub struct Slots {
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// A slot; given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    /// A slot for `ip`, or None when it or the responder is full.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = held.values().sum();
        let mine = held.get(&ip).copied().unwrap_or(0);
        if total >= TOTAL || mine >= PER_ADDRESS {
            return None;
        }
        held.insert(ip, mine + 1);
        Some(Slot {
            slots: self.clone(),
            ip,
        })
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

    #[test]
    fn each_address_gets_its_share_and_gives_it_back() {
        let slots = Arc::new(Slots::default());
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
        let slots = Arc::new(Slots::default());
        let mut held = Vec::new();
        for i in 0..(TOTAL / PER_ADDRESS) {
            let ip: IpAddr = [10, 0, (i / 256) as u8, (i % 256) as u8].into();
            for _ in 0..PER_ADDRESS {
                held.push(slots.take(ip).unwrap());
            }
        }
        assert!(slots.take([10, 9, 9, 9].into()).is_none());
    }
}
