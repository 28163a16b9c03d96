use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.user().account.rights.can_delete() {
        return s.denied(&path, "renaming").await;
    }
    if path.is_root() {
        return s.reply(550, "/: cannot rename the root.").await;
    }
    let p = path.clone();
    match s.fs(move |sb| sb.stat(&p)).await {
        Ok(_) => {
            s.rename_from = Some(path);
            s.reply(350, "Ready for RNTO.").await
        }
        Err(e) => s.fs_error(&path, e).await,
    }
}
