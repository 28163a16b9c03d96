//! Where the session meets the plugins: one function per hook, each building its event, asking
//! the plugins and turning a deny into the reply the client sees. Host refusals and plugin
//! refusals are both announced on the file-blocked hook.

use std::sync::atomic::{AtomicU64, Ordering};

use ftpsd_plugin_sdk::{
    CommandEvent, FileBlockedEvent, Hook, LoginEvent, RatioCheckEvent, Request,
    UploadCompleteEvent, UploadEvent, UploadFailedEvent,
};

use super::refusal::{Handled, Refusal, one_line};
use super::running::{Post, UploadTicket};
use super::state::Session;
use crate::fs::VirtualPath;
use crate::plugins::Decision;
use crate::protocol::Code;

/// Transfer ids, unique per server run (events v2: they match a gate with its end).
static NEXT_TRANSFER: AtomicU64 = AtomicU64::new(1);

fn next_transfer() -> u64 {
    NEXT_TRANSFER.fetch_add(1, Ordering::Relaxed)
}

impl Session {
    fn ip(&self) -> String {
        self.link.peer.ip().to_string()
    }

    fn user_name(&self) -> String {
        self.login
            .as_ref()
            .map(|l| l.account.name.clone())
            .or_else(|| self.ftp.pending_user.clone())
            .unwrap_or_default()
    }

    /// The logged-in user's groups (events v2).
    fn groups(&self) -> Vec<String> {
        self.login
            .as_ref()
            .map(|l| l.account.groups.clone())
            .unwrap_or_default()
    }

    /// Announces a refusal to file-blocked subscribers.
    pub fn blocked(&self, path: &VirtualPath, command: &str, by: &str, reason: &str) {
        if !self.ctx.plugins.has(Hook::FileBlocked) {
            return;
        }
        let ev = FileBlockedEvent {
            ip: self.ip(),
            user: self.user_name(),
            path: path.as_string(),
            command: command.into(),
            by: by.into(),
            reason: reason.into(),
            session: self.link.id,
            groups: self.groups(),
        };
        self.ctx.plugins.notify(Request::FileBlocked(ev));
    }

    /// A plugin's deny as the command's refusal (`Session::refuse` replies and announces it).
    fn verdict(decision: Decision, path: Option<&VirtualPath>, command: &str) -> Handled {
        match decision {
            Decision::Allow => Ok(()),
            Decision::Deny { code, message, by } => Err(Refusal::Plugin {
                code,
                message,
                by,
                command: command.into(),
                path: path.cloned(),
            }),
        }
    }

    /// login hook, after the password check: the refusal (code, text) of a correct password
    /// a plugin denies, None to go on. For a failed password the plugins are told and the
    /// verdict does not matter.
    pub async fn login_hook(
        &mut self,
        user: &str,
        success: bool,
        anonymous: bool,
        groups: &[String],
    ) -> Option<(Code, String)> {
        if !self.ctx.plugins.has(Hook::Login) {
            return None;
        }
        let ev = LoginEvent {
            ip: self.ip(),
            user: user.into(),
            success,
            anonymous,
            session: self.link.id,
            tls: self.link.control.tls_info(),
            groups: groups.to_vec(),
        };
        // A failed login gets the plugins' refusal too when there is one: a plugin that cannot
        // decide (its state store is down) must answer a wrong password exactly as a right one,
        // or the difference tells passwords apart.
        let decision = self.ctx.plugins.gate(Request::Login(ev)).await;
        match decision {
            Decision::Allow => None,
            Decision::Deny { code, message, by } => {
                tracing::info!(plugin = %by, %user, peer = %self.link.peer, "login refused by plugin");
                let code = if code == Code::SERVICE_CLOSING {
                    code
                } else {
                    Code::NOT_LOGGED_IN
                };
                Some((code, one_line(&message)))
            }
        }
    }

    /// upload-accepted gate: STOR, APPE, STOU, RNTO into `path`, starting at `offset`.
    /// Returns the upload's ticket: its transfer id and the limits the plugins set.
    pub async fn upload_hook(
        &mut self,
        path: &VirtualPath,
        command: &str,
        offset: u64,
    ) -> Result<UploadTicket, Refusal> {
        let transfer = next_transfer();
        let declared_size = self.ftp.declared_size.take();
        if !self.ctx.plugins.has(Hook::Upload) {
            return Ok(UploadTicket {
                transfer,
                ..Default::default()
            });
        }
        let ev = UploadEvent {
            ip: self.ip(),
            user: self.user_name(),
            path: path.as_string(),
            command: command.into(),
            groups: self.groups(),
            session: self.link.id,
            transfer,
            tls: self.link.control.tls_info(),
            declared_size,
            offset,
        };
        let (d, limits) = self.ctx.plugins.gate_with_limits(Request::Upload(ev)).await;
        Self::verdict(d, Some(path), command)?;
        Ok(UploadTicket { transfer, limits })
    }

    /// upload-failed for an upload the gate allowed but the filesystem then refused (busy,
    /// a bad REST offset...), so plugins that counted it at the gate can take it back.
    pub fn refused_after_gate(
        &self,
        path: &VirtualPath,
        command: &'static str,
        ticket: UploadTicket,
        offset: u64,
        refusal: &Refusal,
    ) {
        let Some(reply) = refusal.reply(&self.user_name()) else {
            return;
        };
        let post = Post::Upload {
            path: path.clone(),
            real: std::path::PathBuf::new(),
            ticket,
            command,
            offset,
            keeps_partial: false,
            held: None,
        };
        self.upload_failed(&post, 0, &reply);
    }

