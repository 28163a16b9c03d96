use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.gate("RMD", &path).await? {
        return Ok(());
    }
    let cwd = s.user().cwd.as_string();
    if path.is_root() || cwd == path.as_string() || cwd.starts_with(&format!("{path}/")) {
        return s
            .reply(
                550,
                format!("{path}: cannot remove the current directory or one above it."),
            )
            .await;
    }
    let p = path.clone();
    match s.fs(move |v| v.rmdir(&p)).await {
        Ok(()) => s.reply(250, format!("{path}: directory removed.")).await,
        Err(e) => s.fs_error(&path, e).await,
    }
}
