//! `[access]`: the server-wide address rules and the double-login rule.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AccessSection {
    /// Global IP allow list (exact, wildcard `10.0.*`, CIDR); empty = everyone not denied.
    pub allow: Vec<crate::access::IpPattern>,
    /// Global IP deny list; refused with 421 before the banner.
    pub deny: Vec<crate::access::IpPattern>,
    /// Refuse a second session of the same user from the same IP address.
    pub no_double_login: bool,
}

impl AccessSection {
    pub fn rules(&self) -> crate::access::IpRules {
        crate::access::IpRules {
            allow: self.allow.clone(),
            deny: self.deny.clone(),
        }
    }
}
