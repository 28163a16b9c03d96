//! `[proxy_protocol]`: which peers are load balancers whose PROXY header is believed.

use std::net::IpAddr;

use serde::Deserialize;

use crate::config::network::IpNetwork;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySection {
    /// The balancers (addresses or CIDRs). Empty = the PROXY protocol is off.
    pub trusted: Vec<IpNetwork>,
    /// How long a trusted proxy has to send its header (seconds).
    pub header_timeout_secs: u64,
    /// Whether clients may also connect directly (then they are themselves the client, and a
    /// PROXY header they send is an unknown command). Off: only the balancers may connect.
    pub allow_direct: bool,
}

impl Default for ProxySection {
    fn default() -> Self {
        ProxySection {
            trusted: Vec::new(),
            header_timeout_secs: 5,
            allow_direct: false,
        }
    }
}

impl ProxySection {
    pub fn enabled(&self) -> bool {
        !self.trusted.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(ip))
    }
}
