//! STOR, and the upload path shared with APPE and STOU.

use std::io;

use crate::data::transfer::Job;
use crate::fs::sandbox::WriteMode;
use crate::fs::{FsError, VirtualPath};
use crate::protocol::command::TransferType;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let offset = std::mem::take(&mut s.rest);
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    let mode = if offset > 0 {
        WriteMode::Resume(offset)
    } else {
        WriteMode::Replace
    };
    upload(s, path, mode, "STOR").await
}

/// Checks rights for the write mode (a new name needs create; an existing file needs
/// overwrite), opens the file and starts the transfer.
pub async fn upload(
    s: &mut Session,
    path: VirtualPath,
    mode: WriteMode,
    verb: &str,
) -> io::Result<()> {
    let rights = s.user().account.rights;
    if !rights.can_create() {
        return s.denied(&path, "uploading").await;
    }
    if !s.data_ready().await? {
        return Ok(());
    }
    let p = path.clone();
    let exists = match s.fs(move |sb| sb.stat(&p)).await {
        Ok(e) if e.is_dir => return refuse(s, &path, FsError::IsADirectory).await,
        Ok(_) => true,
        Err(FsError::NotFound) => false,
        Err(e) => return refuse(s, &path, e).await,
    };
    if exists && !rights.can_overwrite() {
        s.data = None;
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
    // Without the overwrite right, a file may only be created, never extended or replaced.
    let mode = if rights.can_overwrite() {
        mode
    } else {
        WriteMode::CreateNew
    };
    let p = path.clone();
    let file = match s.fs(move |sb| sb.open_write(&p, mode)).await {
        Ok(f) => f,
        Err(e) => return refuse(s, &path, e).await,
    };
    let ascii = s.transfer_type == TransferType::Ascii;
    let opening = format!("Ok to send data for {path}.");
    s.start_transfer(
        Job::Upload { file, ascii },
        opening,
        format!("{verb} {path}"),
        "Transfer complete".into(),
    )
    .await
}

async fn refuse(s: &mut Session, path: &VirtualPath, e: FsError) -> io::Result<()> {
    s.data = None;
    s.fs_error(path, e).await
}
