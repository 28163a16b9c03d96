//! STOU: store under a name the server picks (RFC 959; reply text per RFC 1123 `FILE: name`).

use std::io;

use crate::data::transfer::Job;
use crate::protocol::command::TransferType;
use crate::session::Session;
use crate::session::hooks::Post;

pub async fn handle(s: &mut Session, arg: Option<String>) -> io::Result<()> {
    s.rest = 0;
    let dir = s.user().cwd.clone();
    if !s.rights_at(&dir).can_create() {
        return s.denied(&dir, "uploading").await;
    }
    if !s.data_ready().await? {
        return Ok(());
    }
    let base = arg
        .as_deref()
        .and_then(|a| a.rsplit('/').next())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .map(str::to_string)
        .unwrap_or_else(|| format!("ftpsd-{}", std::process::id()));
    if let Ok(candidate) = dir.resolve(&base)
        && !s.upload_hook(&candidate, "STOU").await?
    {
        return Ok(());
    }
    let d = dir.clone();
    let (plan, path) = match s.fs(move |v| v.open_unique(&d, &base)).await {
        Ok(r) => r,
        Err(e) => return s.fs_error(&dir, e).await,
    };
    let name = path.file_name().unwrap_or_default().to_string();
    let ascii = s.transfer_type == TransferType::Ascii;
    let opening = format!("FILE: {name}");
    s.start_transfer(
        Job::Upload {
            plan,
            ascii,
            require_close_notify: s.cfg.tls.require_close_notify,
        },
        opening,
        format!("STOU {path}"),
        format!("Transfer complete; stored as FILE: {name}"),
        Post::Upload {
            real: s.user().vfs.real_path(&path).unwrap_or_default(),
            path,
        },
    )
    .await
}
