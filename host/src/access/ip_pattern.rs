//! IP patterns for allow/deny lists: exact addresses, wildcards (`127.101.44.*`, `10.0.?.1`,
//! `fe80::*`) and CIDR (`10.0.0.0/8`, `fd00::/8`). Pure; IPv4-mapped IPv6 compares as IPv4.

use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;

use crate::config::network::{IpNetwork, canonical};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpPattern {
    Network(IpNetwork),
    /// Glob over the textual address: `*` any run, `?` one character.
    Wildcard(String),
}

impl IpPattern {
    pub fn matches(&self, ip: IpAddr) -> bool {
        match self {
            IpPattern::Network(n) => n.contains(ip),
            IpPattern::Wildcard(p) => glob(p.as_bytes(), canonical(ip).to_string().as_bytes()),
        }
    }
}

/// Iterative glob with backtracking on the last `*`: linear in practice, never recursive.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&s[si])) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

impl FromStr for IpPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.contains('*') || s.contains('?') {
            let ok = !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_hexdigit() || ".:*?".contains(c));
            return if ok {
                Ok(IpPattern::Wildcard(s.to_ascii_lowercase()))
            } else {
                Err(format!("'{s}' is not an IP pattern"))
            };
        }
        s.parse::<IpNetwork>().map(IpPattern::Network)
    }
}

impl<'de> Deserialize<'de> for IpPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for IpPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IpPattern::Wildcard(w) => s.serialize_str(w),
            IpPattern::Network(n) => s.serialize_str(&n.to_string()),
        }
    }
}

/// An allow list and a deny list: deny wins; a non-empty allow list admits only its matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IpRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<IpPattern>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<IpPattern>,
}

impl IpRules {
    pub fn admits(&self, ip: IpAddr) -> bool {
        if self.deny.iter().any(|p| p.matches(ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|p| p.matches(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpPattern {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn wildcards() {
        assert!(p("127.101.44.*").matches(ip("127.101.44.9")));
        assert!(!p("127.101.44.*").matches(ip("127.101.45.9")));
        assert!(p("10.0.?.1").matches(ip("10.0.7.1")));
        assert!(!p("10.0.?.1").matches(ip("10.0.17.1")));
        assert!(p("*").matches(ip("::1")));
        assert!(p("fe80::*").matches(ip("FE80::1:2")));
        assert!(p("192.168.*.*").matches(ip("::ffff:192.168.3.4")));
        assert!("10.0.0.x".parse::<IpPattern>().is_err());
        assert!("*; rm -rf".parse::<IpPattern>().is_err());
    }

    #[test]
    fn exact_and_cidr() {
        assert!(p("10.1.2.3").matches(ip("10.1.2.3")));
        assert!(!p("10.1.2.3").matches(ip("10.1.2.4")));
        assert!(p("10.0.0.0/8").matches(ip("10.200.1.1")));
        assert!(p("fd00::/8").matches(ip("fd12::1")));
        assert!(!p("fd00::/8").matches(ip("10.0.0.1")));
    }

    #[test]
    fn rules() {
        let r = IpRules {
            allow: vec![p("10.*")],
            deny: vec![p("10.0.0.66")],
        };
        assert!(r.admits(ip("10.1.1.1")));
        assert!(!r.admits(ip("10.0.0.66")));
        assert!(!r.admits(ip("192.168.1.1")));
        assert!(IpRules::default().admits(ip("8.8.8.8")));
    }

    #[test]
    fn glob_is_linear_on_hostile_patterns() {
        let pat = "*".repeat(40) + "1";
        assert!(!p(&pat).matches(ip("255.255.255.255")));
    }
}
