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
        Some(u) => format!("{ip}|{}", user_part(u)),
        None => ip.to_string(),
    }
}

/// Longest user name kept whole in a subject.
pub const MAX_USER_PART: usize = 64;

/// A user name as bans key it: lower case, and bounded — a name typed at USER is the
/// client's choice, and a key per long name would let one client fill the plugin's state.
/// Longer names keep their first 47 characters and a hash of the whole name.
pub fn user_part(user: &str) -> String {
    let lower = user.to_ascii_lowercase();
    if lower.chars().count() <= MAX_USER_PART {
        return lower;
    }
    // FNV-1a: stable across builds and platforms, which a ban stored on disk needs.
    let hash = lower.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let head: String = lower.chars().take(47).collect();
    format!("{head}~{hash:016x}")
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

    #[test]
    fn long_user_names_are_bounded_and_still_distinct() {
        let a = user_part(&"A".repeat(5000));
        let b = user_part(&format!("{}b", "a".repeat(4999)));
        assert_eq!(a.chars().count(), MAX_USER_PART);
        assert_ne!(a, b);
        assert_eq!(a, user_part(&"a".repeat(5000)));
        assert_eq!(user_part(&"é".repeat(64)), "é".repeat(64));
    }
}
