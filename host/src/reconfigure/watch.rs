//! File watchers that reconfigure the server when its files change: the users file (renames
//! from `ftpsd user …` and editors' close-after-write), the certificate and key (renewals),
//! every plugin file and the config file (its `[[plugins]]` list). A save is several events: each watcher acts once things have been
//! quiet for a moment, then calls the `reconfigure` function for what changed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::context::ServerContext;
use crate::plugins::PluginSection;

const USERS_QUIET: Duration = Duration::from_millis(100);
const PLUGINS_QUIET: Duration = Duration::from_millis(50);
const CERT_QUIET: Duration = Duration::from_millis(500);

/// Keeps a watcher alive; dropping it stops watching.
pub struct FileWatcher {
    _watcher: Arc<Mutex<notify::RecommendedWatcher>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FileWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether an event may mean new content (a close after writing, a rename into place, a
/// creation or removal).
fn changes_content(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Create(_)
            | EventKind::Remove(_)
    )
}

fn same_file(a: &Path, b: &Path) -> bool {
    a.file_name() == b.file_name() && a.parent() == b.parent()
}

/// Watches `files` (by name, in their folders: editors and tools replace files by renaming,
/// certbot by swapping a symlink) and runs `act` once things have been quiet for `quiet`.
fn watch_files<F, Fut>(files: Vec<PathBuf>, quiet: Duration, act: F) -> notify::Result<FileWatcher>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let wanted = files.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if changes_content(&ev.kind)
            && ev
                .paths
                .iter()
                .any(|p| wanted.iter().any(|w| same_file(w, p)))
        {
            let _ = tx.send(());
        }
    })?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for f in &files {
        let dir = f
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        if !dirs.contains(&dir) {
            watcher.watch(&dir, RecursiveMode::NonRecursive)?;
            dirs.push(dir);
        }
    }
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            while let Ok(Some(())) = tokio::time::timeout(quiet, rx.recv()).await {}
            act().await;
        }
    });
    Ok(FileWatcher {
        _watcher: Arc::new(Mutex::new(watcher)),
        task,
    })
}

/// Watches the users file; a change reloads it.
pub fn users(ctx: Arc<ServerContext>, path: PathBuf) -> notify::Result<FileWatcher> {
    let path = std::path::absolute(&path).unwrap_or(path);
    watch_files(vec![path], USERS_QUIET, move || {
        let ctx = ctx.clone();
        async move {
            let _ = super::users(&ctx).await;
        }
    })
}

/// Watches the certificate and key files; a change (a renewal) loads them for new handshakes.
/// The wait is longer than for the users file: a renewal writes two files.
pub fn certificates(ctx: Arc<ServerContext>) -> notify::Result<FileWatcher> {
    let (cert, key, _) = ctx.config.tls_paths();
    let files = [cert, key]
        .into_iter()
        .map(|p| std::path::absolute(&p).unwrap_or(p))
        .collect();
    watch_files(files, CERT_QUIET, move || {
        let ctx = ctx.clone();
        async move {
            let _ = super::certificates::reload(&ctx);
        }
    })
}

/// The files worth an event: every plugin file and the config file.
fn interesting(sections: &[PluginSection], config: Option<&PathBuf>) -> Vec<PathBuf> {
    sections
        .iter()
        .map(|s| s.path.clone())
        .chain(config.cloned())
        .collect()
}

