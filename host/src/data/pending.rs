//! A passive data connection prepared between PASV/EPSV and the transfer command.
//!
//! Some clients (curl) connect and send their TLS ClientHello right after the 229/227 reply,
//! then wait for the ServerHello before they read the control replies that follow, until a
//! poll timeout of about 200 ms. Accepting and answering such a handshake at once removes that
//! stall from every protected transfer. Clients that stay silent until the 150 reply (ftplib,
//! the tests' rustls client) are handled as before: the handshake starts at the transfer
//! command, with the configuration of its direction.
//!
//! A plan that no transfer command claims within `data_timeout_secs` expires: its listener
//! closes and its port goes back to the range (a client sending PASV and then only NOOP must
//! not hold ports for the whole session).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::passive::ListenerSlot;
use super::{DataError, DataStream, DataTls, passive, stream};

/// What the transfer command decides: the protection it needs and how long to wait.
pub struct Go {
    pub tls: Option<DataTls>,
    pub timeout: Duration,
}

/// A listener's place in the per-address/per-user caps, freed by whoever is first: the task
/// when the listener closes (client connected, or expired), or the plan when it is dropped.
type SharedSlot = Arc<std::sync::Mutex<Option<ListenerSlot>>>;

fn free(slot: &SharedSlot) {
    drop(slot.lock().unwrap_or_else(|e| e.into_inner()).take());
}

/// The waiting task; dropping the plan (a new PASV, ABOR, the session's end) stops it.
pub struct PendingPassive {
    slot: SharedSlot,
    go: Option<oneshot::Sender<Go>>,
    claimed: Arc<AtomicBool>,
    expired: Arc<AtomicBool>,
    task: JoinHandle<Result<DataStream, DataError>>,
}

impl Drop for PendingPassive {
    fn drop(&mut self) {
        self.task.abort();
        free(&self.slot);
    }
}

impl PendingPassive {
    /// Starts waiting on `listener` for `peer_ip`. With `early` (PROT P in force), a client
    /// that starts its TLS handshake before the transfer command gets it answered at once.
    /// Without a transfer command within `expires`, the listener closes and `slot` is freed.
    pub fn start(
        listener: TcpListener,
        peer_ip: IpAddr,
        early: Option<DataTls>,
        expires: Duration,
        slot: Option<ListenerSlot>,
    ) -> Self {
        let (go_tx, go_rx) = oneshot::channel();
        let claimed = Arc::new(AtomicBool::new(false));
        let expired = Arc::new(AtomicBool::new(false));
        let (c, e) = (claimed.clone(), expired.clone());
        let slot: SharedSlot = Arc::new(std::sync::Mutex::new(slot));
        let task_slot = slot.clone();
        let task = tokio::spawn(async move {
            let waiting = prepare(listener, peer_ip, early, go_rx, task_slot.clone());
            let mut waiting = std::pin::pin!(waiting);
            tokio::select! {
                biased;
                r = &mut waiting => r,
                _ = tokio::time::sleep(expires) => {
                    if !c.load(Ordering::Acquire) {
                        e.store(true, Ordering::Release);
                        free(&task_slot);
                        return Err(DataError::Open(format!(
                            "the passive listener expired: no transfer command within {} s; send PASV or EPSV again",
                            expires.as_secs()
                        )));
                    }
                    // A transfer claimed it: its own timeouts apply from here.
                    waiting.await
                }
            }
        });
        PendingPassive {
            slot,
            go: Some(go_tx),
            claimed,
            expired,
            task,
        }
    }

    /// Hands over the transfer's needs. Call before the 1xx reply, so a client that starts its
    /// handshake after that reply gets the configuration of the transfer's direction.
    pub fn go(&mut self, go: Go) {
        if let Some(tx) = self.go.take() {
            self.claimed.store(true, Ordering::Release);
            let _ = tx.send(go);
        }
    }

    /// Whether the plan expired unclaimed (its listener is closed): a transfer command must
    /// not use it. (A failed early connection is not "over": the transfer reports its error.)
    pub fn is_expired(&self) -> bool {
        self.expired.load(Ordering::Acquire)
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
    slot: SharedSlot,
) -> Result<DataStream, DataError> {
    let tcp = tokio::select! {
        biased;
        go = &mut go_rx => {
            let go = go.map_err(|_| DataError::Open("transfer cancelled".into()))?;
            let tcp = passive::accept_from(&listener, peer_ip, go.timeout).await?;
            drop(listener);
            free(&slot);
            return finish(tcp, go).await;
        }
        tcp = passive::accept_peer(&listener, peer_ip) => tcp?,
    };
    // The port goes back to the range as soon as the client is connected.
    drop(listener);
    free(&slot);
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
