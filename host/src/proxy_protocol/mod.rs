//! The PROXY protocol (v1 text and v2 binary, as HAProxy, AWS NLB and Kubernetes ingress send
//! it) on every listener: behind a TCP load balancer the peer of every connection is the
//! balancer, and the header it sends first names the client. The client's address then counts
//! everywhere: IP rules, limits, bans, plugins, logs and the passive theft check.
//!
//! A header is read only from the configured trusted proxies: from anyone else it would let a
//! client name any address it likes. A trusted proxy's connection without a valid header within
//! the timeout is closed; a direct connection (not from a trusted proxy) is refused unless
//! `allow_direct` is set.

pub mod header;
pub mod section;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

pub use header::HeaderError;
pub use section::ProxySection;

/// Why a connection was not given a client address.
#[derive(Debug, thiserror::Error)]
pub enum ProxyRefusal {
    #[error("connections must come through the load balancer")]
    Direct,
    #[error("PROXY header from {proxy}: {source}")]
    Header {
        proxy: SocketAddr,
        #[source]
        source: HeaderError,
    },
}

/// The client behind `peer`: `peer` itself when the PROXY protocol is off, or a direct
/// connection is allowed; the header's source address for a trusted proxy (or `peer` when
/// the header says LOCAL/UNKNOWN: the balancer's own health check).
pub async fn client_of(
    section: &ProxySection,
    tcp: &mut TcpStream,
    peer: SocketAddr,
) -> Result<SocketAddr, ProxyRefusal> {
    if !section.enabled() {
        return Ok(peer);
    }
    if !section.trusts(peer.ip()) {
        return if section.allow_direct {
            Ok(peer)
        } else {
            Err(ProxyRefusal::Direct)
        };
    }
    let timeout = Duration::from_secs(section.header_timeout_secs);
    let source = match tokio::time::timeout(timeout, header::read(tcp)).await {
        Ok(r) => r,
        Err(_) => Err(HeaderError::Timeout(section.header_timeout_secs)),
    }
    .map_err(|source| ProxyRefusal::Header {
        proxy: peer,
        source,
    })?;
    Ok(source
        .map(|a| SocketAddr::new(crate::config::network::canonical(a.ip()), a.port()))
        .unwrap_or(peer))
}
