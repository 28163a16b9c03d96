use std::io;

use crate::fs::{FsError, VirtualPath};
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    change_to(s, path).await
}

/// Shared with CDUP: enter `path` if it is a directory (mount folders included).
pub async fn change_to(s: &mut Session, path: VirtualPath) -> io::Result<()> {
    let p = path.clone();
    match s.fs(move |v| v.is_dir(&p)).await {
        Ok(true) => {
            let text = format!("Directory changed to {path}.");
            if let Some(l) = s.login.as_mut() {
                l.cwd = path;
            }
            s.reply(250, text).await
        }
        Ok(false) => s.fs_error(&path, FsError::NotADirectory).await,
        Err(e) => s.fs_error(&path, e).await,
    }
}
