//! A session's state: what a control connection knows between commands (TLS, login, the
//! pending data plan, REST and RNFR state...) and the helpers every handler uses. The loop that
//! drives it is in `main_loop`; handlers are in `commands`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::control::{ControlConn, ControlStream};
use super::refusal::{Handled, Refusal};
use super::running::RunningTransfer;
use crate::access::kill_switch::KillSwitch;
use crate::access::sessions::LoginGuard;
use crate::context::{ListenerKind, ServerContext};
use crate::data::DataPlan;
use crate::fs::listing::Facts;
use crate::fs::{FsError, Rights, Vfs, VirtualPath};
use crate::protocol::command::TransferType;
use crate::protocol::{Code, Reply};
use crate::users::auth::Account;

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

/// What admission gives a session to start with: its id (the one plugins and the admin
/// see) and the keys of its TLS sessions.
pub struct SessionKeys {
    pub id: u64,
    /// Stamped into this control connection's TLS tickets; data connections must present it.
    pub token: [u8; 16],
    pub scope: Arc<crate::tls::scope::ResumptionScope>,
}

/// The control connection: its stream and both ends.
pub struct Link {
    pub control: ControlConn,
    pub kind: ListenerKind,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Plugins see it in every event; the session registry lists it under it.
    pub id: u64,
}

/// TLS on this session: what the listener requires and what the client set up.
pub struct TlsState {
    /// The listener refuses plaintext logins and unprotected data connections.
    pub required: bool,
    pub reuse: crate::tls::SessionReuse,
    /// Stamped into this control connection's TLS tickets; data connections must present it.
    pub token: [u8; 16],
    /// The TLS sessions and tickets this control session made: all its connections may resume.
    pub scope: Arc<crate::tls::scope::ResumptionScope>,
    pub pbsz: bool,
    pub prot: Protection,
    pub ccc_done: bool,
}

/// What FTP commands set for the ones that follow.
pub struct FtpState {
    /// The verb being dispatched (its row in `protocol::verbs` gates its path).
    pub verb: &'static str,
    pub pending_user: Option<String>,
    pub transfer_type: TransferType,
    pub rest: u64,
    /// ALLO: the size announced for the next upload.
    pub declared_size: Option<u64>,
    pub rename_from: Option<VirtualPath>,
    pub epsv_all: bool,
    pub facts: Facts,
    /// OPTS HASH: the algorithm HASH uses.
    pub hash_algo: crate::protocol::command::HashAlgo,
    /// RANG: the byte range (end inclusive) of the next HASH.
    pub hash_range: Option<(u64, u64)>,
}

/// A session, in the parts handlers use: the control link, TLS, FTP state, the login and the
/// data channel (the pending plan and the running transfer).
pub struct Session {
    pub ctx: Arc<ServerContext>,
    /// The config in force when this session started; a reload applies to later sessions.
    pub cfg: Arc<crate::Config>,
    pub link: Link,
    pub tls: TlsState,
    pub ftp: FtpState,
    pub login: Option<LoggedIn>,
    pub data: Option<DataPlan>,
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
        keys: SessionKeys,
    ) -> Session {
        let SessionKeys { id, token, scope } = keys;
        let cfg = ctx.live.load_full();
        let listener = ctx.listener(&cfg, kind);
        let (required, reuse) = (listener.require_tls, listener.require_session_reuse);
        if reuse == crate::tls::SessionReuse::User {
            // Until it logs in, its keys may be offered tentatively by its client's other
            // sessions (see `tls::scope`).
            ctx.tls_scopes.register_pending(peer.ip(), &scope);
        }
        Session {
            link: Link {
                control: ControlConn::new(stream),
                kind,
                peer,
                local,
                id,
            },
            tls: TlsState {
                required,
                reuse,
                token,
                scope,
                pbsz: false,
                // Implicit FTPS protects data connections from the start.
                prot: if kind == ListenerKind::Implicit {
                    Protection::Private
                } else {
                    Protection::Clear
                },
                ccc_done: false,
            },
            ftp: FtpState {
                verb: "",
                pending_user: None,
                transfer_type: TransferType::Ascii,
                rest: 0,
                declared_size: None,
                rename_from: None,
                epsv_all: false,
                facts: Facts::default(),
                hash_algo: crate::protocol::command::HashAlgo::Sha256,
                hash_range: None,
            },
            login: None,
            data: None,
            transfer: None,
            quit: false,
            started: Instant::now(),
            cfg,
            ctx,
        }
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

    /// Sends a reply. A client that stops reading must not keep its session (and its place in
    /// the limits) forever: a reply that moves no byte for the idle timeout (the login timeout
    /// before login) ends the session, and so does a kick or a users-file change meanwhile.
    pub async fn send(&mut self, reply: Reply) -> io::Result<()> {
        self.ctx.metrics.reply(reply.code);
        let stall = if self.login.is_some() {
            self.cfg.idle_timeout()
        } else {
            self.cfg.login_timeout()
        };
        let kill = self.login.as_ref().map(|l| l.guard.kill.clone());
        let ended = async move { KillSwitch::pulled_or_never(kill.as_deref()).await };
        tokio::select! {
            // The reply first: the 421 that follows a kick still goes out when it can.
            biased;
            sent = self.link.control.send_within(&reply, stall) => sent,
            reason = ended => Err(io::Error::other(format!(
                "session ended while the client was not reading its replies: {reason}"
            ))),
        }
    }

    /// The session's last reply, sent with the connection's close (see `ControlConn::send_last`).
    pub async fn reply_last(&mut self, code: Code, text: &str) -> Handled {
        let reply = Reply::new(code, text);
        self.ctx.metrics.reply(reply.code);
        Ok(self.link.control.send_last(&reply).await?)
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

    /// Resolves a client path against the cwd. A path that starts with `~` is absolute: `~`
    /// is the user's root, `~bob` the folder of what bob shares with this user (other names
    /// starting with `~`, like Office's `~$doc.docx`, stay ordinary names).
    pub fn resolve(&self, arg: &str) -> Result<VirtualPath, Refusal> {
        let l = self.user();
        let (head, rest) = arg.split_once('/').unwrap_or((arg, ""));
        let from_root = if head == "~" {
            Some(rest.to_string())
        } else if head.starts_with('~') {
            l.vfs
                .share_folder_named(head)
                .map(|f| format!("{f}/{rest}"))
        } else {
            None
        };
        match from_root {
            Some(p) => VirtualPath::root().resolve(&p),
            None => l.cwd.resolve(arg),
        }
        .map_err(Refusal::BadName)
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
        self.user().vfs.rights_at(p)
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
