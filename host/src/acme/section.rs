//! `[acme]`: certificates from an ACME CA (RFC 8555, e.g. Let's Encrypt) instead of files the
//! operator renews. Kept apart from the ACME code so the config can hold it without depending
//! on the client.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// Let's Encrypt's production directory: what an operator who names no CA means.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How the CA checks that this server answers for the domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Challenge {
    /// The CA fetches `http://<domain>/.well-known/acme-challenge/<token>` (port 80).
    #[serde(rename = "http-01")]
    Http01,
    /// The CA opens TLS to `<domain>:443` offering ALPN `acme-tls/1` (RFC 8737): no port 80.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

impl Challenge {
    pub fn as_str(self) -> &'static str {
        match self {
            Challenge::Http01 => "http-01",
            Challenge::TlsAlpn01 => "tls-alpn-01",
        }
    }

    /// Where the CA connects, unless `listen` says otherwise (behind a port forward).
    pub fn default_listen(self) -> SocketAddr {
        match self {
            Challenge::Http01 => ([0, 0, 0, 0], 80).into(),
            Challenge::TlsAlpn01 => ([0, 0, 0, 0], 443).into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeSection {
    /// The names on the certificate (no wildcards: HTTP-01 and TLS-ALPN-01 cannot prove them).
    pub domains: Vec<String>,
    /// `mailto:` addresses the CA writes to about expiring certificates.
    #[serde(default)]
    pub contact: Vec<String>,
    /// The CA's directory URL; default Let's Encrypt.
    #[serde(default = "lets_encrypt")]
    pub directory: String,
    pub challenge: Challenge,
    /// Address the challenge responder listens on; default port 80 (http-01) or 443
    /// (tls-alpn-01) on all addresses.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// A PEM root to trust for the directory's HTTPS (a private or test CA such as pebble);
    /// default the system's roots.
    #[serde(default)]
    pub ca_root: Option<PathBuf>,
    /// Renew when the certificate has fewer days left than this.
    #[serde(default = "thirty")]
    pub renew_before_days: u32,
    /// After a failed attempt, try again after this long (doubling up to a day).
    #[serde(default = "ten_minutes")]
    pub retry_secs: u64,
}

fn lets_encrypt() -> String {
    LETS_ENCRYPT.into()
}
fn thirty() -> u32 {
    30
}
fn ten_minutes() -> u64 {
    600
}

impl AcmeSection {
    pub fn listen(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| self.challenge.default_listen())
    }

    /// What is wrong with the section, as (key, message) for the config error.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.domains.is_empty() {
            return Some((
                "domains",
                "acme.domains is empty: name the host names clients connect to, e.g. domains = [\"ftp.example.com\"]".into(),
            ));
        }
        if self.domains.len() > 100 {
            return Some((
                "domains",
                "acme.domains: at most 100 names per certificate".into(),
            ));
        }
        for d in &self.domains {
            if let Err(why) = check_domain(d) {
                return Some(("domains", format!("acme.domains: '{d}' {why}")));
            }
        }
        for c in &self.contact {
            if !c.starts_with("mailto:")
                || c.len() < 10
                || c.chars().any(|ch| ch.is_whitespace() || ch.is_control())
            {
                return Some((
                    "contact",
                    format!("acme.contact: '{c}' must look like mailto:admin@example.com"),
                ));
            }
        }
        if !self.directory.starts_with("https://") {
            return Some((
                "directory",
                format!(
                    "acme.directory '{}' must be the CA's directory URL (https://...)",
                    self.directory
                ),
            ));
        }
        if self.renew_before_days == 0 || self.renew_before_days > 365 {
            return Some((
                "renew_before_days",
                "acme.renew_before_days must be from 1 to 365".into(),
            ));
        }
        if self.retry_secs == 0 {
            return Some(("retry_secs", "acme.retry_secs must be at least 1".into()));
        }
        None
    }
}

/// A host name a CA can issue for: letters, digits and hyphens in dot-separated labels.
pub fn check_domain(d: &str) -> Result<(), &'static str> {
    if d.starts_with("*.") {
        return Err(
            "is a wildcard: http-01 and tls-alpn-01 cannot prove wildcards; list the names",
        );
    }
    if d.is_empty() || d.len() > 253 {
        return Err("is not a host name (1 to 253 characters)");
    }
    if d.parse::<std::net::IpAddr>().is_ok() {
        return Err("is an IP address: name a host name");
    }
    let ok = d.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if ok {
        Ok(())
    } else {
        Err("is not a host name (letters, digits, hyphens and dots; punycode for others)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_only() {
        for good in [
            "ftp.example.com",
            "localhost",
            "a-b.c1.example",
            "xn--jrg-sna.de",
        ] {
            assert_eq!(check_domain(good), Ok(()), "{good}");
        }
        for bad in [
            "*.example.com",
            "",
            "10.0.0.1",
            "a..b",
            "-a.b",
            "a_b.c",
            "jörg.de",
            "a b",
            &"x".repeat(64),
        ] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn problems_name_the_key() {
        let s: AcmeSection =
            toml::from_str("domains = [\"ftp.example.com\"]\nchallenge = \"http-01\"").unwrap();
        assert_eq!(s.problem(), None);
        assert_eq!(s.directory, LETS_ENCRYPT);
        assert_eq!(s.listen(), "0.0.0.0:80".parse().unwrap());
        let bad = |t: &str| toml::from_str::<AcmeSection>(t).unwrap().problem().unwrap();
        assert_eq!(bad("domains = []\nchallenge = \"http-01\"").0, "domains");
        assert_eq!(
            bad("domains = [\"a.b\"]\ncontact = [\"root@x\"]\nchallenge = \"http-01\"").0,
            "contact"
        );
        assert_eq!(
            bad("domains = [\"a.b\"]\ndirectory = \"ftp://x\"\nchallenge = \"tls-alpn-01\"").0,
            "directory"
        );
        assert!(
            toml::from_str::<AcmeSection>("domains = [\"a.b\"]\nchallenge = \"dns-01\"").is_err()
        );
    }
}