    /// upload-failed: an upload the gate let through ended without success (`reply` is what
    /// the client was told).
    pub fn upload_failed(&self, post: &Post, bytes: u64, reply: &crate::protocol::Reply) {
        let Post::Upload {
            path,
            ticket,
            command,
            keeps_partial,
            ..
        } = post
        else {
            return;
        };
        if !self.ctx.plugins.has(Hook::UploadFailed) {
            return;
        }
        let ev = UploadFailedEvent {
            ip: self.ip(),
            user: self.user_name(),
            groups: self.groups(),
            session: self.link.id,
            transfer: ticket.transfer,
            path: path.as_string(),
            command: command.to_string(),
            size: bytes,
            code: reply.code.get(),
            reason: reply.lines.join(" "),
            partial_kept: *keeps_partial && reply.code != Code::STORAGE_EXCEEDED,
        };
        self.ctx.plugins.notify(Request::UploadFailed(ev));
    }

    /// command gate: any other file operation.
    pub async fn command_hook(&mut self, command: &str, path: Option<&VirtualPath>) -> Handled {
        if !self.ctx.plugins.has(Hook::Command) {
            return Ok(());
        }
        let ev = CommandEvent {
            ip: self.ip(),
            user: self.user_name(),
            command: command.into(),
            path: path.map(|p| p.as_string()),
            session: self.link.id,
            groups: self.groups(),
        };
        let d = self.ctx.plugins.gate(Request::Command(ev)).await;
        Self::verdict(d, path, command)
    }

    /// The ratio-check event for the logged-in user, with their persisted counters.
    async fn ratio_event(
        &self,
        path: String,
        size: u64,
        offset: u64,
        query: bool,
    ) -> Result<RatioCheckEvent, Refusal> {
        let account = &self.user().account;
        let kv = self.ctx.plugins.kv.clone();
        let u = account.name.clone();
        let counters = tokio::task::spawn_blocking(move || crate::state::counters(kv.as_ref(), &u))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|e| {
                tracing::warn!(user = %account.name, error = %e, "transfer counters unavailable; download refused");
                Refusal::new(
                    Code::LOCAL_ERROR,
                    "Transfer counters unavailable; try again later.",
                )
            })?;
        Ok(RatioCheckEvent {
            ip: self.ip(),
            user: account.name.clone(),
            path,
            size,
            offset,
            counters,
            ratio: account.ratio.clone(),
            anonymous: account.anonymous,
            query,
            session: self.link.id,
            transfer: if query { 0 } else { next_transfer() },
            groups: account.groups.clone(),
        })
    }

    /// ratio-check before RETR.
    pub async fn ratio_hook(&mut self, path: &VirtualPath, size: u64, offset: u64) -> Handled {
        if !self.ctx.plugins.has(Hook::RatioCheck) {
            return Ok(());
        }
        let ev = self
            .ratio_event(path.as_string(), size, offset, false)
            .await?;
        let d = self.ctx.plugins.gate(Request::RatioCheck(ev)).await;
        Self::verdict(d, Some(path), "RETR")
    }

    /// `SITE RATIO`: the user's counters and what the ratio plugins say about them.
    pub async fn ratio_standing(&self) -> (ftpsd_plugin_sdk::Counters, Vec<String>) {
        let Ok(ev) = self.ratio_event(String::new(), 0, 0, true).await else {
            return (
                Default::default(),
                vec!["Transfer counters unavailable; try again later.".into()],
            );
        };
        let counters = ev.counters;
        let info = self.ctx.plugins.info(Request::RatioCheck(ev)).await;
        (counters, info)
    }

    /// After a successful transfer: counters, and for uploads the upload-complete hook and the
    /// actions it returns (run in the background, within each plugin's capabilities).
    /// The counters are written before the session reads its next command, so the next
    /// ratio-check sees this transfer.
    pub async fn after_transfer(&self, post: Post, bytes: u64) {
        let Some(login) = &self.login else { return };
        let user = login.account.name.clone();
        let kv = self.ctx.plugins.kv.clone();
        let upload = matches!(post, Post::Upload { .. });
        if !matches!(post, Post::Listing) {
            let u = user.clone();
            let _ = tokio::task::spawn_blocking(move || {
                crate::state::count_transfer(kv.as_ref(), &u, upload, bytes)
            })
            .await;
        }
        let Post::Upload {
            path,
            real,
            ticket,
            command,
            offset,
            held,
            ..
        } = post
        else {
            return;
        };
        if !self.ctx.plugins.has(Hook::UploadComplete) {
            return;
        }
        let vfs = self.user().vfs.clone();
        // Taken when the upload started: without a hold no plugin may take the file.
        let identity = held.as_ref().map(|h| h.id);
        let event = UploadCompleteEvent {
            ip: self.ip(),
            user: user.clone(),
            path: path.as_string(),
            real_path: real.display().to_string(),
            size: bytes,
            ok: true,
            session: self.link.id,
            transfer: ticket.transfer,
            groups: login.account.groups.clone(),
            command: command.into(),
            offset,
        };
        tokio::spawn(super::upload_actions::run(
            self.ctx.clone(),
            super::upload_actions::Uploaded {
                event,
                path,
                real,
                identity,
                vfs,
                held,
            },
        ));
    }
}
