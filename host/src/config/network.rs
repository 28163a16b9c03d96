//! Client networks (CIDR) and passive advertised addresses, as config values.

use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;

/// A CIDR network such as `192.168.0.0/16` or `fd00::/8`; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask_eq(
                u128::from(u32::from(n)),
                u128::from(u32::from(a)),
                self.prefix,
                32,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                mask_eq(u128::from(n), u128::from(a), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (dual-stack sockets) compare as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn mask_eq(n: u128, a: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (n >> shift) == (a >> shift)
}

impl std::fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A single address as written (`10.0.0.7`, not `10.0.0.7/32`).
        let host = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == host {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

impl FromStr for IpNetwork {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an IP network like 192.168.0.0/16"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': prefix must be 0..={max}"))?,
            None => max,
        };
        Ok(IpNetwork { addr, prefix })
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What PASV announces: a fixed address, or a hostname resolved when a client asks
/// (for dynamic-DNS WAN addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassiveAddress {
    Ip(IpAddr),
    Host(String),
}

impl<'de> Deserialize<'de> for PassiveAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if let Ok(ip) = s.parse() {
            return Ok(PassiveAddress::Ip(ip));
        }
        let valid = !s.is_empty()
            && s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if valid {
            Ok(PassiveAddress::Host(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "'{s}' is neither an IP address nor a host name"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let n: IpNetwork = "192.168.0.0/16".parse().unwrap();
        assert!(n.contains("192.168.200.1".parse().unwrap()));
        assert!(!n.contains("192.169.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:192.168.1.1".parse().unwrap()));
        let all: IpNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6: IpNetwork = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let one: IpNetwork = "10.1.2.3".parse().unwrap();
        assert!(
            one.contains("10.1.2.3".parse().unwrap()) && !one.contains("10.1.2.4".parse().unwrap())
        );
        assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
        assert!("nonsense".parse::<IpNetwork>().is_err());
    }
}
