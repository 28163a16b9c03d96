//! Passive mode: one listener per transfer from the configured port range, accepting only the
//! control connection's peer address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::DataError;
use crate::proxy_protocol::{ProxyRefusal, ProxySection};

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

/// A passive listener waiting for its client. Connections from other addresses are closed
/// and logged, and waiting goes on, so an intruder can neither steal nor break the transfer.
/// Behind a load balancer the address is the one its PROXY header names. Headers are read
/// side by side (a silent connection does not hold up the client's), at most
/// [`MAX_HEADER_READS`] at once; `accept` is cancel-safe (headers being read are kept), so it
/// can be raced with the transfer command and called again without losing the client.
pub struct DataAcceptor {
    listener: TcpListener,
    peer_ip: IpAddr,
    proxy: Arc<ProxySection>,
    reading: JoinSet<(TcpStream, Result<SocketAddr, ProxyRefusal>)>,
}

/// PROXY headers of one passive listener read at once.
pub const MAX_HEADER_READS: usize = 16;

impl DataAcceptor {
    pub fn new(listener: TcpListener, peer_ip: IpAddr, proxy: Arc<ProxySection>) -> DataAcceptor {
        DataAcceptor {
            listener,
            peer_ip: crate::config::network::canonical(peer_ip),
            proxy,
            reading: JoinSet::new(),
        }
    }

    pub fn listener(&self) -> &TcpListener {
        &self.listener
    }

    /// `accept` within `timeout`.
    pub async fn accept_within(&mut self, timeout: Duration) -> Result<TcpStream, DataError> {
        let peer_ip = self.peer_ip;
        tokio::time::timeout(timeout, self.accept())
            .await
            .map_err(|_| {
                DataError::Open(format!(
                    "no data connection from {peer_ip} within {} s",
                    timeout.as_secs()
                ))
            })?
    }

    /// The client's data connection (cancel-safe).
    pub async fn accept(&mut self) -> Result<TcpStream, DataError> {
        loop {
            tokio::select! {
                Some(read) = self.reading.join_next(), if !self.reading.is_empty() => {
                    let Ok((stream, client)) = read else { continue };
                    match client {
                        Ok(c) if crate::config::network::canonical(c.ip()) == self.peer_ip => {
                            return Ok(stream);
                        }
                        Ok(c) => {
                            tracing::warn!(expected = %self.peer_ip, intruder = %c, "refused data connection from a foreign address (through the proxy)")
                        }
                        Err(e) => tracing::warn!(error = %e, "refused data connection"),
                    }
                }
                accepted = self.listener.accept(), if self.reading.len() < MAX_HEADER_READS => {
                    let (mut stream, from) =
                        accepted.map_err(|e| DataError::Open(e.to_string()))?;
                    if self.proxy.enabled() {
                        let proxy = self.proxy.clone();
                        self.reading.spawn(async move {
                            let client =
                                crate::proxy_protocol::client_of(&proxy, &mut stream, from).await;
                            (stream, client)
                        });
                        continue;
                    }
                    if crate::config::network::canonical(from.ip()) == self.peer_ip {
                        return Ok(stream);
                    }
                    tracing::warn!(expected = %self.peer_ip, intruder = %from, "refused data connection from a foreign address");
                }
            }
        }
    }
}
