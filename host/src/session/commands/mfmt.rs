//! MFMT time path (and SITE UTIME, which shares this): sets a modification time, so sync
//! clients (rclone, lftp mirror -R) keep the times of what they upload. Needs the right to
//! change an existing file (rw or a) and passes the `command` hook.

use std::io;

use crate::fs::listing::mdtm;
use crate::protocol::timestamp;
use crate::session::Session;

pub async fn handle(s: &mut Session, time: String, arg: String) -> io::Result<()> {
    set(s, time, arg, "MFMT").await
}

/// Sets the time and replies: `213 Modify=...; path` for MFMT, 200 for SITE UTIME.
pub async fn set(s: &mut Session, time: String, arg: String, verb: &str) -> io::Result<()> {
    let Some(t) = timestamp::parse(&time) else {
        return s
            .reply(501, format!("{verb}: '{time}' is not YYYYMMDDHHMMSS."))
            .await;
    };
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.rights_at(&path).can_overwrite() {
        return s.denied(&path, "changing modification times").await;
    }
    if !s.command_hook(verb, Some(&path)).await? {
        return Ok(());
    }
    let p = path.clone();
    match s.fs(move |v| v.set_modified(&p, t)).await {
        Ok(()) if verb == "MFMT" => s.reply(213, format!("Modify={}; {path}", mdtm(t))).await,
        Ok(()) => {
            s.reply(200, format!("Modification time of {path} set."))
                .await
        }
        Err(e) => s.fs_error(&path, e).await,
    }
}
