//! A passive data connection prepared between PASV/EPSV and the transfer command.
//!
//! Some clients (curl) connect and send their TLS ClientHello right after the 229/227 reply,
//! then wait for the ServerHello before they read the control replies that follow, until a
//! poll timeout of about 200 ms. Accepting and answering such a handshake at once removes that
//! stall from every protected transfer. Clients that stay silent until the 150 reply (ftplib,
//! the tests' rustls client) are handled as before: the handshake starts at the transfer
//! command.
//!
//! When the client's handshake is already under way as the transfer command arrives, the 1xx
//! reply waits for it to finish (see [`PendingPassive::settled`]): the session tickets the
//! handshake sends are then in the client's hands before it starts, and ends, its transfer.
//! Clients that read them only when they close an upload (curl), or that resume from the
//! last data connection's ticket (PHP), so always hold a fresh ticket for the next transfer.
//!
//! A plan that no transfer command claims within `data_timeout_secs` expires: its listener
//! closes and its port goes back to the range (a client sending PASV and then only NOOP must
//! not hold ports for the whole session).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::listener_caps::ListenerSlot;
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

/// Where the client's TLS handshake stands when the transfer command comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No connection yet.
    Undecided,
    /// Connected; no TLS bytes seen yet.
    Connected,
    /// No handshake under way: the 1xx reply comes first (the client may wait for it).
    NotStarted,
    /// The client's handshake bytes are here; it is being answered.
    Handshaking,
    /// That handshake ended (secured, or failed).
    Settled,
}

