//! Bandwidth limits: token buckets shared by every transfer they apply to, so a limit holds
//! in aggregate (a client opening eight parallel transfers, as rclone does, shares one user
//! limit between them instead of getting eight).
//!
//! A transfer takes from up to four buckets, one per limit that applies to it: the server's
//! (all transfers in that direction), each of the user's groups (all members' transfers) and
//! the user's (all of that user's sessions). Each bucket is a debt model: a transfer debits
//! what it moves and, when the bucket is overdrawn, waits until the debt is repaid at the
//! bucket's rate. Waiting transfers therefore queue in the order they debited, and the rate
//! over any interval longer than the bucket's depth (50 ms of traffic) is the limit.
//! Transfers move at most one bucket depth per debit while limited, so the data connection
//! never goes quiet for long.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Limits in KiB/s; 0 is unlimited. Also the `[bandwidth]` config section (server-wide).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub download_kib_s: u64,
    pub upload_kib_s: u64,
}

impl Limits {
    pub fn get(&self, dir: Direction) -> u64 {
        match dir {
            Direction::Download => self.download_kib_s,
            Direction::Upload => self.upload_kib_s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Download,
    Upload,
}

/// The traffic a bucket lets through at once: this many seconds of its rate.
const DEPTH_SECS: f64 = 0.05;
/// Bounds of one debit while limited (and of the bucket's depth).
const MIN_SLICE: usize = 4 * 1024;
const MAX_SLICE: usize = 256 * 1024;
/// Highest rate (KiB/s) taken as a limit: about 1 TB/s, past any link; keeps the arithmetic
/// far from overflow whatever the configuration says.
pub const MAX_KIB_S: u64 = 1 << 30;

/// One shared limit.
#[derive(Debug)]
pub struct Bucket {
    /// Bytes per second.
    rate: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Negative: the debt still to be repaid.
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(kib_s: u64, now: Instant) -> Bucket {
        let b = Bucket {
            rate: AtomicU64::new(0),
            state: Mutex::new(State {
                tokens: 0.0,
                last: now,
            }),
        };
        b.set_rate(kib_s);
        b.state.lock().unwrap_or_else(|e| e.into_inner()).tokens = b.depth();
        b
    }

    /// A changed limit applies from the next debit.
    pub fn set_rate(&self, kib_s: u64) {
        self.rate
            .store(kib_s.clamp(1, MAX_KIB_S) * 1024, Ordering::Relaxed);
    }

    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    fn depth(&self) -> f64 {
        (self.rate() as f64 * DEPTH_SECS).clamp(MIN_SLICE as f64, MAX_SLICE as f64)
    }

    /// Largest amount moved per debit.
    pub fn slice(&self) -> usize {
        self.depth() as usize
    }

    /// Credits `bytes` back (up to the bucket's depth).
    pub fn credit(&self, bytes: usize) {
        let depth = self.depth();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.tokens = (s.tokens + bytes as f64).min(depth);
    }

    /// Whether nothing is owed at `now` (the bucket can be forgotten without freeing anyone).
    fn settled(&self, now: Instant) -> bool {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.tokens + now.saturating_duration_since(s.last).as_secs_f64() * self.rate() as f64
            >= self.depth()
    }

    /// Debits `bytes` at `now`; returns how long the debtor waits before moving more.
    pub fn debit(&self, bytes: usize, now: Instant) -> Duration {
        let rate = self.rate() as f64;
        let depth = self.depth();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
        s.last = s.last.max(now);
        s.tokens = (s.tokens + elapsed * rate).min(depth) - bytes as f64;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / rate)
        }
    }
}

/// The buckets one transfer takes from; empty when nothing limits it.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    buckets: Vec<Arc<Bucket>>,
}

impl Throttle {
    /// Adds a limit of this transfer's own (an upload gate's `max_rate`, bytes/s), on top of
    /// the shared ones.
    pub fn with_own_rate(mut self, bytes_per_s: u64) -> Throttle {
        let kib = bytes_per_s.div_ceil(1024).max(1);
        self.buckets
            .push(Arc::new(Bucket::new(kib, Instant::now())));
        self
    }

    pub fn is_limited(&self) -> bool {
        !self.buckets.is_empty()
    }

    /// Largest amount to move before the next [`Throttle::take`]: the smallest bucket's depth.
    pub fn slice(&self) -> Option<usize> {
        self.buckets.iter().map(|b| b.slice()).min()
    }

