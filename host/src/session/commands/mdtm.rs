use std::io;

use crate::fs::listing::mdtm;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.gate("MDTM", &path).await? {
        return Ok(());
    }
    let p = path.clone();
    match s.fs(move |v| v.stat(&p)).await {
        Ok(e) => s.reply(213, mdtm(e.modified)).await,
        Err(e) => s.fs_error(&path, e).await,
    }
}
