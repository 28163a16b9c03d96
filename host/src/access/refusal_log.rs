//! Log lines for refusals an outsider can repeat at will — at the door (a ban, a limit), a
//! quarantined client's gate, an unchecked login, a failing accept — at most one per subject
//! (usually the address) and reason a minute: nobody can fill the operator's disk with the
//! same line. The next line after a quiet minute says how many were left out.
//!
//! Pure logic with an explicit clock; one process-wide instance (`global`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered; beyond it the memory is dropped (a flood from very many addresses
/// then logs one line per address again, still bounded by the connection rate).
const MAX_ENTRIES: usize = 8192;

#[derive(Default)]
pub struct RefusalLog {
    seen: HashMap<(String, &'static str), (Instant, u64)>,
}

impl RefusalLog {
    /// Whether to log this refusal now; `Some(n)` with the number left out since the last
    /// line logged for the same address and reason.
    pub fn admit(&mut self, subject: &str, reason: &'static str, now: Instant) -> Option<u64> {
        if self.seen.len() >= MAX_ENTRIES {
            self.seen
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < WINDOW);
            if self.seen.len() >= MAX_ENTRIES {
                self.seen.clear();
            }
        }
        let key = (subject.to_string(), reason);
        match self.seen.get_mut(&key) {
            Some((at, skipped)) if now.saturating_duration_since(*at) < WINDOW => {
                *skipped += 1;
                None
            }
            Some((at, skipped)) => {
                let n = *skipped;
                *at = now;
                *skipped = 0;
                Some(n)
            }
            None => {
                self.seen.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

/// The process-wide log limiter for refusals of `ip`: `Some(n)` to log (n left out before),
/// None to stay quiet.
pub fn admit(ip: IpAddr, reason: &'static str) -> Option<u64> {
    admit_subject(&ip.to_string(), reason)
}

/// As [`admit`], for any subject (a plugin's client, the listener).
pub fn admit_subject(subject: &str, reason: &'static str) -> Option<u64> {
    static GLOBAL: OnceLock<Mutex<RefusalLog>> = OnceLock::new();
    GLOBAL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .admit(subject, reason, Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_minute_per_address_and_reason_then_the_count_left_out() {
        let mut log = RefusalLog::default();
        let t = Instant::now();
        let (a, b) = ("10.0.0.1", "10.0.0.2");
        assert_eq!(log.admit(a, "plugin", t), Some(0));
        for i in 1..=100 {
            assert_eq!(log.admit(a, "plugin", t + Duration::from_millis(i)), None);
        }
        assert_eq!(log.admit(a, "limits", t), Some(0), "another reason");
        assert_eq!(log.admit(b, "plugin", t), Some(0), "another address");
        assert_eq!(log.admit(a, "plugin", t + WINDOW), Some(100));
        assert_eq!(log.admit(a, "plugin", t + WINDOW), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut log = RefusalLog::default();
        let t = Instant::now();
        for i in 0..(MAX_ENTRIES as u32 * 3) {
            let ip = std::net::Ipv4Addr::from(i).to_string();
            log.admit(&ip, "plugin", t);
            assert!(log.seen.len() <= MAX_ENTRIES);
        }
    }
}
