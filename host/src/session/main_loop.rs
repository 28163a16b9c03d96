//! The session's main loop: the banner, then one command at a time until QUIT, a timeout, the
//! server ending the session, or a vanished client; during a transfer, ABOR and STAT act at
//! once and other commands wait for its end.

use std::io;
use std::sync::Arc;

use tokio::time::timeout_at;

use super::commands;
use super::control::Line;
use super::login;
use super::refusal::Refusal;
use super::state::Session;
use crate::access::kill_switch::KillSwitch;
use crate::protocol::{Code, Command, Reply, parse_line};

impl Session {
    /// Serves the connection until QUIT, timeout or disconnect. The banner is sent here.
    /// Boxed: an async fn's by-value argument is stored twice in its future (once as the
    /// argument, once as the body's local), and every idle session would carry both copies.
    pub async fn run(mut self: Box<Self>) {
        let banner = crate::config::greeting::lines(&self.cfg.server.banner);
        if self.send(Reply::multi(Code::READY, banner)).await.is_err() {
            return;
        }
        if let Err(e) = self.serve().await {
            tracing::debug!(peer = %self.link.peer, error = %e, "control connection ended");
        }
        // Boxed, as below: what ending takes is not held by every idle session's future.
        Box::pin(self.cut_transfer("the session ended")).await;
        if self.login.is_none() {
            self.tls.scope.set_owner(None);
        }
        Box::pin(self.link.control.shutdown()).await;
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

    fn kill_signal(&self) -> Option<Arc<KillSwitch>> {
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
        let kill = self.kill_signal();
        let mut shutdown = self.ctx.shutdown.subscribe();
        tokio::select! {
            _ = async { let _ = shutdown.wait_for(|down| *down).await; } => {
                let _ = Box::pin(self.send(Reply::new(Code::SERVICE_CLOSING, "Server shutting down; closing control connection."))).await;
                Ok(None)
            }
            r = timeout_at(deadline, self.link.control.read_line()) => match r {
                Ok(r) => r,
                Err(_) => {
                    let _ = Box::pin(self.send(Reply::new(Code::SERVICE_CLOSING, format!("{what}: closing control connection.")))).await;
                    Ok(None)
                }
            },
            reason = KillSwitch::pulled_or_never(kill.as_deref()) => {
                let _ = Box::pin(self.send(Reply::new(Code::SERVICE_CLOSING, format!("Session ended by the server: {reason}.")))).await;
                Ok(None)
            }
        }
    }

    /// While a transfer runs: ABOR and STAT act at once; QUIT and any other command wait for
    /// the transfer's final reply (RFC 959 order), holding at most one line.
    async fn serve_during_transfer(&mut self, held: &mut Option<Line>) -> io::Result<()> {
        let kill = self.kill_signal();
        let Some(t) = self.transfer.as_mut() else {
            return Ok(());
        };
        if held.is_some() {
            let finished = t.finish().await;
            return self.transfer_done(finished).await;
        }
        tokio::select! {
            finished = t.finish() => self.transfer_done(finished).await,
            reason = KillSwitch::pulled_or_never(kill.as_deref()) => {
                self.cut_transfer("session ended by the server").await;
                let _ = self.send(Reply::new(Code::SERVICE_CLOSING, format!("Session ended by the server: {reason}."))).await;
                self.quit = true;
                Ok(())
            }
            line = self.link.control.read_line() => {
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
                    tracing::trace!(peer = %self.link.peer, ?cmd, "command");
                }
                self.note_command(&cmd, &bytes);
                if !login::refresh(self).await? {
                    return Ok(());
                }
                commands::dispatch(self, cmd).await
            }
            Err(crate::protocol::ParseError::Empty) => Ok(()),
            Err(e) => {
                // A line that does not parse is still a command: it drops a REST offset and
                // an RNFR (they apply only to the command right after them), and a transfer
                // verb with a bad argument ends the pending data plan, as any refused transfer
                // command does.
                self.ftp.rest = 0;
                self.ftp.declared_size = None;
                self.ftp.rename_from = None;
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
        l.guard.info.tls.store(
            self.link.control.is_tls(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}
