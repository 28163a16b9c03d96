//! STOU: store under a name the server picks (RFC 959; reply text per RFC 1123 `FILE: name`).

use crate::session::refusal::{Handled, Refusal};

use crate::data::transfer::Job;
use crate::protocol::command::TransferType;
use crate::session::running::Post;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    // `STOU dir/name`: a unique name like `name` in `dir` (relative to the cwd).
    let (dir_part, wanted) = match arg.as_deref().map(|a| a.rsplit_once('/')) {
        Some(Some((dir, name))) => (Some(if dir.is_empty() { "/" } else { dir }), Some(name)),
        Some(None) => (None, arg.as_deref()),
        None => (None, None),
    };
    let dir = match dir_part {
        Some(d) => s.resolve(d)?,
        None => s.user().cwd.clone(),
    };
    if !s.rights_at(&dir).can_create() {
        return Err(Refusal::right(&dir, "uploading"));
    }
    s.data_ready()?;
    // Without a usable name, `file` (then `file.1`, ...): nothing about the server in it.
    let base = wanted
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .unwrap_or("file")
        .to_string();
    let ticket = match dir.resolve(&base) {
        Ok(candidate) => s.upload_hook(&candidate, "STOU", 0).await?,
        Err(_) => Default::default(),
    };
    let d = dir.clone();
    let (plan, path) = match s.fs(move |v| v.open_unique(&d, &base)).await {
        Ok(r) => r,
        Err(e) => return Err(Refusal::fs(&dir, e)),
    };
    // The name as the client can use it: relative to its cwd when stored there, else the path.
    let name = if dir == s.user().cwd {
        path.file_name().unwrap_or_default().to_string()
    } else {
        path.as_string()
    };
    let keeps_partial = plan.keeps_partial();
    let held = s.hold_upload(&plan, &s.user().vfs.real_path(&path).unwrap_or_default());
    let ascii = s.ftp.transfer_type == TransferType::Ascii;
    let opening = format!("FILE: {name}");
    s.start_transfer(
        Job::Upload {
            plan,
            ascii,
            require_close_notify: s.cfg.tls.require_close_notify,
            sync: s.cfg.server.sync_uploads,
            max_bytes: ticket.limits.max_bytes,
            fate: Default::default(),
        },
        opening,
        format!("STOU {path}"),
        format!("Transfer complete; stored as FILE: {name}"),
        Post::Upload {
            real: s.user().vfs.real_path(&path).unwrap_or_default(),
            path,
            ticket,
            command: "STOU",
            offset: 0,
            keeps_partial,
            held,
        },
    )
    .await
}
