//! Active mode: the server connects to the client's PORT/EPRT address.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};

use super::error::DataError;

pub async fn connect(
    target: SocketAddr,
    source: SocketAddr,
    timeout: Duration,
) -> Result<TcpStream, DataError> {
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| DataError::Open(e.to_string()))?;
    if source.port() != 0 {
        socket
            .set_reuseaddr(true)
            .map_err(|e| DataError::Open(e.to_string()))?;
    }
    socket
        .bind(source)
        .map_err(|e| DataError::Open(format!("cannot bind {source}: {e}")))?;
    tokio::time::timeout(timeout, socket.connect(target))
        .await
        .map_err(|_| DataError::Open(format!("connecting to {target} timed out")))?
        .map_err(|e| DataError::Open(format!("connecting to {target}: {e}")))
}
