//! SITE CHMOD mode path (lftp, ftputil and PHP send it): permission bits of a file or folder
//! the user may change (rw or a); set-id and sticky bits are refused by the parser. Passes the
//! `command` hook.

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::session::state::Session;

pub async fn handle(s: &mut Session, mode: u32, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let p = path.clone();
    match s.fs(move |v| v.set_mode(&p, mode)).await {
        Ok(()) => {
            s.reply(Code::OK, format!("Mode of {path} set to {mode:03o}."))
                .await
        }
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
