use std::io;

use crate::fs::FsError;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.gate("SIZE", &path).await? {
        return Ok(());
    }
    let p = path.clone();
    match s.fs(move |v| v.stat(&p)).await {
        Ok(e) if e.is_dir => s.fs_error(&path, FsError::IsADirectory).await,
        Ok(e) => s.reply(213, e.size.to_string()).await,
        Err(e) => s.fs_error(&path, e).await,
    }
}
