//! Who may spend a password check, and in which order: a token bucket per client address
//! (checked before argon2 runs) and a decaying count of each address's recent failed logins,
//! which the verifier uses to serve addresses without failures first. A storm of wrong
//! passwords from many addresses then costs its senders their own turns, not everyone's.
//!
//! Pure logic with an explicit clock, so the arithmetic has unit tests.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// `[login]` in the server config: the bounds of the password-check path.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginLimits {
    /// Password checks (argon2) running at once; 0 = one per CPU core. Each holds ~19 MiB.
    pub max_concurrent_checks: usize,
    /// Checks waiting for a worker, all clients together. Beyond it the waiting check of the
    /// address with the most recent failures is refused.
    pub max_queued_checks: usize,
    /// Checks one address may have waiting or running.
    pub max_queued_per_ip: usize,
    /// A check that waited this long is refused (the client gets 421 and may retry).
    pub max_wait_ms: u64,
    /// Password checks an address may start in a burst...
    pub per_ip_burst: u32,
    /// ...and per minute after it (token bucket). 0 = no per-address limit.
    pub per_ip_per_minute: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            max_concurrent_checks: 0,
            max_queued_checks: 128,
            max_queued_per_ip: 4,
            max_wait_ms: 5000,
            per_ip_burst: 20,
            per_ip_per_minute: 30,
        }
    }
}

impl LoginLimits {
    pub fn workers(&self) -> usize {
        if self.max_concurrent_checks > 0 {
            return self.max_concurrent_checks;
        }
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    }
}

/// Failures halve every this long, so an address's standing recovers.
const FAILURE_HALF_LIFE: Duration = Duration::from_secs(300);
/// Addresses remembered; beyond it, idle entries are forgotten first.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Standing {
    tokens: f64,
    failures: f64,
    last: Instant,
}

/// Why a client may not start a password check now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
}

pub struct LoginThrottle {
    limits: Mutex<(u32, u32)>,
    map: Mutex<HashMap<IpAddr, Standing>>,
}

impl LoginThrottle {
    pub fn new(limits: &LoginLimits) -> LoginThrottle {
        LoginThrottle {
            limits: Mutex::new((limits.per_ip_burst, limits.per_ip_per_minute)),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// New limits (config reload) for the checks that come next.
    pub fn set_limits(&self, limits: &LoginLimits) {
        *self.limits.lock().unwrap_or_else(|e| e.into_inner()) =
            (limits.per_ip_burst, limits.per_ip_per_minute);
    }

    /// Takes a token for one password check from `ip`, or says when to retry.
    pub fn try_check(&self, ip: IpAddr, now: Instant) -> Result<(), Throttled> {
        let (burst, per_minute) = *self.limits.lock().unwrap_or_else(|e| e.into_inner());
        if per_minute == 0 {
            return Ok(());
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let s = standing(&mut map, ip, now, burst);
        let rate = f64::from(per_minute) / 60.0;
        s.tokens = (s.tokens + elapsed(s.last, now) * rate).min(f64::from(burst.max(1)));
        decay(s, now);
        s.last = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            Ok(())
        } else {
            Err(Throttled {
                retry_after_secs: ((1.0 - s.tokens) / rate).ceil().max(1.0) as u64,
            })
        }
    }

    /// Counts a failed login of `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        let (burst, _) = *self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let s = standing(&mut map, ip, now, burst);
        decay(s, now);
        s.last = now;
        s.failures += 1.0;
    }

    /// Recent failures of `ip` (decayed), rounded down: 0 for an address with a clean record.
    pub fn failures(&self, ip: IpAddr, now: Instant) -> u32 {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&ip)
            .map(|s| {
                let halves = elapsed(s.last, now) / FAILURE_HALF_LIFE.as_secs_f64();
                (s.failures * 0.5f64.powf(halves)) as u32
            })
            .unwrap_or(0)
    }

    pub fn tracked(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

fn elapsed(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}

fn decay(s: &mut Standing, now: Instant) {
    let halves = elapsed(s.last, now) / FAILURE_HALF_LIFE.as_secs_f64();
    s.failures *= 0.5f64.powf(halves);
}

/// The entry of `ip`, created with a full bucket; keeps the map bounded.
fn standing(
    map: &mut HashMap<IpAddr, Standing>,
    ip: IpAddr,
    now: Instant,
    burst: u32,
) -> &mut Standing {
    if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
        // Forget addresses idle for a half-life (their buckets are full again anyway).
        map.retain(|_, s| elapsed(s.last, now) < FAILURE_HALF_LIFE.as_secs_f64());
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
    map.entry(ip).or_insert(Standing {
        tokens: f64::from(burst.max(1)),
        failures: 0.0,
        last: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(burst: u32, per_minute: u32) -> LoginLimits {
        LoginLimits {
            per_ip_burst: burst,
            per_ip_per_minute: per_minute,
            ..Default::default()
        }
    }

    #[test]
    fn a_burst_then_the_rate() {
        let t = LoginThrottle::new(&limits(3, 60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.try_check(ip, now), Ok(()));
        }
        let refused = t.try_check(ip, now).unwrap_err();
        assert_eq!(refused.retry_after_secs, 1);
        // One token per second at 60 per minute.
        assert_eq!(t.try_check(ip, now + Duration::from_millis(1000)), Ok(()));
        assert!(t.try_check(ip, now + Duration::from_millis(1000)).is_err());
        // Other addresses have their own bucket.
        assert_eq!(t.try_check("10.0.0.2".parse().unwrap(), now), Ok(()));
    }

    #[test]
    fn the_bucket_never_fills_past_the_burst() {
        let t = LoginThrottle::new(&limits(2, 60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let later = Instant::now() + Duration::from_secs(3600);
        assert!(t.try_check(ip, later).is_ok() && t.try_check(ip, later).is_ok());
        assert!(t.try_check(ip, later).is_err());
    }

    #[test]
    fn zero_per_minute_means_no_limit() {
        let t = LoginThrottle::new(&limits(1, 0));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        assert!((0..100).all(|_| t.try_check(ip, now).is_ok()));
    }

    #[test]
    fn failures_count_and_decay() {
        let t = LoginThrottle::new(&limits(5, 30));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        assert_eq!(t.failures(ip, now), 0);
        for _ in 0..8 {
            t.record_failure(ip, now);
        }
        assert_eq!(t.failures(ip, now), 8);
        assert_eq!(t.failures(ip, now + FAILURE_HALF_LIFE), 4);
        assert_eq!(t.failures(ip, now + FAILURE_HALF_LIFE * 10), 0);
        assert_eq!(t.failures("10.0.0.9".parse().unwrap(), now), 0);
    }

    #[test]
    fn the_map_stays_bounded() {
        let t = LoginThrottle::new(&limits(5, 30));
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            t.record_failure(IpAddr::from(i.to_be_bytes()), now);
        }
        assert!(t.tracked() <= MAX_TRACKED);
    }
}
