//! One control connection: its state machine and main loop. One tokio task per session.

pub mod commands;
pub mod control;
pub mod gates;
pub mod hooks;
pub mod login;
pub mod refusal;
pub mod transfer;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use tokio::time::timeout_at;

use crate::access::sessions::LoginGuard;
use crate::context::{ListenerKind, ServerContext};
use crate::data::DataPlan;
use crate::fs::listing::Facts;
use crate::fs::{FsError, Rights, Target, Vfs, VirtualPath};
use crate::protocol::command::TransferType;
use crate::protocol::{Code, Command, Reply, parse_line};
use crate::users::auth::Account;

pub use control::{ControlConn, ControlStream, Line};
pub use refusal::{Handled, Refusal};
pub use transfer::RunningTransfer;

/// Data-channel protection level (PROT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    Clear,
    Private,
}

pub struct LoggedIn {
    pub account: Account,
    pub vfs: Arc<Vfs>,
    pub cwd: VirtualPath,
    /// Registration in the session registry; carries the signal that ends the session.
    pub guard: LoginGuard,
    /// The users-file generation `account` and `vfs` were built from.
    pub generation: u64,
}

pub struct Session {
    pub ctx: Arc<ServerContext>,
    /// The config in force when this session started; a reload applies to later sessions.
    pub cfg: Arc<crate::Config>,
    pub kind: ListenerKind,
    pub require_tls: bool,
    pub require_reuse: crate::tls::SessionReuse,
    pub control: ControlConn,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Stamped into this control connection's TLS tickets; data connections must present it.
    pub tls_token: [u8; 16],
    /// The TLS sessions and tickets this control session made: all its connections may resume.
    pub tls_scope: Arc<crate::tls::scope::ResumptionScope>,
    pub pbsz: bool,
    pub prot: Protection,
    pub ccc_done: bool,
    pub pending_user: Option<String>,
    pub login: Option<LoggedIn>,
    pub transfer_type: TransferType,
    pub rest: u64,
    pub rename_from: Option<VirtualPath>,
    pub data: Option<DataPlan>,
    pub epsv_all: bool,
    pub facts: Facts,
    /// OPTS HASH: the algorithm HASH uses.
    pub hash_algo: crate::protocol::command::HashAlgo,
    /// RANG: the byte range (end inclusive) of the next HASH.
    pub hash_range: Option<(u64, u64)>,
    pub transfer: Option<RunningTransfer>,
    pub quit: bool,
    pub started: Instant,
}

impl Session {
    pub fn new(
        ctx: Arc<ServerContext>,
        kind: ListenerKind,
        stream: ControlStream,
        peer: SocketAddr,
        local: SocketAddr,
        token: [u8; 16],
        scope: Arc<crate::tls::scope::ResumptionScope>,
    ) -> Session {
        let cfg = ctx.live.load_full();
        let listener = ctx.listener(&cfg, kind);
        let (require_tls, require_reuse) = (listener.require_tls, listener.require_session_reuse);
        if require_reuse == crate::tls::SessionReuse::User {
            // Until it logs in, its keys may be offered tentatively by its client's other
            // sessions (see `tls::scope`).
            ctx.tls_scopes.register_pending(peer.ip(), &scope);
        }
        Session {
            kind,
            require_tls,
            require_reuse,
            control: ControlConn::new(stream),
            peer,
            local,
            tls_token: token,
            tls_scope: scope,
            pbsz: false,
            // Implicit FTPS protects data connections from the start.
            prot: if kind == ListenerKind::Implicit {
                Protection::Private
            } else {
                Protection::Clear
            },
            ccc_done: false,
            pending_user: None,
            login: None,
            transfer_type: TransferType::Ascii,
            rest: 0,
            rename_from: None,
            data: None,
            epsv_all: false,
            facts: Facts::default(),
            hash_algo: crate::protocol::command::HashAlgo::Sha256,
            hash_range: None,
            transfer: None,
            quit: false,
            started: Instant::now(),
            cfg,
            ctx,
        }
    }

    /// Serves the connection until QUIT, timeout or disconnect. The banner is sent here.
    pub async fn run(mut self) {
        let banner = crate::config::greeting::lines(&self.cfg.server.banner);
        if self.send(Reply::multi(Code::READY, banner)).await.is_err() {
            return;
        }
        if let Err(e) = self.serve().await {
            tracing::debug!(peer = %self.peer, error = %e, "control connection ended");
        }
        self.cut_transfer("the session ended").await;
        if self.login.is_none() {
            self.tls_scope.set_owner(None);
        }
        self.control.shutdown().await;
    }

