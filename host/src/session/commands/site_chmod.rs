//! SITE CHMOD mode path (lftp, ftputil and PHP send it): permission bits of a file or folder
//! the user may change (rw or a); set-id and sticky bits are refused by the parser. Passes the
//! `command` hook.

use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, mode: u32, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.gate("SITE CHMOD", &path).await? {
        return Ok(());
    }
    let p = path.clone();
    match s.fs(move |v| v.set_mode(&p, mode)).await {
        Ok(()) => {
            s.reply(200, format!("Mode of {path} set to {mode:03o}."))
                .await
        }
        Err(e) => s.fs_error(&path, e).await,
    }
}
