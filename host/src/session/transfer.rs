//! Starting a transfer (150, then the data connection in a task) and finishing it
//! (226, or the error's reply). The task can be aborted by ABOR or a vanished client.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use super::refusal::{Handled, Refusal};
use super::running::{Finished, Post, RunningTransfer};
use super::state::{Protection, Session};
use crate::data::bandwidth::{Direction, Throttle};
use crate::data::transfer::{Job, run};
use crate::data::{DataTls, open};
use crate::protocol::{Code, Reply};

impl Session {
    /// Checks that a data connection can be made under the current settings. Call before
    /// touching files so a refusal has no side effects.
    /// (The plan is dropped by `dispatch` after any data verb, refused or not.)
    pub fn data_ready(&self) -> Handled {
        if self.data.is_none() {
            return Err(Refusal::new(
                Code::CANT_OPEN_DATA,
                "Use PASV, EPSV, PORT or EPRT first.",
            ));
        }
        if let Some(crate::data::DataPlan::Passive(p)) = &self.data
            && p.is_expired()
        {
            let secs = self.cfg.data_timeout().as_secs();
            return Err(Refusal::new(
                Code::CANT_OPEN_DATA,
                format!(
                    "The passive listener was closed (unused for {secs} s, or to make room for other clients); send PASV or EPSV again."
                ),
            ));
        }
        if self.tls.required && self.tls.prot != Protection::Private {
            return Err(Refusal::new(
                Code::PROTECTION_REQUIRED,
                "Data connections must be protected on this server: send PBSZ 0 and PROT P.",
            ));
        }
        Ok(())
    }

    /// TLS parameters for a data connection under the current PROT level (None for PROT C).
    /// With `hold_tickets` (the transfer is known) its tickets are held: an upload's until it
    /// completes, a download's until its first data (see `data::hold`).
    pub fn data_tls(&self, hold_tickets: bool) -> Option<DataTls> {
        (self.tls.prot == Protection::Private).then(|| {
            let hold = hold_tickets.then(Default::default);
            let user = self.login.as_ref().map(|l| l.account.name.clone());
            let tentative = user
                .filter(|_| self.tls.reuse == crate::tls::SessionReuse::User)
                .map(|user| {
                    let t = crate::tls::scope::Tentative {
                        registry: self.ctx.tls_scopes.clone(),
                        ip: self.link.peer.ip(),
                        found: Default::default(),
                    };
                    (t, user)
                });
            DataTls {
                config: self.tls.scope.data_config(
                    &self.ctx.tls.load().data,
                    hold.clone(),
                    tentative.as_ref().map(|(t, _)| t.clone()),
                ),
                token: self.tls.token,
                scope: self.tls.scope.clone(),
                require_reuse: self.tls.reuse != crate::tls::SessionReuse::Off,
                handshake_timeout: self.cfg.tls_handshake_timeout(),
                hold,
                tentative,
            }
        })
    }

    /// Sends the final reply of the running transfer, then its post-processing.
    pub async fn transfer_done(&mut self, f: Finished) -> io::Result<()> {
        let t = self.transfer.take();
        self.note_transfer(None);
        if let Some(t) = &t {
            self.ctx.metrics.transfer(t.is_upload(), f.bytes);
            self.transfer_log(t, &f);
            if f.bytes.is_none() {
                self.upload_failed(&t.post, t.bytes(), &f.reply);
            }
        }
        // A committed upload is counted and announced even if the client is gone.
        let sent = self.send(f.reply).await;
        if let (Some(t), Some(bytes)) = (t, f.bytes) {
            self.after_transfer(t.post, bytes).await;
        }
        sent
    }

    /// Stops the running transfer for `why` (ABOR, the client or the server ending the
    /// session): it still gets its one transfer-log line and its failed count. Returns the
    /// bytes it had moved, or None when an upload was already being committed: then it
    /// completes (its reply, counters and upload-complete) instead.
    pub async fn cut_transfer(&mut self, why: &str) -> Option<u64> {
        let committing = self
            .transfer
            .as_ref()
            .and_then(|t| t.fate.as_ref())
            .is_some_and(|f| !f.abort());
        if committing && let Some(t) = self.transfer.as_mut() {
            let f = t.finish().await;
            let _ = self.transfer_done(f).await;
            return None;
        }
        let Some(t) = self.transfer.take() else {
            return Some(0);
        };
        self.note_transfer(None);
        let bytes = t.bytes();
        let f = Finished {
            reply: Reply::new(Code::TRANSFER_ABORTED, format!("Transfer aborted: {why}.")),
            bytes: None,
        };
        self.ctx.metrics.transfer(t.is_upload(), None);
        self.transfer_log(&t, &f);
        self.upload_failed(&t.post, bytes, &f.reply);
        t.abort().await;
        Some(bytes)
    }

