//! STOR, and the upload path shared with APPE: rights (a new name needs create; an existing
//! file needs overwrite), quota and upload mode are checked before the 150 reply.

use std::io;

use crate::data::transfer::Job;
use crate::fs::upload::UploadKind;
use crate::fs::{FsError, VirtualPath};
use crate::protocol::command::TransferType;
use crate::session::Session;
use crate::session::hooks::Post;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let offset = std::mem::take(&mut s.rest);
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    let kind = if offset > 0 {
        UploadKind::Resume(offset)
    } else {
        UploadKind::Store
    };
    upload(s, path, kind, "STOR").await
}

pub async fn upload(
    s: &mut Session,
    path: VirtualPath,
    kind: UploadKind,
    verb: &str,
) -> io::Result<()> {
    let rights = s.rights_at(&path);
    if !rights.can_create() {
        return s.denied(&path, "uploading").await;
    }
    if !s.data_ready().await? {
        return Ok(());
    }
    let p = path.clone();
    let existing = match s.fs(move |v| v.stat(&p)).await {
        Ok(e) if e.is_dir => return s.fs_error(&path, FsError::IsADirectory).await,
        Ok(e) => Some(e.size),
        Err(FsError::NotFound) => None,
        Err(e) => return s.fs_error(&path, e).await,
    };
    if existing.is_some() && !rights.can_overwrite() {
        return s
            .reply(
                550,
                format!(
                    "{path}: file exists and overwriting is not allowed for user {}.",
                    s.user().account.name
                ),
            )
            .await;
    }
    if !s.upload_hook(&path, verb).await? {
        return Ok(());
    }
    let real = s.user().vfs.real_path(&path).unwrap_or_default();
    let p = path.clone();
    let plan = match s.fs(move |v| v.open_upload(&p, kind, existing)).await {
        Ok(plan) => plan,
        Err(e) => return s.fs_error(&path, e).await,
    };
    let ascii = s.transfer_type == TransferType::Ascii;
    let opening = format!("Ok to send data for {path}.");
    s.start_transfer(
        Job::Upload {
            plan,
            ascii,
            require_close_notify: s.cfg.tls.require_close_notify,
        },
        opening,
        format!("{verb} {path}"),
        "Transfer complete".into(),
        Post::Upload {
            path: path.clone(),
            real,
        },
    )
    .await
}
