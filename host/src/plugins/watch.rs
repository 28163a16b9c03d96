//! Hot swap: watch the plugin files; on a close-after-write or rename-into event wait for quiet,
//! compile off the async runtime, check ABI and settings, then swap atomically. A truncated or
//! half-written file fails to compile and never replaces a working plugin; a removed file
//! unloads the plugin. Every outcome is logged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{PluginHost, PluginSection, load_section};

const QUIET: Duration = Duration::from_millis(50);

pub struct PluginWatcher {
    _watcher: notify::RecommendedWatcher,
    _task: tokio::task::JoinHandle<()>,
}

impl Drop for PluginWatcher {
    fn drop(&mut self) {
        self._task.abort();
    }
}

/// What the last reload attempt of each plugin did (for tests and the admin interface).
pub type ReloadLog = Arc<std::sync::Mutex<Vec<(String, Result<String, String>)>>>;

pub fn watch(
    host: Arc<PluginHost>,
    sections: Vec<PluginSection>,
    base: PathBuf,
    log: ReloadLog,
) -> notify::Result<Option<PluginWatcher>> {
    if sections.is_empty() {
        return Ok(None);
    }
    let paths: HashMap<PathBuf, PluginSection> = sections
        .into_iter()
        .map(|s| {
            (
                if s.path.is_absolute() {
                    s.path.clone()
                } else {
                    base.join(&s.path)
                },
                s,
            )
        })
        .collect();
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let watched: Vec<PathBuf> = paths.keys().cloned().collect();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        let relevant = matches!(
            ev.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Create(_)
                | EventKind::Remove(_)
        );
        if relevant {
            for p in ev.paths {
                if watched
                    .iter()
                    .any(|w| w.file_name() == p.file_name() && w.parent() == p.parent())
                {
                    let _ = tx.send(p);
                }
            }
        }
    })?;
    let mut dirs: Vec<PathBuf> = paths
        .keys()
        .filter_map(|p| p.parent().map(|d| d.to_path_buf()))
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        watcher.watch(d, RecursiveMode::NonRecursive)?;
    }
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut changed = vec![first];
            while let Ok(Some(p)) = tokio::time::timeout(QUIET, rx.recv()).await {
                changed.push(p);
            }
            changed.sort();
            changed.dedup();
            for path in changed {
                let Some(section) = paths.get(&path).cloned() else {
                    continue;
                };
                reload_one(&host, section, path, &base, &log).await;
            }
        }
    });
    Ok(Some(PluginWatcher {
        _watcher: watcher,
        _task: task,
    }))
}

async fn reload_one(
    host: &Arc<PluginHost>,
    section: PluginSection,
    path: PathBuf,
    base: &std::path::Path,
    log: &ReloadLog,
) {
    let name = section.name.clone();
    if !path.exists() {
        host.remove(&name);
        tracing::warn!(plugin = %name, file = %path.display(), "plugin file removed; plugin unloaded");
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, Ok("unloaded".into())));
        return;
    }
    let kv = host.kv.clone();
    let base = base.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || load_section(&section, &base, kv)).await;
    match loaded {
        Ok(Ok(p)) => {
            let hash = p.hash.clone();
            host.swap_in(p);
            tracing::info!(plugin = %name, %hash, "plugin reloaded");
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((name, Ok(hash)));
        }
        Ok(Err(e)) => {
            tracing::error!(plugin = %name, error = %e, "new plugin version rejected; the old version stays");
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((name, Err(e.to_string())));
        }
        Err(e) => {
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((name, Err(e.to_string())));
        }
    }
}
