//! MFMT time path (and SITE UTIME, which shares this): sets a modification time, so sync
//! clients (rclone, lftp mirror -R) keep the times of what they upload. Needs the right to
//! change an existing file (rw or a) and passes the `command` hook.

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::fs::listing::mdtm;
use crate::protocol::timestamp;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, time: String, arg: String) -> Handled {
    set(s, time, arg, "MFMT").await
}

/// Sets the time and replies: `213 Modify=...; path` for MFMT, 200 for SITE UTIME; both name
/// the time the filesystem keeps (it may clamp a far-future one).
pub async fn set(s: &mut Session, time: String, arg: String, verb: &str) -> Handled {
    let Some(t) = timestamp::parse(&time) else {
        let text = format!(
            "{verb}: '{time}' is not a time that can be set (YYYYMMDDHHMMSS, UTC, from 1970 on)."
        );
        return Err(Refusal::new(Code::BAD_ARGUMENTS, text));
    };
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let p = path.clone();
    let set = s
        .fs(move |v| v.set_modified(&p, t).and_then(|()| v.stat(&p)))
        .await;
    match set {
        Ok(e) if verb == "MFMT" => {
            let text = format!("Modify={}; {path}", mdtm(e.modified));
            s.reply(Code::FILE_STATUS, text).await
        }
        Ok(e) => {
            let text = format!("Modification time of {path} set to {}.", mdtm(e.modified));
            s.reply(Code::OK, text).await
        }
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