/// The waiting task; dropping the plan (a new PASV, ABOR, the session's end) stops it.
pub struct PendingPassive {
    slot: SharedSlot,
    phase: watch::Receiver<Phase>,
    /// The listener's and the accepted connection's sockets (-1 when none), to see whether a
    /// connection or TLS bytes wait on them.
    fds: Arc<[AtomicI32; 2]>,
    go: Option<oneshot::Sender<Go>>,
    claimed: Arc<AtomicBool>,
    expired: Arc<AtomicBool>,
    /// Whether an early TLS handshake is answered (PROT P at PASV time): only then is there
    /// a handshake for `settle_early` to wait for.
    early_tls: bool,
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
        acceptor: passive::DataAcceptor,
        early: Option<DataTls>,
        expires: Duration,
        slot: Option<ListenerSlot>,
    ) -> Self {
        let early_tls = early.is_some();
        let (go_tx, go_rx) = oneshot::channel();
        let claimed = Arc::new(AtomicBool::new(false));
        let expired = Arc::new(AtomicBool::new(false));
        let (c, e) = (claimed.clone(), expired.clone());
        let made_way = slot.as_ref().map(|s| s.closed.clone());
        let slot: SharedSlot = Arc::new(std::sync::Mutex::new(slot));
        let task_slot = slot.clone();
        let (phase_tx, phase_rx) = watch::channel(Phase::Undecided);
        // The listener's socket is known before the task first runs: a client connecting at
        // once (curl) is seen even if its command is read before the task gets a turn.
        let fds = Arc::new([
            AtomicI32::new(std::os::fd::AsRawFd::as_raw_fd(acceptor.listener())),
            AtomicI32::new(-1),
        ]);
        let task_fds = fds.clone();
        // In the caller's span: what the early handshake logs names the session.
        let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
            let waiting = prepare(
                acceptor,
                early,
                go_rx,
                task_slot.clone(),
                (phase_tx, task_fds),
            );
            let mut waiting = std::pin::pin!(waiting);
            let made_way = async {
                match made_way {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                r = &mut waiting => r,
                _ = made_way, if !c.load(Ordering::Acquire) => {
                    e.store(true, Ordering::Release);
                    free(&task_slot);
                    Err(DataError::Open(
                        "the passive listener was closed to make room for other clients; send PASV or EPSV again".into(),
                    ))
                }
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
        }));
        PendingPassive {
            slot,
            phase: phase_rx,
            fds,
            go: Some(go_tx),
            claimed,
            expired,
            early_tls,
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

    /// After [`PendingPassive::go`]: returns once it is known that no handshake is under way,
    /// or once the one under way has ended; at most after `limit`.
    pub async fn settled(&mut self, limit: Duration) {
        let _ = tokio::time::timeout(
            limit,
            self.phase
                .wait_for(|p| matches!(p, Phase::NotStarted | Phase::Settled)),
        )
        .await;
    }

    /// Before the transfer command is handled (whatever its reply): lets a handshake the
    /// client already started finish first, at most for `limit`, so that no reply (150, or a
    /// refusal after which the client closes) overtakes the session tickets it sends. A client
    /// whose connection still waits in the accept queue, or whose handshake bytes are not read
    /// yet, has started too.
    /// In clear (PROT C) there is no handshake: bytes a client sends early are its upload.
    pub async fn settle_early(&mut self, limit: Duration) {
        if !self.early_tls {
            return;
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let phase = *self.phase.borrow();
            let started = match phase {
                Phase::Handshaking => true,
                Phase::NotStarted | Phase::Settled => false,
                Phase::Connected => fd_readable(self.fds[1].load(Ordering::Acquire)),
                Phase::Undecided => fd_readable(self.fds[0].load(Ordering::Acquire)),
            };
            if !started {
                return;
            }
            let changed = tokio::time::timeout_at(deadline, self.phase.wait_for(|p| *p != phase));
            if !matches!(changed.await, Ok(Ok(_))) {
                return;
            }
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

fn cancelled<T>(_: T) -> DataError {
    DataError::Open("transfer cancelled".into())
}

async fn prepare(
    mut acceptor: passive::DataAcceptor,
    early: Option<DataTls>,
    mut go_rx: oneshot::Receiver<Go>,
    slot: SharedSlot,
    (phase, fds): (watch::Sender<Phase>, Arc<[AtomicI32; 2]>),
) -> Result<DataStream, DataError> {
    use std::os::fd::AsRawFd;
    let tcp = tokio::select! {
        biased;
        go = &mut go_rx => {
            let go = go.map_err(cancelled)?;
            // The command came first; the client may already be in the accept queue.
            let queued = tokio::time::timeout(Duration::ZERO, acceptor.accept()).await;
            let tcp = match queued {
                Ok(tcp) => tcp?,
                Err(_) => {
                    phase.send_replace(Phase::NotStarted);
                    acceptor.accept_within(go.timeout).await?
                }
            };
            fds[0].store(-1, Ordering::Release);
            drop(acceptor);
            free(&slot);
            fds[1].store(tcp.as_raw_fd(), Ordering::Release);
            return on_go(tcp, go, &phase).await;
        }
        tcp = acceptor.accept() => tcp?,
    };
    fds[0].store(-1, Ordering::Release);
    fds[1].store(tcp.as_raw_fd(), Ordering::Release);
    phase.send_replace(Phase::Connected);
    // The port goes back to the range as soon as the client is connected.
    drop(acceptor);
    free(&slot);
    let _ = tcp.set_nodelay(true);
    let Some(early) = early else {
        let go = go_rx.await.map_err(cancelled)?;
        return on_go(tcp, go, &phase).await;
    };
    let mut first_byte = [0u8; 1];
    tokio::select! {
        biased;
        go = &mut go_rx => on_go(tcp, go.map_err(cancelled)?, &phase).await,
        first = tcp.peek(&mut first_byte) => {
            first.map_err(|e| DataError::Open(e.to_string()))?;
            phase.send_replace(Phase::Handshaking);
            let secured = stream::accept_tls(tcp, early).await;
            phase.send_replace(Phase::Settled);
            let secured = secured?;
            let go = go_rx.await.map_err(cancelled)?;
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

/// The transfer command is here and the client connected: protect the connection as the
/// command asks. If the client's handshake bytes are already waiting, the handshake counts
/// as early (the 1xx reply waits for it).
async fn on_go(
    tcp: TcpStream,
    go: Go,
    phase: &watch::Sender<Phase>,
) -> Result<DataStream, DataError> {
    let _ = tcp.set_nodelay(true);
    let Some(t) = go.tls else {
        phase.send_replace(Phase::NotStarted);
        return Ok(DataStream::Plain(tcp));
    };
    if !bytes_waiting(&tcp) {
        phase.send_replace(Phase::NotStarted);
        return stream::accept_tls(tcp, t).await;
    }
    phase.send_replace(Phase::Handshaking);
    let secured = stream::accept_tls(tcp, t).await;
    phase.send_replace(Phase::Settled);
    secured
}

/// Whether the client has sent bytes not read yet (without reading them).
fn bytes_waiting(tcp: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    fd_readable(tcp.as_raw_fd())
}

/// Whether a socket has something to read now: bytes on a connection, a connection in a
/// listener's queue. A stale number (the task ended, the number was reused) costs at most a
/// wait that ends at once: the phase's sender is gone by then.
fn fd_readable(fd: i32) -> bool {
    if fd < 0 {
        return false;
    }
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait; a bad descriptor only sets POLLNVAL.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & libc::POLLIN != 0
}
