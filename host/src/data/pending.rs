//! A passive data connection prepared between PASV/EPSV and the transfer command.
//!
//! Some clients (curl) connect and send their TLS ClientHello right after the 229/227 reply,
//! then wait for the ServerHello before they read the control replies that follow, until a
//! poll timeout of about 200 ms. Accepting and answering such a handshake at once removes that
//! stall from every protected transfer. Clients that stay silent until the 150 reply (ftplib,
//! the tests' rustls client) are handled as before: the handshake starts at the transfer
//! command, with the configuration of its direction.

use std::net::IpAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{DataError, DataStream, DataTls, passive, stream};

/// What the transfer command decides: the protection it needs and how long to wait.
pub struct Go {
    pub tls: Option<DataTls>,
    pub timeout: Duration,
}

/// The waiting task; dropping the plan (a new PASV, ABOR, the session's end) stops it.
pub struct PendingPassive {
    go: Option<oneshot::Sender<Go>>,
    task: JoinHandle<Result<DataStream, DataError>>,
}

impl Drop for PendingPassive {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PendingPassive {
    /// Starts waiting on `listener` for `peer_ip`. With `early` (PROT P in force), a client
    /// that starts its TLS handshake before the transfer command gets it answered at once.
    pub fn start(listener: TcpListener, peer_ip: IpAddr, early: Option<DataTls>) -> Self {
        let (go_tx, go_rx) = oneshot::channel();
        let task = tokio::spawn(prepare(listener, peer_ip, early, go_rx));
        PendingPassive {
            go: Some(go_tx),
            task,
        }
    }

    /// Hands over the transfer's needs. Call before the 1xx reply, so a client that starts its
    /// handshake after that reply gets the configuration of the transfer's direction.
    pub fn go(&mut self, go: Go) {
        if let Some(tx) = self.go.take() {
            let _ = tx.send(go);
        }
    }

    /// Waits for the connection, ready for the transfer (after `go`).
    pub async fn ready(mut self) -> Result<DataStream, DataError> {
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(DataError::Local(format!(
                "data connection task failed ({e})"
            ))),
        }
    }
}

async fn prepare(
    listener: TcpListener,
    peer_ip: IpAddr,
    early: Option<DataTls>,
    mut go_rx: oneshot::Receiver<Go>,
) -> Result<DataStream, DataError> {
    let tcp = tokio::select! {
        biased;
        go = &mut go_rx => {
            let go = go.map_err(|_| DataError::Open("transfer cancelled".into()))?;
            let tcp = passive::accept_from(&listener, peer_ip, go.timeout).await?;
            return finish(tcp, go).await;
        }
        tcp = passive::accept_peer(&listener, peer_ip) => tcp?,
    };
    drop(listener);
    let _ = tcp.set_nodelay(true);
    let Some(early) = early else {
        let go = go_rx
            .await
            .map_err(|_| DataError::Open("transfer cancelled".into()))?;
        return finish(tcp, go).await;
    };
    let mut first_byte = [0u8; 1];
    tokio::select! {
        biased;
        go = &mut go_rx => {
            let go = go.map_err(|_| DataError::Open("transfer cancelled".into()))?;
            finish(tcp, go).await
        }
        first = tcp.peek(&mut first_byte) => {
            first.map_err(|e| DataError::Open(e.to_string()))?;
            let secured = stream::accept_tls(tcp, early).await?;
            let go = go_rx.await.map_err(|_| DataError::Open("transfer cancelled".into()))?;
            if go.tls.is_none() {
                return Err(DataError::Open(
                    "the data connection was secured with TLS before PROT C; send PASV again"
                        .into(),
                ));
            }
            Ok(secured)
        }
    }
}

/// The transfer command came first: protect the connection as it asks.
async fn finish(tcp: TcpStream, go: Go) -> Result<DataStream, DataError> {
    let _ = tcp.set_nodelay(true);
    match go.tls {
        None => Ok(DataStream::Plain(tcp)),
        Some(t) => stream::accept_tls(tcp, t).await,
    }
}
