//! The ban convention: how a plugin stores bans so the operator can list and lift them
//! (`ftpsd bans list|clear`, the admin interface) without knowing the plugin.
//!
//! A ban is the key `ban:<subject>` in the plugin's namespace, its value a JSON [`BanRecord`]
//! and its TTL the ban's end. The subject starts with the IP address (`203.0.113.9`, or
//! `203.0.113.9|alice` when a plugin bans per IP and user). Lifting the bans of an IP deletes
//! every key `<kind>:<subject>` whose kind is one of [`STATE_KINDS`] and whose subject is that
//! IP or starts with `IP|`: the ban and the failure history that led to it.

use serde::{Deserialize, Serialize};

/// Key kinds that make up a plugin's ban state: the ban, the failure count in the current
/// window, and the number of earlier bans (for escalation).
pub const STATE_KINDS: [&str; 3] = ["ban", "fail", "strikes"];

/// What a ban looks like in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Unix ms when the ban was imposed and when it ends.
    pub since_ms: u64,
    pub until_ms: u64,
    /// Failures that triggered it, and how many bans this subject had before (escalation).
    pub failures: u64,
    pub strikes: u64,
}

/// The subject of a ban: the IP, or IP and user.
pub fn subject(ip: &str, user: Option<&str>) -> String {
    match user {
        Some(u) => format!("{ip}|{}", u.to_ascii_lowercase()),
        None => ip.to_string(),
    }
}

/// `<kind>:<subject>`.
pub fn key(kind: &str, subject: &str) -> String {
    format!("{kind}:{subject}")
}

/// Whether `key` is ban state (one of [`STATE_KINDS`]) for `ip` (any IP when None).
pub fn is_state_of(key: &str, ip: Option<&str>) -> bool {
    let Some((kind, subject)) = key.split_once(':') else {
        return false;
    };
    if !STATE_KINDS.contains(&kind) {
        return false;
    }
    match ip {
        None => true,
        Some(ip) => subject == ip || subject.strip_prefix(ip).is_some_and(|r| r.starts_with('|')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keys_match_their_ip_only() {
        assert!(is_state_of("ban:10.0.0.1", Some("10.0.0.1")));
        assert!(is_state_of("fail:10.0.0.1|bob", Some("10.0.0.1")));
        assert!(is_state_of("strikes:::1", Some("::1")));
        assert!(!is_state_of("ban:10.0.0.12", Some("10.0.0.1")));
        assert!(!is_state_of("calls", None));
        assert!(!is_state_of("other:10.0.0.1", Some("10.0.0.1")));
        assert!(is_state_of("ban:10.0.0.12", None));
        assert_eq!(subject("1.2.3.4", Some("Bob")), "1.2.3.4|bob");
    }
}
