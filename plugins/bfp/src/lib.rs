//! bfp — brute-force protection. After `max_failures` failed logins within `window_secs` an
//! address (or address and user) is banned for `ban_secs`, longer for repeat offenders. A
//! banned address is refused at connect (421, before the banner) and at login — a correct
//! password too, with the same reply as a wrong one, so the ban is no password oracle.
//!
//! Bans and failure counts live in the host's store (they survive hot swap and restart) and
//! follow the SDK's ban convention, so `ftpsd bans list|clear` shows and lifts them.
//!
//! ```toml
//! [[plugins]]
//! name = "bfp"
//! path = "plugins/bfp.wasm"
//! settings = { max_failures = 3, window_secs = 900, ban_secs = 900, escalation = 2.0,
//!              safe_list = ["127.0.0.1", "10.0.0.0/8"], key_by = "ip" }
//! # key_by = "ip+user" bans an address per user name, and the whole address after
//! # max_failures_per_ip failures over all names (default 10 × max_failures).
//! ```

mod cidr;

use ftpsd_plugin_sdk::bans::{self, BanRecord};
use ftpsd_plugin_sdk::{ConnectEvent, Hook, Host, HostError, LoginEvent, Plugin, Response, export};
use serde::Deserialize;

pub use cidr::Cidr;

/// The host's reply to a wrong password; a banned correct password gets exactly this.
pub const LOGIN_INCORRECT: &str = "Login incorrect.";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Failed logins that trigger a ban.
    pub max_failures: u64,
    /// Failures count within this many seconds of the first one.
    pub window_secs: u64,
    /// Length of a first ban.
    pub ban_secs: u64,
    /// Each earlier ban (within `strike_memory_secs`) multiplies the ban by this factor.
    pub escalation: f64,
    /// Longest ban, however often the subject offended.
    pub max_ban_secs: u64,
    /// How long earlier bans are remembered for escalation.
    pub strike_memory_secs: u64,
    /// Addresses and networks (CIDR) that are never banned.
    pub safe_list: Vec<String>,
    /// `ip`: ban the address; `ip+user`: ban the address for that user name only.
    pub key_by: KeyBy,
    /// With `ip+user`: failures of an address over all user names that ban the address as a
    /// whole (default 10 × `max_failures`). One address trying many names is guessing too,
    /// and each name costs a counter: without this bound it could fill the plugin's state.
    pub max_failures_per_ip: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_failures: 3,
            window_secs: 900,
            ban_secs: 900,
            escalation: 2.0,
            max_ban_secs: 7 * 24 * 3600,
            strike_memory_secs: 24 * 3600,
            safe_list: Vec::new(),
            key_by: KeyBy::Ip,
            max_failures_per_ip: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum KeyBy {
    #[serde(rename = "ip")]
    Ip,
    #[serde(rename = "ip+user")]
    IpUser,
}

#[derive(Default)]
pub struct Bfp {
    settings: Settings,
    safe: Vec<Cidr>,
}

impl Bfp {
    fn subject(&self, ip: &str, user: &str) -> String {
        match self.settings.key_by {
            KeyBy::Ip => bans::subject(ip, None),
            KeyBy::IpUser => bans::subject(ip, Some(user)),
        }
    }

    fn is_safe(&self, ip: &str) -> bool {
        ip.parse()
            .map(|ip| self.safe.iter().any(|c| c.contains(ip)))
            .unwrap_or(false)
    }

    /// Ban length for a subject with `strikes` earlier bans.
    pub fn ban_ms(&self, strikes: u64) -> u64 {
        let s = &self.settings;
        let factor = s.escalation.powi(strikes.min(64) as i32);
        let secs = (s.ban_secs as f64 * factor).min(s.max_ban_secs as f64);
        (secs.max(1.0) * 1000.0) as u64
    }

    /// Counts a failure of `subject` and of its address as a whole (`ip+user`).
    fn record_failure(
        &self,
        ip: &str,
        user: &str,
        subject: &str,
        host: &mut dyn Host,
    ) -> Result<(), HostError> {
        let s = &self.settings;
        if s.key_by == KeyBy::IpUser {
            let per_ip = s
                .max_failures_per_ip
                .unwrap_or(s.max_failures.saturating_mul(10));
            self.count(ip, None, ip, per_ip, host)?;
        }
        let user = (s.key_by == KeyBy::IpUser).then_some(user);
        self.count(ip, user, subject, s.max_failures, host)
    }