/// Watches the plugin files and the config file: a changed plugin file swaps that plugin, a
/// changed config applies its `[[plugins]]` list (and watches the folders of new plugins).
pub fn plugins(ctx: Arc<ServerContext>) -> notify::Result<Option<FileWatcher>> {
    let config_file = ctx.config.source.clone();
    if ctx.config.plugins.is_empty() && config_file.is_none() {
        return Ok(None);
    }
    let mut sections: Vec<PluginSection> = ctx
        .config
        .plugins
        .iter()
        .map(|s| s.with_base(&ctx.config.base_dir))
        .collect();
    let watched = Arc::new(RwLock::new(interesting(&sections, config_file.as_ref())));
    // (path, whether a rename put it in place: then the file is complete at once).
    let (tx, mut rx) = mpsc::unbounded_channel::<(PathBuf, bool)>();
    let filter = watched.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if changes_content(&ev.kind) {
            let renamed = matches!(
                ev.kind,
                EventKind::Modify(ModifyKind::Name(
                    notify::event::RenameMode::To | notify::event::RenameMode::Both
                ))
            );
            let watched = filter.read().unwrap_or_else(|e| e.into_inner());
            let last = ev.paths.len().saturating_sub(1);
            for (i, p) in ev.paths.into_iter().enumerate() {
                // In a rename pair the new name is the last path.
                if watched.iter().any(|w| same_file(w, &p)) {
                    let _ = tx.send((p, renamed && i == last));
                }
            }
        }
    })?;
    let watcher = Arc::new(Mutex::new(watcher));
    let mut dirs = Vec::new();
    watch_dirs(
        &watcher,
        &mut dirs,
        &watched.read().unwrap_or_else(|e| e.into_inner()),
    )?;
    let w = watcher.clone();
    // What the config file held when last applied: one deploy raises several events (a rename
    // is seen as "moved to" and as "moved from, to"), and each must not be a reload of its own.
    let mut applied_config = config_file.as_deref().and_then(|c| std::fs::read(c).ok());
    let task = tokio::spawn(async move {
        while let Some((first, renamed)) = rx.recv().await {
            let mut changed = vec![first];
            if renamed {
                // A rename into place is a whole file: no need to wait for quiet.
                while let Ok((p, _)) = rx.try_recv() {
                    changed.push(p);
                }
            } else {
                while let Ok(Some((p, _))) = tokio::time::timeout(PLUGINS_QUIET, rx.recv()).await {
                    changed.push(p);
                }
            }
            changed.sort();
            changed.dedup();
            let config_changed = config_file
                .as_ref()
                .is_some_and(|c| changed.iter().any(|p| same_file(c, p)));
            if config_changed {
                let now = read_file(config_file.as_ref()).await;
                if now.is_some() && now == applied_config {
                    tracing::debug!("config file event, same content; nothing to reload");
                    continue;
                }
                applied_config = now;
                if let Some(new) = super::plugin_list(&ctx).await {
                    sections = new;
                    let now = interesting(&sections, config_file.as_ref());
                    if let Err(e) = watch_dirs(&w, &mut dirs, &now) {
                        tracing::warn!(error = %e, "cannot watch a new plugin folder; its changes need a reload");
                    }
                    *watched.write().unwrap_or_else(|e| e.into_inner()) = now;
                }
                continue; // the list reload already loaded what changed
            }
            for path in changed {
                let Some(section) = sections.iter().find(|s| same_file(&s.path, &path)).cloned()
                else {
                    continue;
                };
                super::plugin_file(&ctx, section).await;
            }
        }
    });
    Ok(Some(FileWatcher {
        _watcher: watcher,
        task,
    }))
}

/// A file's bytes, read off the runtime's threads; None when it cannot be read.
async fn read_file(path: Option<&PathBuf>) -> Option<Vec<u8>> {
    let path = path?.clone();
    tokio::task::spawn_blocking(move || std::fs::read(path).ok())
        .await
        .ok()
        .flatten()
}

/// Watches the folders of `files` not watched yet.
fn watch_dirs(
    watcher: &Mutex<notify::RecommendedWatcher>,
    dirs: &mut Vec<PathBuf>,
    files: &[PathBuf],
) -> notify::Result<()> {
    let mut w = watcher.lock().unwrap_or_else(|e| e.into_inner());
    for f in files {
        let Some(d) = f.parent().map(Path::to_path_buf) else {
            continue;
        };
        if !dirs.contains(&d) {
            w.watch(&d, RecursiveMode::NonRecursive)?;
            dirs.push(d);
        }
    }
    Ok(())
}
