use std::io;

use crate::fs::VirtualPath;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String, from: Option<VirtualPath>) -> io::Result<()> {
    let Some(from) = from else {
        return s.reply(503, "Send RNFR first.").await;
    };
    let Some(to) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.rights_at(&to).can_delete() {
        return s.denied(&to, "renaming").await;
    }
    if !s.upload_hook(&to, "RNTO").await? {
        return Ok(());
    }
    let (f, t) = (from.clone(), to.clone());
    match s.fs(move |v| v.rename(&f, &t)).await {
        Ok(()) => s.reply(250, format!("Renamed {from} to {to}.")).await,
        Err(e) => s.fs_error(&to, e).await,
    }
}
