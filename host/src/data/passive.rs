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

/// Open passive listeners per client address and per user, against `[passive]
/// max_listeners_per_ip` / `max_listeners_per_user`: the port range is shared, so no address
/// or account may hold more than its share of it. The anonymous account is counted by address
/// only (its name is everyone's).
#[derive(Default)]
pub struct ListenerCaps {
    open: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// One open listener's place in [`ListenerCaps`]; dropping it frees the place.
pub struct ListenerSlot {
    caps: std::sync::Arc<ListenerCaps>,
    keys: Vec<String>,
}

impl Drop for ListenerSlot {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(|e| e.into_inner());
        for k in &self.keys {
            if let Some(n) = open.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    open.remove(k);
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CapError {
    #[error(
        "Too many open passive listeners for your address ({0}); use the ones you opened or try again later."
    )]
    PerIp(usize),
    #[error("Too many open passive listeners for your account ({0}); try again later.")]
    PerUser(usize),
}

impl ListenerCaps {
    /// Takes a place for a listener of `ip` (and `user`, unless None); 0 = no cap.
    pub fn acquire(
        self: &std::sync::Arc<Self>,
        ip: IpAddr,
        user: Option<&str>,
        max_per_ip: usize,
        max_per_user: usize,
    ) -> Result<ListenerSlot, CapError> {
        let ip_key = format!("ip:{}", crate::config::network::canonical(ip));
        let user_key = user.map(|u| format!("user:{}", u.to_ascii_lowercase()));
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if max_per_ip > 0 && open.get(&ip_key).copied().unwrap_or(0) >= max_per_ip {
            return Err(CapError::PerIp(max_per_ip));
        }
        if let Some(k) = &user_key
            && max_per_user > 0
            && open.get(k).copied().unwrap_or(0) >= max_per_user
        {
            return Err(CapError::PerUser(max_per_user));
        }
        let keys: Vec<String> = std::iter::once(ip_key).chain(user_key).collect();
        for k in &keys {
            *open.entry(k.clone()).or_insert(0) += 1;
        }
        Ok(ListenerSlot {
            caps: self.clone(),
            keys,
        })
    }

    /// Listeners open now, all clients together.
    pub fn open_total(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(k, _)| k.starts_with("ip:"))
            .map(|(_, n)| n)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn caps_per_address_and_per_user_and_places_come_back() {
        let caps = Arc::new(ListenerCaps::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let one = caps.acquire(a, Some("bob"), 2, 3).unwrap();
        let _two = caps.acquire(a, Some("bob"), 2, 3).unwrap();
        assert_eq!(caps.acquire(a, None, 2, 3).err(), Some(CapError::PerIp(2)));
        let _three = caps.acquire(b, Some("Bob"), 2, 3).unwrap();
        assert_eq!(
            caps.acquire(b, Some("bob"), 2, 3).err(),
            Some(CapError::PerUser(3))
        );
        assert!(caps.acquire(b, None, 2, 3).is_ok(), "anonymous: by address");
        drop(one);
        assert!(caps.acquire(a, Some("carol"), 2, 3).is_ok());
        assert_eq!(
            caps.acquire(a, None, 0, 0).map(|_| ()),
            Ok(()),
            "0 = no cap"
        );
    }
}
