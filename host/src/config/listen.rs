//! A listener's addresses: `listen = "0.0.0.0:21"`, or several, `listen = ["0.0.0.0:21",
//! "[::]:21"]` (IPv4 and IPv6 sockets, or a LAN and a loopback address).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// Most addresses one listener kind may bind (each is a socket and an accept loop).
pub const MAX_LISTEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen(Vec<SocketAddr>);

impl Listen {
    pub fn new(addrs: Vec<SocketAddr>) -> Result<Listen, String> {
        if addrs.is_empty() {
            return Err("listen needs at least one address, e.g. \"0.0.0.0:21\"".into());
        }
        if addrs.len() > MAX_LISTEN {
            return Err(format!(
                "listen has {} addresses; at most {MAX_LISTEN}",
                addrs.len()
            ));
        }
        for (i, a) in addrs.iter().enumerate() {
            if a.port() != 0 && addrs[..i].contains(a) {
                return Err(format!("listen names {a} twice"));
            }
        }
        Ok(Listen(addrs))
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.0
    }

    /// Whether both bind a same fixed address (port 0 picks a free port: never a clash).
    pub fn overlaps(&self, other: &Listen) -> Option<SocketAddr> {
        self.0
            .iter()
            .find(|a| a.port() != 0 && other.0.contains(a))
            .copied()
    }
}

impl From<SocketAddr> for Listen {
    fn from(a: SocketAddr) -> Listen {
        Listen(vec![a])
    }
}

impl FromStr for Listen {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Listen, Self::Err> {
        s.parse().map(|a: SocketAddr| Listen(vec![a]))
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(|a| a.to_string()).collect();
        f.write_str(&list.join(", "))
    }
}

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Listen, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "an address such as \"0.0.0.0:21\" or a list of them"
        )]
        enum OneOrMany {
            One(SocketAddr),
            Many(Vec<SocketAddr>),
        }
        let addrs = match OneOrMany::deserialize(d)? {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(v) => v,
        };
        Listen::new(addrs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct L {
        listen: Listen,
    }

    fn parse(s: &str) -> Result<Listen, String> {
        toml::from_str::<L>(s)
            .map(|l| l.listen)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn one_address_or_a_list() {
        assert_eq!(parse("listen = \"127.0.0.1:21\"").unwrap().addrs().len(), 1);
        let two = parse("listen = [\"127.0.0.1:21\", \"[::1]:21\"]").unwrap();
        assert_eq!(two.to_string(), "127.0.0.1:21, [::1]:21");
        assert!(parse("listen = []").unwrap_err().contains("at least one"));
        assert!(
            parse("listen = [\"127.0.0.1:21\", \"127.0.0.1:21\"]")
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            parse("listen = \"localhost\"")
                .unwrap_err()
                .contains("0.0.0.0:21")
        );
        assert!(parse("listen = [\"127.0.0.1:0\", \"127.0.0.1:0\"]").is_ok());
    }

    #[test]
    fn overlap_ignores_port_zero() {
        let a: Listen = "127.0.0.1:0".parse().unwrap();
        assert_eq!(a.overlaps(&a), None);
        let b = parse("listen = [\"127.0.0.1:21\", \"[::1]:21\"]").unwrap();
        let c: Listen = "[::1]:21".parse().unwrap();
        assert_eq!(b.overlaps(&c), Some("[::1]:21".parse().unwrap()));
    }
}
