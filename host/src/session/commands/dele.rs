use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.gate("DELE", &path).await? {
        return Ok(());
    }
    let p = path.clone();
    match s.fs(move |v| v.remove_file(&p)).await {
        Ok(()) => s.reply(250, format!("{path}: deleted.")).await,
        Err(e) => s.fs_error(&path, e).await,
    }
}