    async fn serve(&mut self) -> io::Result<()> {
        let mut held: Option<Line> = None;
        while !self.quit {
            // Command handling and transfers run boxed: the session's own future then holds
            // only what waiting for the next line needs, and an idle session (most of them)
            // stays small in memory.
            if self.transfer.is_some() {
                Box::pin(self.serve_during_transfer(&mut held)).await?;
                continue;
            }
            let line = match held.take() {
                Some(l) => l,
                None => match self.next_line().await? {
                    Some(l) => l,
                    None => return Ok(()),
                },
            };
            Box::pin(self.handle_line(line)).await?;
        }
        Ok(())
    }

    fn kill_signal(&self) -> Option<watch::Receiver<Option<String>>> {
        self.login.as_ref().map(|l| l.guard.kill.clone())
    }

    /// Waits for the next line with the idle timeout (and the login timeout before login);
    /// ends the session when the server tells it to.
    async fn next_line(&mut self) -> io::Result<Option<Line>> {
        let idle = self.cfg.idle_timeout();
        let mut deadline = tokio::time::Instant::now() + idle;
        let mut what = format!("Idle timeout ({} s)", idle.as_secs());
        if self.login.is_none() {
            let login_deadline =
                tokio::time::Instant::from_std(self.started + self.cfg.login_timeout());
            if login_deadline < deadline {
                deadline = login_deadline;
                what = format!("Login timeout ({} s)", self.cfg.login_timeout().as_secs());
            }
        }
        let mut kill = self.kill_signal();
        let mut shutdown = self.ctx.shutdown.subscribe();
        tokio::select! {
            _ = async { let _ = shutdown.wait_for(|down| *down).await; } => {
                let _ = self.send(Reply::new(Code::SERVICE_CLOSING, "Server shutting down; closing control connection.")).await;
                Ok(None)
            }
            r = timeout_at(deadline, self.control.read_line()) => match r {
                Ok(r) => r,
                Err(_) => {
                    let _ = self.send(Reply::new(Code::SERVICE_CLOSING, format!("{what}: closing control connection."))).await;
                    Ok(None)
                }
            },
            reason = ended(&mut kill) => {
                let _ = self.send(Reply::new(Code::SERVICE_CLOSING, format!("Session ended by the server: {reason}."))).await;
                Ok(None)
            }
        }
    }

    /// While a transfer runs: ABOR and STAT act at once; QUIT and any other command wait for
    /// the transfer's final reply (RFC 959 order), holding at most one line.
    async fn serve_during_transfer(&mut self, held: &mut Option<Line>) -> io::Result<()> {
        let mut kill = self.kill_signal();
        let Some(t) = self.transfer.as_mut() else {
            return Ok(());
        };
        if held.is_some() {
            let finished = t.finish().await;
            return self.transfer_done(finished).await;
        }
        tokio::select! {
            finished = t.finish() => self.transfer_done(finished).await,
            reason = ended(&mut kill) => {
                self.cut_transfer("session ended by the server").await;
                let _ = self.send(Reply::new(Code::SERVICE_CLOSING, format!("Session ended by the server: {reason}."))).await;
                self.quit = true;
                Ok(())
            }
            line = self.control.read_line() => {
                match line? {
                    None => {
                        self.cut_transfer("the client closed the control connection").await;
                        self.quit = true;
                        Ok(())
                    }
                    Some(Line::Complete(bytes)) => match parse_line(&bytes) {
                        Ok(Command::Abor) => {
                            let h = commands::abor::handle(self).await;
                            self.conclude(h).await
                        }
                        Ok(Command::Stat(None)) => {
                            let h = commands::stat::handle(self, None).await;
                            self.conclude(h).await
                        }
                        _ => { *held = Some(Line::Complete(bytes)); Ok(()) }
                    },
                    Some(Line::TooLong) => self.send(Reply::new(Code::SYNTAX_ERROR, "Command line too long.")).await,
                }
            }
        }
    }

