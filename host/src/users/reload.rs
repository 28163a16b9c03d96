//! Hot reload of the users file: watch its directory (renames from `ftpsd user …` and editors'
//! close-after-write), wait for 100 ms of quiet, load off the async runtime, then swap. A broken
//! file is rejected with its line and column and the previous users stay in force; sessions of
//! users that were deleted or disabled are ended, other sessions pick up changes at their next
//! command.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::context::ServerContext;
use crate::users::UsersFile;

const QUIET: Duration = Duration::from_millis(100);

/// Keeps the watcher alive; dropping it stops watching.
pub struct UsersWatcher {
    _watcher: notify::RecommendedWatcher,
    _task: tokio::task::JoinHandle<()>,
}

impl Drop for UsersWatcher {
    fn drop(&mut self) {
        self._task.abort();
    }
}

pub fn watch(ctx: Arc<ServerContext>, path: PathBuf) -> notify::Result<UsersWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let name = path.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        let relevant_kind = matches!(
            ev.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Create(_)
                | EventKind::Remove(_)
        );
        if relevant_kind
            && ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == name)
        {
            let _ = tx.send(());
        }
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Debounce: a save is several events; act once things are quiet.
            while let Ok(Some(())) = tokio::time::timeout(QUIET, rx.recv()).await {}
            reload(&ctx, &path).await;
        }
    });
    Ok(UsersWatcher {
        _watcher: watcher,
        _task: task,
    })
}

/// Loads the users file and, if valid, puts it in force. Returns the error text on rejection.
pub async fn reload(ctx: &ServerContext, path: &Path) -> Option<String> {
    let p = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || UsersFile::load(&p)).await;
    let users = match loaded {
        Ok(Ok(u)) => u,
        Ok(Err(e)) => {
            let msg = e.to_string();
            tracing::error!(error = %msg, "users file rejected; the previous users stay in force");
            *ctx.users_reload_error
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(msg.clone());
            return Some(msg);
        }
        Err(e) => return Some(e.to_string()),
    };
    let count = users.users.len();
    ctx.auth.replace(users);
    *ctx.users_reload_error
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = None;
    for user in ctx.sessions.logged_in_users() {
        let anonymous = crate::users::Authenticator::is_anonymous_name(&user);
        if ctx.auth.current(&user, anonymous).is_none() {
            let n = ctx.sessions.end_user(&user, "account deleted or disabled");
            tracing::info!(%user, sessions = n, "ending sessions of a removed account");
        }
    }
    tracing::info!(users = count, "users file reloaded");
    None
}
