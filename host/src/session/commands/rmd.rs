use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.user().account.rights.can_delete() {
        return s.denied(&path, "removing directories").await;
    }
    if path.is_root()
        || s.user().cwd.as_string().starts_with(&format!("{path}/"))
        || s.user().cwd == path
    {
        return s
            .reply(
                550,
                format!("{path}: cannot remove the current directory or one above it."),
            )
            .await;
    }
    let p = path.clone();
    match s.fs(move |sb| sb.rmdir(&p)).await {
        Ok(()) => s.reply(250, format!("{path}: directory removed.")).await,
        Err(e) => s.fs_error(&path, e).await,
    }
}