    async fn handle_line(&mut self, line: Line) -> io::Result<()> {
        let bytes = match line {
            Line::TooLong => {
                return self
                    .send(Reply::new(
                        Code::SYNTAX_ERROR,
                        crate::protocol::ParseError::TooLong.to_string(),
                    ))
                    .await;
            }
            Line::Complete(b) => b,
        };
        match parse_line(&bytes) {
            Ok(cmd) => {
                if !matches!(cmd, Command::Pass(_)) {
                    tracing::trace!(peer = %self.peer, ?cmd, "command");
                }
                self.note_command(&cmd, &bytes);
                if !login::refresh(self).await? {
                    return Ok(());
                }
                commands::dispatch(self, cmd).await
            }
            Err(crate::protocol::ParseError::Empty) => Ok(()),
            Err(e) => {
                // A transfer verb with a bad argument still ends the pending data plan, as
                // any refused transfer command does.
                if commands::is_data_verb(&bytes) {
                    self.data = None;
                }
                self.refuse(Refusal::new(e.code(), e.to_string())).await
            }
        }
    }

    /// Records the current command for the operator's session list (never a password).
    fn note_command(&self, cmd: &Command, bytes: &[u8]) {
        let Some(l) = &self.login else { return };
        let text = if matches!(cmd, Command::Pass(_)) {
            "PASS ****".to_string()
        } else {
            String::from_utf8_lossy(bytes)
                .chars()
                .filter(|c| !c.is_control())
                .take(120)
                .collect()
        };
        *l.guard
            .info
            .command
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = text;
        l.guard
            .info
            .tls
            .store(self.control.is_tls(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Shows (or clears) the running transfer in the operator's session list.
    pub fn note_transfer(&self, t: Option<crate::access::sessions::LiveTransfer>) {
        if let Some(l) = &self.login {
            *l.guard
                .info
                .transfer
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = t;
        }
    }

    pub async fn send(&mut self, reply: Reply) -> io::Result<()> {
        self.ctx.metrics.reply(reply.code);
        self.control.send(&reply).await
    }

    /// Sends a multi-line or prepared reply of a handler's own.
    pub async fn answer(&mut self, reply: Reply) -> Handled {
        Ok(self.send(reply).await?)
    }

    /// Sends a reply of a handler's own (refusals go through `Refusal`).
    pub async fn reply(&mut self, code: Code, text: impl Into<String>) -> Handled {
        Ok(self.send(Reply::new(code, text)).await?)
    }

    /// The logged-in user's state. Dispatch guarantees login before file commands run.
    pub fn user(&self) -> &LoggedIn {
        self.login
            .as_ref()
            .expect("dispatch checks login before file commands")
    }

    /// Resolves a client path against the cwd.
    pub fn resolve(&self, arg: &str) -> Result<VirtualPath, Refusal> {
        self.user().cwd.resolve(arg).map_err(Refusal::BadName)
    }

    /// Runs a blocking filesystem operation on the user's view (mounts, message file).
    pub async fn fs<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Vfs) -> Result<T, FsError> + Send + 'static,
    ) -> Result<T, FsError> {
        let vfs = self.user().vfs.clone();
        tokio::task::spawn_blocking(move || f(&vfs))
            .await
            .unwrap_or_else(|e| Err(FsError::Io(io::Error::other(e.to_string()))))
    }

    /// The user's rights at a path: those of the mount that holds it (the message file: r).
    pub fn rights_at(&self, p: &VirtualPath) -> Rights {
        match self.user().vfs.locate(p) {
            Target::Real { mount, .. } => mount.rights,
            Target::Message(_) => Rights::Read,
        }
    }

    /// Runs a blocking filesystem operation on `path`; its error is the command's refusal.
    pub async fn fs_at<T: Send + 'static>(
        &self,
        path: &VirtualPath,
        f: impl FnOnce(&Vfs, &VirtualPath) -> Result<T, FsError> + Send + 'static,
    ) -> Result<T, Refusal> {
        let p = path.clone();
        self.fs(move |v| f(v, &p))
            .await
            .map_err(|e| Refusal::fs(path, e))
    }
}

/// Resolves when the session is told to end (users-file reload); never without a login.
async fn ended(kill: &mut Option<watch::Receiver<Option<String>>>) -> String {
    match kill {
        Some(rx) => {
            let reason = rx.wait_for(Option::is_some).await.map(|r| r.clone());
            match reason {
                Ok(r) => r.unwrap_or_default(),
                Err(_) => std::future::pending().await,
            }
        }
        None => std::future::pending().await,
    }
}
