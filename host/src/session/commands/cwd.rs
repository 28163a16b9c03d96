use std::io;

use crate::fs::FsError;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    change_to(s, path).await
}

/// Shared with CDUP: enter `path` if it is a directory inside the sandbox.
pub async fn change_to(s: &mut Session, path: crate::fs::VirtualPath) -> io::Result<()> {
    let p = path.clone();
    match s.fs(move |sb| sb.is_dir(&p)).await {
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
