//! Who made a plugin fail, and what that costs them. A fault (trap, CPU budget overrun, bad
//! reply) is charged to the client the call was about: its address, and its user name once
//! logged in (never a name merely typed at USER, never the shared anonymous name). A client
//! with `max_faults` faults within `fault_window_secs` is quarantined for that plugin: its
//! calls are not made and its gates are refused, for a window that doubles with each repeat
//! (up to an hour). Everyone else keeps the plugin. No number of addresses can take the plugin
//! away from other clients.
//!
//! Faults no client caused (an instance that cannot be created) are the plugin's own: after
//! `max_faults` of them the plugin is quarantined as a whole, retried after a backoff that
//! doubles up to five minutes, and healed by the first call that works.
//!
//! Pure logic with an explicit clock.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Subjects remembered per plugin; beyond it, those without recent faults are forgotten.
const MAX_SUBJECTS: usize = 16_384;
const MAX_CLIENT_BACKOFF: Duration = Duration::from_secs(3600);
const FIRST_PLUGIN_BACKOFF: Duration = Duration::from_secs(5);
const MAX_PLUGIN_BACKOFF: Duration = Duration::from_secs(300);

/// Whom a call is about: `ip:<addr>` and, for a logged-in named user, `user:<name>`.
pub type Subject = String;

/// The subjects a request's faults are charged to: the user once logged in with a name of
/// their own, else the address. A name merely typed at USER (a failed login) or shared by
/// everyone (anonymous) is never a subject, so nobody can get another user refused.
pub fn subjects_of(req: &ftpsd_plugin_sdk::Request) -> Vec<Subject> {
    use ftpsd_plugin_sdk::Request as R;
    let named = |ip: &str, user: &str, anonymous: bool| {
        if user.is_empty() || anonymous || crate::users::Authenticator::is_anonymous_name(user) {
            vec![format!("ip:{ip}")]
        } else {
            vec![format!("user:{}", user.to_ascii_lowercase())]
        }
    };
    match req {
        R::Describe | R::Configure { .. } => Vec::new(),
        R::Connect(e) => vec![format!("ip:{}", e.ip)],
        R::Login(e) if e.success => named(&e.ip, &e.user, e.anonymous),
        R::Login(e) => vec![format!("ip:{}", e.ip)],
        R::Upload(e) => named(&e.ip, &e.user, false),
        R::FileBlocked(e) => named(&e.ip, &e.user, false),
        R::RatioCheck(e) => named(&e.ip, &e.user, e.anonymous),
        R::UploadComplete(e) => named(&e.ip, &e.user, false),
        R::Command(e) => named(&e.ip, &e.user, false),
        R::UploadFailed(e) => named(&e.ip, &e.user, false),
        // Before the password is known good: the address answers for it.
        R::Authenticate(e) => vec![format!("ip:{}", e.ip)],
    }
}

#[derive(Default)]
struct Record {
    recent: VecDeque<Instant>,
    until: Option<Instant>,
    strikes: u32,
}

impl Record {
    /// Adds a fault; returns the quarantine length if this fault starts one.
    fn fault(&mut self, now: Instant, max: u32, window: Duration) -> Option<Duration> {
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > window)
        {
            self.recent.pop_front();
        }
        if (self.recent.len() as u32) < max.max(1) {
            return None;
        }
        self.recent.clear();
        let backoff = window
            .max(Duration::from_secs(1))
            .saturating_mul(1 << self.strikes.min(12))
            .min(MAX_CLIENT_BACKOFF);
        self.strikes += 1;
        self.until = Some(now + backoff);
        Some(backoff)
    }

    fn quarantined(&self, now: Instant) -> bool {
        self.until.is_some_and(|u| now < u)
    }
}

/// What [`FaultBook::fault`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Counted; nothing else happens yet.
    Counted,
    /// These subjects are quarantined for this long.
    ClientQuarantined(Vec<Subject>, Duration),
    /// The plugin as a whole is quarantined for this long.
    PluginQuarantined(Duration),
}

pub struct FaultBook {
    /// The end of the latest client quarantine (an upper bound for all of them).
    quarantined_until: Option<Instant>,
    max: u32,
    window: Duration,
    clients: HashMap<Subject, Record>,
    plugin: Record,
    plugin_backoff: Duration,
}

impl FaultBook {
    pub fn new(max_faults: u32, window: Duration) -> FaultBook {
        FaultBook {
            quarantined_until: None,
            max: max_faults,
            window,
            clients: HashMap::new(),
            plugin: Record::default(),
            plugin_backoff: FIRST_PLUGIN_BACKOFF,
        }
    }

