//! `[passive]` and `[active]`: how data connections are set up.

use serde::Deserialize;

use crate::config::network::{IpNetwork, PassiveAddress};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassiveSection {
    pub enabled: bool,
    pub port_min: u16,
    pub port_max: u16,
    /// Address announced in PASV replies: an IP, or a hostname resolved at each use.
    /// Default: the address the client connected to.
    pub advertise: Option<PassiveAddress>,
    /// Per-client-network overrides, first match wins (LAN clients get the LAN address).
    pub overrides: Vec<PassiveOverride>,
    /// Passive listeners (opened by PASV/EPSV, not yet connected) one client address may hold
    /// at once; 0 = no cap. Unused listeners close after `data_timeout_secs` anyway.
    pub max_listeners_per_ip: usize,
    /// The same per user account (the anonymous account is counted by address); 0 = no cap.
    pub max_listeners_per_user: usize,
}

impl Default for PassiveSection {
    fn default() -> Self {
        PassiveSection {
            enabled: true,
            port_min: 50000,
            port_max: 50100,
            advertise: None,
            overrides: Vec::new(),
            max_listeners_per_ip: 64,
            max_listeners_per_user: 64,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveOverride {
    pub clients: IpNetwork,
    pub advertise: PassiveAddress,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActiveSection {
    pub enabled: bool,
    /// Connect from port (control port − 1), as RFC 959 servers do from port 20.
    pub source_port_minus_one: bool,
}

impl Default for ActiveSection {
    fn default() -> Self {
        ActiveSection {
            enabled: true,
            source_port_minus_one: false,
        }
    }
}
