//! The one place a handler's refusal reaches the wire: logged, announced to `file-blocked`
//! subscribers, counted (by `send`) and answered with the reply [`Refusal::reply`] maps it to.

use std::io;

use super::refusal::{Handled, Refusal};
use super::state::Session;

impl Session {
    /// A handler's outcome on the wire: a refusal is sent, a failed link ends the session.
    pub async fn conclude(&mut self, handled: Handled) -> io::Result<()> {
        match handled {
            Ok(()) => Ok(()),
            Err(r) => self.refuse(r).await,
        }
    }

    /// Sends a refusal's reply, after logging it and announcing rights and plugin refusals to
    /// `file-blocked` subscribers. Only a failed link comes back as an error.
    pub async fn refuse(&mut self, r: Refusal) -> io::Result<()> {
        let user = self
            .login
            .as_ref()
            .map(|l| l.account.name.clone())
            .unwrap_or_default();
        let Some(reply) = r.reply(&user) else {
            return match r {
                Refusal::Link(e) => Err(e),
                _ => Ok(()),
            };
        };
        match &r {
            Refusal::Right { path, action } => {
                self.blocked(path, action, "host", &reply.lines.join(" "))
            }
            Refusal::Plugin {
                message,
                by,
                command,
                path,
                ..
            } => {
                tracing::info!(plugin = %by, %command, path = ?path.as_ref().map(|p| p.as_string()), "refused by plugin");
                if let Some(p) = path {
                    self.blocked(p, command, by, message);
                }
            }
            _ => {}
        }
        self.send(reply).await
    }
}
