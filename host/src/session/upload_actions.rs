//! What plugins ask for at `upload-complete`, done in the background after the upload's 226:
//! programs to run (`exec` capability) and the uploaded file deleted or quarantined (`delete`
//! and `quarantine` capabilities). Each action is checked against the grant of the plugin
//! that asked; a refused one is logged and skipped.

use std::path::PathBuf;
use std::sync::Arc;

use ftpsd_plugin_sdk::{Action, Request, UploadCompleteEvent};

use crate::context::ServerContext;
use crate::fs::{Vfs, VirtualPath};
use crate::plugins::Loaded;
use crate::plugins::exec::{Job, Status};
use crate::plugins::file_actions::{self, FileAction};

/// The upload the actions are about.
pub struct Uploaded {
    pub event: UploadCompleteEvent,
    pub path: VirtualPath,
    pub real: PathBuf,
    /// Device and inode of the file the upload wrote (None: it could not be read, and file
    /// actions are skipped rather than aimed at whatever holds the name now).
    pub identity: Option<(u64, u64)>,
    pub vfs: Arc<Vfs>,
    /// Keeps the file out of reach of path commands until the actions are done.
    pub held: Option<super::held::Held>,
}

/// Asks the upload-complete subscribers and performs their actions, in their order.
pub async fn run(ctx: Arc<ServerContext>, up: Uploaded) {
    let actions = ctx
        .plugins
        .upload_complete(Request::UploadComplete(up.event.clone()))
        .await;
    // Once the file is gone, later actions on it have nothing to act on.
    let mut taken = false;
    for (plugin, action) in actions {
        let name = action_name(&action);
        match file_actions::check(&plugin, &action) {
            None => execute(&ctx, &plugin, action, &up),
            Some(Err(refused)) => {
                ctx.exec
                    .record(&plugin.name, name, Status::NotTaken(refused.to_string()));
            }
            Some(Ok(_)) if taken => ctx.exec.record(
                &plugin.name,
                name,
                Status::NotTaken("an earlier action took the file".into()),
            ),
            Some(Ok(what)) => {
                let status = take_away(&ctx, &plugin, what, &action, &up).await;
                taken |= matches!(status, Status::Taken { .. });
                ctx.exec.record(&plugin.name, name, status);
            }
        }
    }
}

fn action_name(a: &Action) -> &'static str {
    match a {
        Action::Execute { .. } => "execute",
        Action::DeleteFile { .. } => "delete-file",
        Action::QuarantineFile { .. } => "quarantine-file",
    }
}

fn execute(ctx: &ServerContext, plugin: &Arc<Loaded>, action: Action, up: &Uploaded) {
    let Action::Execute { program, args, cwd } = action else {
        return;
    };
    let program = match crate::plugins::exec::check(plugin, &program) {
        Ok(p) => p,
        Err(refused) => {
            ctx.exec
                .record(&plugin.name, &program, Status::Refused(refused));
            return;
        }
    };
    let dir = cwd.map(PathBuf::from).unwrap_or_else(|| {
        up.real
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    });
    let ev = &up.event;
    ctx.exec.submit(Job {
        plugin: plugin.name.clone(),
        program,
        args,
        cwd: dir,
        env: vec![
            ("UPLOAD_PATH".into(), ev.real_path.clone()),
            ("UPLOAD_USER".into(), ev.user.clone()),
            ("UPLOAD_SIZE".into(), ev.size.to_string()),
            ("UPLOAD_IP".into(), ev.ip.clone()),
        ],
        timeout: std::time::Duration::from_secs(plugin.section.capabilities.exec_timeout_secs),
    });
}

/// Deletes or quarantines the uploaded file; its bytes leave the quota and the user's upload
/// counters (an upload the site took away earns no ratio credit).
async fn take_away(
    ctx: &ServerContext,
    plugin: &Loaded,
    what: FileAction,
    action: &Action,
    up: &Uploaded,
) -> Status {
    let reason = match action {
        Action::DeleteFile { reason } | Action::QuarantineFile { reason } => {
            reason.clone().unwrap_or_default()
        }
        Action::Execute { .. } => String::new(),
    };
    let Some(identity) = up.identity else {
        return Status::NotTaken(format!(
            "{}: the upload's file could not be identified",
            up.event.path
        ));
    };
    let into = match &what {
        FileAction::Delete => None,
        FileAction::Quarantine(dir) => {
            if let Err(e) =
                file_actions::outside_every_mount(dir, &ctx.auth.users(), &ctx.plugins.auth_roots())
            {
                return Status::NotTaken(e.to_string());
            }
            let name = file_actions::quarantine_name(
                crate::state::now_ms(),
                up.event.transfer,
                &up.event.user,
                up.path.file_name().unwrap_or("file"),
            );
            Some((dir.clone(), name))
        }
    };
    let (vfs, path, into2) = (up.vfs.clone(), up.path.clone(), into.clone());
    let taken = tokio::task::spawn_blocking(move || {
        vfs.take_upload(
            &path,
            identity,
            into2.as_ref().map(|(d, n)| (d.as_path(), n.as_str())),
        )
    })
    .await;
    let size = match taken {
        Ok(Ok(size)) => size,
        Ok(Err(e)) => return Status::NotTaken(format!("{}: {e}", up.event.path)),
        Err(e) => return Status::NotTaken(e.to_string()),
    };
    let (kv, user, bytes) = (ctx.plugins.kv.clone(), up.event.user.clone(), up.event.size);
    let _ = tokio::task::spawn_blocking(move || {
        crate::state::uncount_upload(kv.as_ref(), &user, bytes)
    })
    .await;
    match into {
        None => {
            tracing::info!(plugin = %plugin.name, user = %up.event.user, path = %up.event.path, size, reason, "uploaded file deleted by plugin");
            Status::Taken { to: None }
        }
        Some((dir, name)) => {
            let to = dir.join(name).display().to_string();
            tracing::warn!(plugin = %plugin.name, user = %up.event.user, path = %up.event.path, size, reason, quarantined = %to, "uploaded file quarantined by plugin");
            Status::Taken { to: Some(to) }
        }
    }
}