    /// One xferlog-like line per transfer: user, IP, command, path, bytes, duration, result.
    fn transfer_log(&self, t: &RunningTransfer, f: &Finished) {
        let (command, path) = t.what.split_once(' ').unwrap_or((t.what.as_str(), ""));
        let user = self
            .login
            .as_ref()
            .map(|l| l.account.name.as_str())
            .unwrap_or("-");
        tracing::info!(
            target: "xferlog",
            user,
            ip = %self.link.peer.ip(),
            command,
            path,
            bytes = f.bytes.unwrap_or_else(|| t.bytes()),
            secs = t.started.elapsed().as_secs_f64(),
            result = if f.bytes.is_some() { "ok" } else { "failed" },
            code = f.reply.code.get(),
            ascii = self.ftp.transfer_type == crate::protocol::command::TransferType::Ascii,
            anonymous = self.login.as_ref().is_some_and(|l| l.account.anonymous),
            "transfer"
        );
        if f.bytes.is_none() {
            tracing::info!(
                user,
                peer = %self.link.peer,
                what = %t.what,
                error = %f.reply.lines.join(" "),
                "transfer failed"
            );
        }
    }

    /// The bandwidth limits a file transfer of this session moves under (listings are not
    /// limited): the server's, its groups' and the user's, each shared with the transfers of
    /// the same scope.
    fn throttle(&self, job: &Job) -> Throttle {
        let dir = match job {
            Job::Download { .. } | Job::DownloadObject { .. } => Direction::Download,
            Job::Upload { .. } => Direction::Upload,
            Job::Bytes(_) | Job::Listing(_) => return Throttle::default(),
        };
        let Some(login) = &self.login else {
            return Throttle::default();
        };
        let who = login.account.bandwidth_subject();
        self.ctx
            .bandwidth
            .throttle(self.ctx.live.load().bandwidth, &who, dir)
    }

    /// Sends the 1xx reply and starts the job on the data connection in its own task.
    pub async fn start_transfer(
        &mut self,
        job: Job,
        opening: String,
        what: String,
        done_text: String,
        post: Post,
    ) -> Handled {
        let Some(plan) = self.data.take() else {
            return Err(Refusal::new(
                Code::CANT_OPEN_DATA,
                "Use PASV, EPSV, PORT or EPRT first.",
            ));
        };
        let fate = job.fate();
        let tls = self.data_tls(true);
        let mut throttle = self.throttle(&job);
        if let Some(rate) = post.limits().max_rate {
            throttle = throttle.with_own_rate(rate);
        }
        let limit = throttle.rate();
        let timeout = self.cfg.data_timeout();
        let mut connection = open(plan, tls, timeout);
        if let crate::data::Opening::Passive(p) = &mut connection {
            p.settled(self.cfg.tls_handshake_timeout()).await;
        }
        self.reply(Code::OPENING_DATA, opening).await?;
        let progress = Arc::new(AtomicU64::new(0));
        let p = progress.clone();
        // What the data connection logs (a refused handshake, say) names whose it is.
        let user = self.login.as_ref().map_or("-", |l| l.account.name.as_str());
        let span = tracing::warn_span!("data", user, peer = %self.link.peer);
        let handle = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let stream = connection.connected().await?;
                run(job, stream, p, timeout, throttle).await
            },
            span,
        ));
        self.note_transfer(Some(crate::access::sessions::LiveTransfer {
            what: what.clone(),
            started: Instant::now(),
            progress: progress.clone(),
            limit,
        }));
        self.transfer = Some(RunningTransfer {
            handle,
            progress,
            started: Instant::now(),
            what,
            limit,
            fate,
            done_text,
            post,
        });
        Ok(())
    }
}