    /// Counts a failure and bans at `threshold`. Safe under concurrency: the failure window
    /// is set by whoever creates the counter, and of the failures that reach the threshold at
    /// once exactly one creates the ban (compare-and-swap) and escalates — a burst is one ban.
    fn count(
        &self,
        ip: &str,
        user: Option<&str>,
        subject: &str,
        threshold: u64,
        host: &mut dyn Host,
    ) -> Result<(), HostError> {
        let s = &self.settings;
        let window_ms = Some(s.window_secs * 1000);
        let fail_key = bans::key("fail", subject);
        let failures = if host.kv_cas(&fail_key, None, Some("1"), window_ms)? {
            1
        } else {
            let n = host.kv_incr(&fail_key, 1, None)?;
            if n == 1 {
                // The counter expired in between: this failure starts a new window.
                host.kv_cas(&fail_key, Some("1"), Some("1"), window_ms)?;
            }
            n
        };
        if (failures as u64) < threshold {
            return Ok(());
        }
        let strikes_key = bans::key("strikes", subject);
        let strikes = host
            .kv_get(&strikes_key)?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let now = host.now_ms();
        let ms = self.ban_ms(strikes);
        let record = BanRecord {
            ip: ip.into(),
            user: user.map(bans::user_part),
            since_ms: now,
            until_ms: now + ms,
            failures: failures as u64,
            strikes,
        };
        let value = serde_json::to_string(&record).unwrap_or_default();
        if !host.kv_cas(&bans::key("ban", subject), None, Some(&value), Some(ms))? {
            // Another failure of the same burst banned the subject already.
            return Ok(());
        }
        host.kv_incr(&strikes_key, 1, Some(s.strike_memory_secs * 1000))?;
        host.kv_delete(&fail_key)?;
        host.log(
            "warn",
            &format!(
                "banned {subject} for {}s after {failures} failed logins ({strikes} earlier bans)",
                ms / 1000
            ),
        );
        Ok(())
    }

    fn check_connect(&self, ev: &ConnectEvent, host: &mut dyn Host) -> Result<Response, HostError> {
        // `ban:<ip>`: the address's ban (`ip`), or its ban over all names (`ip+user`).
        if !self.is_safe(&ev.ip) && host.kv_get(&bans::key("ban", &ev.ip))?.is_some() {
            return Ok(Response::deny(
                421,
                "Too many failed logins from your address; try again later.",
            ));
        }
        Ok(Response::allow())
    }

    fn check_login(&self, ev: &LoginEvent, host: &mut dyn Host) -> Result<Response, HostError> {
        if ev.anonymous || self.is_safe(&ev.ip) {
            return Ok(Response::allow());
        }
        let subject = self.subject(&ev.ip, &ev.user);
        let banned = host.kv_get(&bans::key("ban", &subject))?.is_some()
            || (subject != ev.ip && host.kv_get(&bans::key("ban", &ev.ip))?.is_some());
        if banned {
            // Same reply as a wrong password (the host adds the same delay).
            return Ok(Response::deny(530, LOGIN_INCORRECT));
        }
        if ev.success {
            // A read first: most logins have no failures to forget, and a write costs a commit.
            // The address's count over all names (`ip+user`) stays: a correct password for
            // one name does not excuse guessing at others.
            let fail_key = bans::key("fail", &subject);
            if host.kv_get(&fail_key)?.is_some() {
                host.kv_delete(&fail_key)?;
            }
        } else {
            self.record_failure(&ev.ip, &ev.user, &subject, host)?;
        }
        Ok(Response::allow())
    }
}

impl Plugin for Bfp {
    type Settings = Settings;
    const NAME: &'static str = "bfp";
    const HOOKS: &'static [Hook] = &[Hook::Connect, Hook::Login];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        if s.max_failures == 0 {
            return Err("max_failures: must be at least 1".into());
        }
        if s.max_failures_per_ip == Some(0) {
            return Err("max_failures_per_ip: must be at least 1".into());
        }
        if s.window_secs == 0 || s.ban_secs == 0 {
            return Err("window_secs and ban_secs: must be at least 1".into());
        }
        if !(1.0..=100.0).contains(&s.escalation) {
            return Err(format!(
                "escalation: {} is not within 1.0..=100.0",
                s.escalation
            ));
        }
        self.safe = s
            .safe_list
            .iter()
            .map(|c| c.parse().map_err(|e| format!("safe_list: {e}")))
            .collect::<Result<_, _>>()?;
        self.settings = s;
        Ok(())
    }

    // A store that cannot answer refuses (Response::from: 451, then 421/530 at these
    // gates): a ban that cannot be read must not let the address in.
    fn connect(&mut self, ev: &ConnectEvent, host: &mut dyn Host) -> Response {
        self.check_connect(ev, host).unwrap_or_else(Response::from)
    }

    fn login(&mut self, ev: &LoginEvent, host: &mut dyn Host) -> Response {
        self.check_login(ev, host).unwrap_or_else(Response::from)
    }
}

export!(Bfp);

#[cfg(test)]
mod tests;
