//! STOR, and the upload path shared with APPE: rights (a new name needs create; an existing
//! file needs overwrite), quota and upload mode are checked before the 150 reply.

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::data::transfer::Job;
use crate::fs::upload::UploadKind;
use crate::fs::{FsError, VirtualPath};
use crate::protocol::command::TransferType;
use crate::session::running::Post;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let offset = std::mem::take(&mut s.ftp.rest);
    let path = s.resolve(&arg)?;
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
    verb: &'static str,
) -> Handled {
    let rights = s.rights_at(&path);
    if !rights.can_create() {
        return Err(Refusal::right(&path, "uploading"));
    }
    s.data_ready()?;
    let p = path.clone();
    let existing = match s.fs(move |v| v.stat(&p)).await {
        Ok(e) if e.is_dir => return Err(Refusal::fs(&path, FsError::IsADirectory)),
        Ok(e) => Some(e.size),
        Err(FsError::NotFound) => None,
        Err(e) => return Err(Refusal::fs(&path, e)),
    };
    if existing.is_some() && !rights.can_overwrite() {
        return Err(Refusal::new(
            Code::FILE_UNAVAILABLE,
            format!(
                "{path}: file exists and overwriting is not allowed for user {}.",
                s.user().account.name
            ),
        ));
    }
    let offset = match kind {
        UploadKind::Resume(at) => at,
        UploadKind::Append => existing.unwrap_or(0),
        UploadKind::Store | UploadKind::Unique => 0,
    };
    let ticket = s.upload_hook(&path, verb, offset).await?;
    let real = s.user().vfs.real_path(&path).unwrap_or_default();
    let p = path.clone();
    let plan = match s.fs(move |v| v.open_upload(&p, kind, existing)).await {
        Ok(plan) => plan,
        Err(e) => {
            // The gate let it through: its plugins hear that it did not happen.
            let refusal = Refusal::fs(&path, e);
            s.refused_after_gate(&path, verb, ticket, offset, &refusal);
            return Err(refusal);
        }
    };
    let keeps_partial = plan.keeps_partial();
    let held = s.hold_upload(&plan, &s.user().vfs.real_path(&path).unwrap_or_default());
    let ascii = s.ftp.transfer_type == TransferType::Ascii;
    let opening = format!("Ok to send data for {path}.");
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
        format!("{verb} {path}"),
        "Transfer complete".into(),
        Post::Upload {
            path: path.clone(),
            real,
            ticket,
            command: verb,
            offset,
            keeps_partial,
            held,
        },
    )
    .await
}