    /// The subject of `subjects` that is quarantined now, if any.
    pub fn quarantined_client<'a>(&self, subjects: &'a [Subject], now: Instant) -> Option<&'a str> {
        subjects
            .iter()
            .find(|s| self.clients.get(*s).is_some_and(|r| r.quarantined(now)))
            .map(String::as_str)
    }

    /// Whether any client is quarantined now (cheap: most calls need no more).
    pub fn any_client_quarantined(&self, now: Instant) -> bool {
        self.quarantined_until.is_some_and(|u| now < u)
    }

    /// Whether the plugin as a whole is quarantined now. After the backoff, calls are tried
    /// again; the first that works heals it ([`FaultBook::success`]).
    pub fn plugin_quarantined(&self, now: Instant) -> bool {
        self.plugin.quarantined(now)
    }

    /// A fault charged to `subjects` (empty: the plugin's own fault).
    pub fn fault(&mut self, subjects: &[Subject], now: Instant) -> Verdict {
        if subjects.is_empty() {
            let (max, window) = (self.max, self.window);
            self.plugin.recent.push_back(now);
            while self
                .plugin
                .recent
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) > window)
            {
                self.plugin.recent.pop_front();
            }
            // A plugin that failed again right after its backoff goes back at once.
            let again = self.plugin.strikes > 0;
            if again || self.plugin.recent.len() as u32 >= max.max(1) {
                self.plugin.recent.clear();
                let backoff = self.plugin_backoff;
                self.plugin_backoff = (backoff * 2).min(MAX_PLUGIN_BACKOFF);
                self.plugin.strikes += 1;
                self.plugin.until = Some(now + backoff);
                return Verdict::PluginQuarantined(backoff);
            }
            return Verdict::Counted;
        }
        self.bound(now);
        let mut started = Vec::new();
        let mut longest = Duration::ZERO;
        for s in subjects {
            let r = self.clients.entry(s.clone()).or_default();
            if let Some(d) = r.fault(now, self.max, self.window) {
                started.push(s.clone());
                longest = longest.max(d);
                let until = now + d;
                self.quarantined_until =
                    Some(self.quarantined_until.map_or(until, |u| u.max(until)));
            }
        }
        if started.is_empty() {
            Verdict::Counted
        } else {
            Verdict::ClientQuarantined(started, longest)
        }
    }

    /// A call that worked: a plugin-wide quarantine is over.
    pub fn success(&mut self) {
        if self.plugin.strikes > 0 {
            self.plugin = Record::default();
            self.plugin_backoff = FIRST_PLUGIN_BACKOFF;
        }
    }

    /// Lifts every quarantine (an operator's reload).
    pub fn clear(&mut self) {
        self.clients.clear();
        self.quarantined_until = None;
        self.plugin = Record::default();
        self.plugin_backoff = FIRST_PLUGIN_BACKOFF;
    }

    /// Clients quarantined now (admin view, metrics).
    pub fn quarantined_clients(&self, now: Instant) -> Vec<(Subject, Duration)> {
        self.clients
            .iter()
            .filter_map(|(s, r)| r.until.filter(|u| now < *u).map(|u| (s.clone(), u - now)))
            .collect()
    }

    fn bound(&mut self, now: Instant) {
        if self.clients.len() < MAX_SUBJECTS {
            return;
        }
        let window = self.window;
        self.clients.retain(|_, r| {
            r.quarantined(now)
                || r.recent
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) <= window)
        });
        if self.clients.len() >= MAX_SUBJECTS {
            // Only quarantined clients left: keep the newest quarantines.
            let mut all: Vec<_> = self.clients.drain().collect();
            all.sort_by_key(|(_, r)| std::cmp::Reverse(r.until));
            all.truncate(MAX_SUBJECTS / 2);
            self.clients.extend(all);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Vec<Subject> {
        vec![format!("ip:10.0.0.{n}")]
    }

    #[test]
    fn a_faulting_client_is_quarantined_alone() {
        let mut b = FaultBook::new(3, Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(b.fault(&ip(1), now), Verdict::Counted);
        assert_eq!(b.fault(&ip(1), now), Verdict::Counted);
        assert_eq!(
            b.fault(&ip(1), now),
            Verdict::ClientQuarantined(ip(1), Duration::from_secs(60))
        );
        assert!(b.quarantined_client(&ip(1), now).is_some());
        assert!(b.quarantined_client(&ip(2), now).is_none());
        assert!(!b.plugin_quarantined(now));
        // Over after the backoff; the next quarantine is twice as long.
        let later = now + Duration::from_secs(61);
        assert!(b.quarantined_client(&ip(1), later).is_none());
        for _ in 0..2 {
            b.fault(&ip(1), later);
        }
        assert_eq!(
            b.fault(&ip(1), later),
            Verdict::ClientQuarantined(ip(1), Duration::from_secs(120))
        );
    }

    #[test]
    fn many_addresses_never_quarantine_the_plugin() {
        let mut b = FaultBook::new(2, Duration::from_secs(60));
        let now = Instant::now();
        for n in 0..=255 {
            for _ in 0..5 {
                b.fault(&ip(n), now);
            }
        }
        assert!(!b.plugin_quarantined(now));
        assert!(b.quarantined_client(&ip(1), now).is_some());
        assert!(
            b.quarantined_client(&["user:bob".to_string()], now)
                .is_none()
        );
    }

    #[test]
    fn old_faults_leave_the_window() {
        let mut b = FaultBook::new(2, Duration::from_secs(10));
        let now = Instant::now();
        b.fault(&ip(1), now);
        assert_eq!(
            b.fault(&ip(1), now + Duration::from_secs(11)),
            Verdict::Counted
        );
    }

    #[test]
    fn the_plugins_own_faults_quarantine_it_with_backoff_and_a_success_heals_it() {
        let mut b = FaultBook::new(2, Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(b.fault(&[], now), Verdict::Counted);
        assert_eq!(
            b.fault(&[], now),
            Verdict::PluginQuarantined(Duration::from_secs(5))
        );
        assert!(b.plugin_quarantined(now));
        let retry = now + Duration::from_secs(6);
        assert!(!b.plugin_quarantined(retry));
        // Fails again at once: back for twice as long.
        assert_eq!(
            b.fault(&[], retry),
            Verdict::PluginQuarantined(Duration::from_secs(10))
        );
        b.success();
        assert!(!b.plugin_quarantined(retry));
        assert_eq!(b.fault(&[], retry), Verdict::Counted);
    }

    #[test]
    fn the_book_stays_bounded() {
        let mut b = FaultBook::new(1000, Duration::from_secs(60));
        let now = Instant::now();
        for i in 0..(MAX_SUBJECTS + 100) {
            b.fault(&[format!("ip:{i}")], now + Duration::from_secs(120));
        }
        assert!(b.clients.len() <= MAX_SUBJECTS);
    }
}
