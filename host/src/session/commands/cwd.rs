use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::fs::{FsError, VirtualPath};
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    change_to(s, path).await
}

/// Shared with CDUP: enter `path` if it is a directory (mount folders included).
pub async fn change_to(s: &mut Session, path: VirtualPath) -> Handled {
    let p = path.clone();
    match s.fs(move |v| v.is_dir(&p)).await {
        Ok(true) => {
            let text = format!("Directory changed to {path}.");
            if let Some(l) = s.login.as_mut() {
                l.cwd = path;
            }
            s.reply(Code::FILE_ACTION_OK, text).await
        }
        Ok(false) => Err(Refusal::fs(&path, FsError::NotADirectory)),
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
