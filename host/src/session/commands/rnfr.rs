use std::io;

use crate::fs::{FsError, Target};
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.gate("RNFR", &path).await? {
        return Ok(());
    }
    let fixed = match s.user().vfs.locate(&path) {
        Target::Message(_) => true,
        Target::Real { rel, .. } => rel.is_root(),
    };
    if fixed {
        return s
            .fs_error(
                &path,
                FsError::Reserved("the root, a mount folder or the message file"),
            )
            .await;
    }
    let p = path.clone();
    match s.fs(move |v| v.stat(&p)).await {
        Ok(_) => {
            s.rename_from = Some(path);
            s.reply(350, "Ready for RNTO.").await
        }
        Err(e) => s.fs_error(&path, e).await,
    }
}
