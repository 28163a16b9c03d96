//! Uploads an `upload-complete` plugin may still take away (see [`crate::fs::held_files`]):
//! held from their start, and the commands that would reach such a file wait for the
//! plugins' answer.

use std::path::Path;
use std::time::Duration;

use super::refusal::Refusal;
use super::state::Session;
use crate::fs::VirtualPath;
use crate::fs::held_files::{FileId, HeldFile, HeldFiles};
use crate::fs::upload::UploadPlan;
use crate::protocol::Code;

/// How long a command on a held file waits for the plugins' actions before it is refused.
pub const HOLD_WAIT: Duration = Duration::from_secs(5);

/// A held upload: its identity, and the hold (released when dropped).
pub struct Held {
    pub id: FileId,
    _hold: HeldFile,
}

impl Session {
    /// Holds an upload's file from its start when an `upload-complete` plugin may take it
    /// away; the hold ends with the plugins' actions.
    pub fn hold_upload(&self, plan: &UploadPlan, real: &Path) -> Option<Held> {
        if !self.ctx.plugins.may_take_files() {
            return None;
        }
        let id = plan.file_id()?;
        Some(Held {
            id,
            _hold: self.ctx.held_files.hold(id, real),
        })
    }

    /// Waits (up to [`HOLD_WAIT`]) while `path` is a held file; `450` if it still is then.
    /// With `folders`, a folder holding such a file counts too (RNFR/RNTO: moving the folder
    /// would carry the file out of the action's reach); other commands look at the file only.
    pub async fn refuse_held(&self, path: &VirtualPath, folders: bool) -> Result<(), Refusal> {
        if !self.ctx.held_files.any() {
            return Ok(());
        }
        let p = path.clone();
        let (id, real) = self
            .fs(move |v| {
                Ok((
                    v.file_identity(&p).ok(),
                    folders.then(|| v.real_path(&p)).flatten(),
                ))
            })
            .await
            .unwrap_or((None, None));
        self.wait_unheld(path, |f| {
            id.is_some_and(|i| f.is_held(i))
                || real.as_ref().is_some_and(|r| f.holds_at_or_under(r))
        })
        .await
    }

    /// Waits (up to [`HOLD_WAIT`]) until `still_held` is false; `450` naming `path` if not.
    pub async fn wait_unheld(
        &self,
        path: &VirtualPath,
        still_held: impl Fn(&HeldFiles) -> bool,
    ) -> Result<(), Refusal> {
        if self.ctx.held_files.wait_until(HOLD_WAIT, still_held).await {
            Ok(())
        } else {
            Err(Refusal::new(
                Code::FILE_BUSY,
                format!("{path}: a site policy is still checking this upload; try again shortly."),
            ))
        }
    }
}
