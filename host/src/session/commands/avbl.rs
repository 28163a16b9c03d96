//! AVBL [path]: the bytes the user may still store there (the mount's quota, else the free
//! space of its filesystem), as `213 <n>` (rclone `about`, draft-peterson-streamlined-ftp).

use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> io::Result<()> {
    let Some(path) = s.resolve(arg.as_deref().unwrap_or(".")).await? else {
        return Ok(());
    };
    if !s.rights_at(&path).can_create() {
        return s
            .reply(550, format!("{path}: you cannot store anything here."))
            .await;
    }
    let p = path.clone();
    match s.fs(move |v| v.available(&p)).await {
        Ok(n) => s.reply(213, n.to_string()).await,
        Err(e) => s.fs_error(&path, e).await,
    }
}