    /// The strictest rate that applies, in bytes/s.
    pub fn rate(&self) -> Option<u64> {
        self.buckets.iter().map(|b| b.rate()).min()
    }

    /// Pays for `bytes` about to be moved: waits as long as the most indebted bucket asks.
    /// Paying first matters: a transfer aborted while it waits leaves its debt in the shared
    /// bucket, so ABOR and a new transfer gain nothing.
    pub async fn take(&self, bytes: usize) {
        if bytes == 0 || self.buckets.is_empty() {
            return;
        }
        let now = Instant::now();
        let wait = self
            .buckets
            .iter()
            .map(|b| b.debit(bytes, now))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Gives back what was paid for and not moved (a read shorter than asked).
    pub fn refund(&self, bytes: usize) {
        for b in &self.buckets {
            b.credit(bytes);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Server,
    Group(String),
    User(String),
    /// Every anonymous session, whatever name it logged in with.
    Anonymous,
}

/// Past this many buckets, those with no debt left are dropped (the users file bounds the
/// scopes: its users and groups, anonymous and the server, two directions each).
const PRUNE_AT: usize = 4096;

/// The buckets by what they limit. A bucket outlives the transfers that used it, debt
/// included: ending a transfer never resets a limit.
#[derive(Debug, Default)]
pub struct Registry {
    buckets: Mutex<HashMap<(Scope, Direction), Arc<Bucket>>>,
}

/// Who is transferring, for the limits that apply.
pub struct Subject<'a> {
    pub user: &'a str,
    pub anonymous: bool,
    pub user_limits: Limits,
    pub groups: &'a [(String, Limits)],
}

impl Subject<'_> {
    /// The strictest limit in `dir` (KiB/s, 0 = none) with the server's `server` limits.
    pub fn strictest(&self, server: Limits, dir: Direction) -> u64 {
        std::iter::once(server.get(dir))
            .chain(self.groups.iter().map(|(_, l)| l.get(dir)))
            .chain(std::iter::once(self.user_limits.get(dir)))
            .filter(|&l| l > 0)
            .min()
            .unwrap_or(0)
    }
}

impl Registry {
    /// The throttle of one transfer in `dir`, with today's limits (a reload's new values
    /// apply to the shared buckets from the next transfer on).
    pub fn throttle(&self, server: Limits, who: &Subject<'_>, dir: Direction) -> Throttle {
        let mut wanted = Vec::new();
        if server.get(dir) > 0 {
            wanted.push((Scope::Server, server.get(dir)));
        }
        for (g, l) in who.groups {
            if l.get(dir) > 0 {
                wanted.push((Scope::Group(g.clone()), l.get(dir)));
            }
        }
        if who.user_limits.get(dir) > 0 {
            let scope = if who.anonymous {
                Scope::Anonymous
            } else {
                Scope::User(who.user.to_string())
            };
            wanted.push((scope, who.user_limits.get(dir)));
        }
        if wanted.is_empty() {
            return Throttle::default();
        }
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= PRUNE_AT {
            map.retain(|_, b| !b.settled(now));
        }
        let buckets = wanted
            .into_iter()
            .map(|(scope, kib_s)| {
                let key = (scope, dir);
                let b = map
                    .entry(key)
                    .or_insert_with(|| Arc::new(Bucket::new(kib_s, now)));
                b.set_rate(kib_s);
                b.clone()
            })
            .collect();
        Throttle { buckets }
    }
}

/// `1.5 MiB/s`-style text for a limit in KiB/s (STAT, the admin views).
pub fn describe(kib_s: u64) -> String {
    if kib_s == 0 {
        "unlimited".into()
    } else if kib_s >= 1024 && kib_s % 1024 == 0 {
        format!("{} MiB/s", kib_s / 1024)
    } else if kib_s >= 1024 {
        format!("{:.1} MiB/s", kib_s as f64 / 1024.0)
    } else {
        format!("{kib_s} KiB/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_its_depth_through_then_charges_time_at_its_rate() {
        let t0 = Instant::now();
        let b = Bucket::new(1024, t0); // 1 MiB/s: depth 51.2 KiB
        assert_eq!(b.slice(), 52428);
        assert_eq!(b.debit(50_000, t0), Duration::ZERO);
        // 100 KiB more with 2.4 KB left: ~0.095 s of debt.
        let w = b.debit(102_400, t0);
        assert!((w.as_secs_f64() - 0.0953).abs() < 0.001, "{w:?}");
        // A second debtor queues behind the first.
        let w2 = b.debit(102_400, t0);
        assert!((w2.as_secs_f64() - 0.1930).abs() < 0.001, "{w2:?}");
        // Time repays the debt; an idle bucket refills only to its depth.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(b.debit(52_000, later), Duration::ZERO);
        assert!(b.debit(1024, later) > Duration::ZERO);
    }

    #[test]
    fn over_a_long_run_the_rate_is_the_limit() {
        let t0 = Instant::now();
        let b = Bucket::new(2048, t0);
        let mut now = t0;
        let mut moved = 0u64;
        while now < t0 + Duration::from_secs(10) {
            let n = b.slice();
            now += b.debit(n, now);
            moved += n as u64;
        }
        let rate = moved as f64 / (now - t0).as_secs_f64();
        let limit = 2048.0 * 1024.0;
        assert!((rate / limit - 1.0).abs() < 0.01, "{rate} vs {limit}");
    }

    #[test]
    fn the_registry_shares_buckets_by_scope_and_applies_new_rates() {
        let r = Registry::default();
        let none = Limits::default();
        let user = Limits {
            download_kib_s: 100,
            upload_kib_s: 0,
        };
        let groups = vec![(
            "staff".to_string(),
            Limits {
                download_kib_s: 500,
                upload_kib_s: 50,
            },
        )];
        let bob = Subject {
            user: "bob",
            anonymous: false,
            user_limits: user,
            groups: &groups,
        };
        let t1 = r.throttle(none, &bob, Direction::Download);
        let t2 = r.throttle(none, &bob, Direction::Download);
        assert_eq!(t1.buckets.len(), 2);
        assert!(
            Arc::ptr_eq(&t1.buckets[1], &t2.buckets[1]),
            "one bucket per user"
        );
        assert_eq!(t1.rate(), Some(100 * 1024));
        let up = r.throttle(none, &bob, Direction::Upload);
        assert_eq!(up.rate(), Some(50 * 1024), "the group's upload limit");
        let faster = Subject {
            user_limits: Limits {
                download_kib_s: 300,
                upload_kib_s: 0,
            },
            ..bob
        };
        let t3 = r.throttle(none, &faster, Direction::Download);
        assert_eq!(
            t1.rate(),
            Some(300 * 1024),
            "a changed limit reaches running transfers"
        );
        drop((t1, t2, t3));
        let free = Subject {
            user: "eve",
            anonymous: false,
            user_limits: none,
            groups: &[],
        };
        assert!(!r.throttle(none, &free, Direction::Download).is_limited());
        let server = Limits {
            download_kib_s: 10,
            upload_kib_s: 0,
        };
        assert_eq!(
            r.throttle(server, &free, Direction::Download).slice(),
            Some(MIN_SLICE)
        );
    }

    #[test]
    fn ending_a_transfer_keeps_its_debt_and_anonymous_names_share_one_bucket() {
        let r = Registry::default();
        let limits = Limits {
            download_kib_s: 100,
            upload_kib_s: 0,
        };
        let who = |user, anonymous| Subject {
            user,
            anonymous,
            user_limits: limits,
            groups: &[],
        };
        let t = r.throttle(Limits::default(), &who("bob", false), Direction::Download);
        let now = Instant::now();
        t.buckets[0].debit(1 << 20, now); // ~10 s of debt
        drop(t); // aborted
        let again = r.throttle(Limits::default(), &who("bob", false), Direction::Download);
        assert!(again.buckets[0].debit(1, now) > Duration::from_secs(9));
        let a = r.throttle(
            Limits::default(),
            &who("anonymous", true),
            Direction::Download,
        );
        let f = r.throttle(Limits::default(), &who("ftp", true), Direction::Download);
        assert!(Arc::ptr_eq(&a.buckets[0], &f.buckets[0]));
    }

    #[test]
    fn limits_read_as_people_write_them() {
        assert_eq!(describe(0), "unlimited");
        assert_eq!(describe(512), "512 KiB/s");
        assert_eq!(describe(2048), "2 MiB/s");
        assert_eq!(describe(1536), "1.5 MiB/s");
    }
}
