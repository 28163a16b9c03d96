//! Passive mode: one listener per transfer from the configured port range, accepting only the
//! control connection's peer address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rand::Rng;
use tokio::net::{TcpListener, TcpStream};

use super::DataError;

#[derive(Debug, thiserror::Error)]
pub enum PassiveError {
    #[error("No passive port free in {0}-{1}; try again later.")]
    Exhausted(u16, u16),
    #[error("Cannot listen for a data connection: {0}")]
    Io(std::io::Error),
}

/// Binds the first free port of `min..=max`, starting at a random one so sessions spread out.
pub fn bind(ip: IpAddr, min: u16, max: u16) -> Result<TcpListener, PassiveError> {
    let span = u32::from(max - min) + 1;
    let start = rand::rng().random_range(0..span);
    for i in 0..span {
        let port = min + ((start + i) % span) as u16;
        match std::net::TcpListener::bind(SocketAddr::new(ip, port)) {
            Ok(l) => {
                l.set_nonblocking(true).map_err(PassiveError::Io)?;
                return TcpListener::from_std(l).map_err(PassiveError::Io);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => continue,
            Err(e) => return Err(PassiveError::Io(e)),
        }
    }
    Err(PassiveError::Exhausted(min, max))
}

/// Waits for the client's data connection. Connections from other addresses are closed and
/// logged, and waiting goes on, so an intruder can neither steal nor break the transfer.
pub async fn accept_from(
    listener: &TcpListener,
    peer_ip: IpAddr,
    timeout: Duration,
) -> Result<TcpStream, DataError> {
    let peer_ip = crate::config::network::canonical(peer_ip);
    tokio::time::timeout(timeout, accept_peer(listener, peer_ip))
        .await
        .map_err(|_| {
            DataError::Open(format!(
                "no data connection from {peer_ip} within {} s",
                timeout.as_secs()
            ))
        })?
}

/// `accept_from` without a time limit, for waiting before the transfer command is known.
pub async fn accept_peer(listener: &TcpListener, peer_ip: IpAddr) -> Result<TcpStream, DataError> {
    let peer_ip = crate::config::network::canonical(peer_ip);
    loop {
        let (stream, from) = listener
            .accept()
            .await
            .map_err(|e| DataError::Open(e.to_string()))?;
        if crate::config::network::canonical(from.ip()) == peer_ip {
            return Ok(stream);
        }
        tracing::warn!(expected = %peer_ip, intruder = %from, "refused data connection from a foreign address");
        drop(stream);
    }
}
