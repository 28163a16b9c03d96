//! Where the session meets the plugins: one function per hook, each building its event, asking
//! the plugins and turning a deny into the reply the client sees. Host refusals and plugin
//! refusals are both announced on the file-blocked hook.

use std::path::PathBuf;

use ftpsd_plugin_sdk::{
    Action, CommandEvent, FileBlockedEvent, Hook, LoginEvent, RatioCheckEvent, Request,
    UploadCompleteEvent, UploadEvent,
};

use super::refusal::{Handled, Refusal, one_line};
use super::running::Post;
use super::state::Session;
use crate::fs::VirtualPath;
use crate::plugins::Decision;
use crate::plugins::exec::{Job, Status};
use crate::protocol::Code;

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
    ) -> Option<(Code, String)> {
        if !self.ctx.plugins.has(Hook::Login) {
            return None;
        }
        let ev = LoginEvent {
            ip: self.ip(),
            user: user.into(),
            success,
            anonymous,
        };
        let decision = self.ctx.plugins.gate(Request::Login(ev)).await;
        if !success {
            return None;
        }
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

    /// upload-accepted gate: STOR, APPE, STOU, RNTO into `path`.
    pub async fn upload_hook(&mut self, path: &VirtualPath, command: &str) -> Handled {
        if !self.ctx.plugins.has(Hook::Upload) {
            return Ok(());
        }
        let ev = UploadEvent {
            ip: self.ip(),
            user: self.user_name(),
            path: path.as_string(),
            command: command.into(),
            groups: self
                .login
                .as_ref()
                .map(|l| l.account.groups.clone())
                .unwrap_or_default(),
        };
        let d = self.ctx.plugins.gate(Request::Upload(ev)).await;
        Self::verdict(d, Some(path), command)
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
    ) -> RatioCheckEvent {
        let account = &self.user().account;
        let kv = self.ctx.plugins.kv.clone();
        let u = account.name.clone();
        let counters = tokio::task::spawn_blocking(move || crate::state::counters(kv.as_ref(), &u))
            .await
            .unwrap_or_default();
        RatioCheckEvent {
            ip: self.ip(),
            user: account.name.clone(),
            path,
            size,
            offset,
            counters,
            ratio: account.ratio.clone(),
            anonymous: account.anonymous,
            query,
        }
    }

    /// ratio-check before RETR.
    pub async fn ratio_hook(&mut self, path: &VirtualPath, size: u64, offset: u64) -> Handled {
        if !self.ctx.plugins.has(Hook::RatioCheck) {
            return Ok(());
        }
        let ev = self
            .ratio_event(path.as_string(), size, offset, false)
            .await;
        let d = self.ctx.plugins.gate(Request::RatioCheck(ev)).await;
        Self::verdict(d, Some(path), "RETR")
    }

    /// `SITE RATIO`: the user's counters and what the ratio plugins say about them.
    pub async fn ratio_standing(&self) -> (ftpsd_plugin_sdk::Counters, Vec<String>) {
        let ev = self.ratio_event(String::new(), 0, 0, true).await;
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
        let Post::Upload { path, real } = post else {
            return;
        };
        if !self.ctx.plugins.has(Hook::UploadComplete) {
            return;
        }
        let plugins = self.ctx.plugins.clone();
        let runner = self.ctx.exec.clone();
        let ev = UploadCompleteEvent {
            ip: self.ip(),
            user: user.clone(),
            path: path.as_string(),
            real_path: real.display().to_string(),
            size: bytes,
            ok: true,
        };
        tokio::spawn(async move {
            for (plugin, action) in plugins
                .upload_complete(Request::UploadComplete(ev.clone()))
                .await
            {
                let Action::Execute { program, args, cwd } = action;
                let program = match crate::plugins::exec::check(&plugin, &program) {
                    Ok(p) => p,
                    Err(refused) => {
                        runner.record(&plugin.name, &program, Status::Refused(refused));
                        continue;
                    }
                };
                let dir = cwd
                    .map(PathBuf::from)
                    .unwrap_or_else(|| real.parent().map(|p| p.to_path_buf()).unwrap_or_default());
                runner.submit(Job {
                    plugin: plugin.name.clone(),
                    program,
                    args,
                    cwd: dir,
                    env: vec![
                        ("UPLOAD_PATH".into(), ev.real_path.clone()),
                        ("UPLOAD_USER".into(), ev.user.clone()),
                        ("UPLOAD_SIZE".into(), ev.size.to_string()),
                        ("UPLOAD_IP".into(), ev.ip.clone()),
                    ],
                    timeout: std::time::Duration::from_secs(
                        plugin.section.capabilities.exec_timeout_secs,
                    ),
                });
            }
        });
    }
}
