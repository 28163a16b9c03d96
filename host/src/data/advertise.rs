//! The address PASV announces: per-client-network override, else the configured address
//! (IP, or host name resolved now), else the address the client reached us on.

use std::net::IpAddr;

use crate::config::{PassiveAddress, PassiveSection};

pub async fn passive_address(
    cfg: &PassiveSection,
    client: IpAddr,
    local: IpAddr,
) -> Result<IpAddr, String> {
    let chosen = cfg
        .overrides
        .iter()
        .find(|o| o.clients.contains(client))
        .map(|o| &o.advertise)
        .or(cfg.advertise.as_ref());
    match chosen {
        None => Ok(local),
        Some(PassiveAddress::Ip(ip)) => Ok(*ip),
        Some(PassiveAddress::Host(name)) => {
            let addrs = tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map_err(|e| format!("cannot resolve {name}: {e}"))?;
            let mut fallback = None;
            for a in addrs {
                if a.is_ipv4() {
                    return Ok(a.ip());
                }
                fallback.get_or_insert(a.ip());
            }
            fallback.ok_or_else(|| format!("{name} has no address"))
        }
    }
}
