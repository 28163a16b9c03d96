//! Swapping plugins in a running host: one plugin from its file, or the whole `[[plugins]]`
//! list from a changed config. A new version is compiled off the async runtime, its ABI and
//! settings checked, then swapped in atomically. A truncated or half-written file fails to
//! compile and never replaces a working plugin; a removed file leaves the loaded version in
//! force (`rm; cp` must never open a gap), as does a file that does not load. A changed list is
//! applied as a whole: new and changed sections load, unchanged ones stay as they are, removed
//! ones unload, the order follows the file; a config that does not parse changes nothing.
//! Every outcome is logged and recorded in the [`ReloadLog`]. What triggers a swap (SIGHUP,
//! the admin API, the file watchers) lives in `crate::reconfigure`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{Loaded, PluginHost, PluginSection};

/// The name under which config reloads appear in the [`ReloadLog`].
pub const CONFIG_ENTRY: &str = "[[plugins]] config";

/// What the last reload attempt of each plugin did (for tests and the admin interface).
pub type ReloadLog = Arc<Mutex<Vec<(String, Result<String, String>)>>>;

fn record(log: &ReloadLog, name: &str, r: Result<String, String>) {
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((name.to_string(), r));
}

/// Reloads one plugin from its file, with the settings in force: those of the loaded version
/// when there is one (a reload that waited for another must not put back what that one
/// replaced), else `section` (a configured plugin that never loaded).
pub async fn reload_one(host: &Arc<PluginHost>, section: PluginSection, log: &ReloadLog) {
    let _turn = host.reloading.lock().await;
    let section = host
        .list()
        .iter()
        .find(|p| p.name == section.name)
        .map(|p| p.section.clone())
        .unwrap_or(section);
    let name = section.name.clone();
    if !section.path.exists() {
        // A policy must not lapse while its file is being replaced (rm; cp) or by mistake:
        // the loaded version stays until a new file loads or the config drops the plugin.
        tracing::warn!(plugin = %name, file = %section.path.display(), "plugin file removed; the loaded version stays in force (remove the plugin from the config to unload it)");
        return record(
            log,
            &name,
            Err("file removed; the loaded version stays".into()),
        );
    }
    let h = host.clone();
    let loaded =
        tokio::task::spawn_blocking(move || h.load_keeping(&section, Path::new("/"))).await;
    match loaded {
        Ok(Ok(p)) => {
            let hash = p.hash.clone();
            super::warn_ungranted(&p);
            host.swap_in(p);
            tracing::info!(plugin = %name, %hash, "plugin reloaded");
            record(log, &name, Ok(hash));
        }
        Ok(Err(e)) => {
            tracing::error!(plugin = %name, error = %e, "new plugin version rejected; the old version stays");
            record(log, &name, Err(e.to_string()));
        }
        Err(e) => record(log, &name, Err(e.to_string())),
    }
}

/// Reloads one plugin whose file a watcher saw change, unless the file holds the build that
/// the last reload put in force from it: one deploy raises several events (a rename is seen as
/// both "moved to" and "moved from, to"), and each must not become a reload of its own. (After
/// `rm`, the same build copied back is a reload: the log said the file was gone.)
pub async fn reload_changed(host: &Arc<PluginHost>, section: PluginSection, log: &ReloadLog) {
    let loaded = host
        .list()
        .iter()
        .find(|p| p.name == section.name)
        .map(|p| p.hash.clone());
    let last_ok = log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .rev()
        .find(|(n, _)| *n == section.name)
        .and_then(|(_, r)| r.as_ref().ok().cloned());
    if let Some(loaded) = loaded.filter(|h| last_ok.as_ref() == Some(h)) {
        let path = section.path.clone();
        let now = tokio::task::spawn_blocking(move || std::fs::read(path).ok())
            .await
            .ok()
            .flatten()
            .map(|b| super::instance::module_hash(&b));
        if now.as_deref() == Some(loaded.as_str()) {
            tracing::debug!(plugin = %section.name, hash = %loaded, "plugin file event, same build; nothing to reload");
            return;
        }
    }
    reload_one(host, section, log).await
}

/// Applies a changed config file's `[[plugins]]` list: plugins whose section changed are
/// loaded anew, removed ones unloaded, the others kept. Returns the new sections (resolved),
/// or None if the file does not parse (nothing changes then).
pub async fn reload_config(
    host: &Arc<PluginHost>,
    path: &Path,
    log: &ReloadLog,
) -> Option<Vec<PluginSection>> {
    let _turn = host.reloading.lock().await;
    let p = path.to_path_buf();
    let parsed = tokio::task::spawn_blocking(move || crate::Config::load(&p))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let config = match parsed {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "config changed but is invalid; plugins unchanged");
            record(log, CONFIG_ENTRY, Err(e));
            return None;
        }
    };
    let mut names = std::collections::HashSet::new();
    if let Some(dup) = config
        .plugins
        .iter()
        .find(|s| !names.insert(s.name.clone()))
    {
        let e = super::PluginError::Duplicate(dup.name.clone()).to_string();
        tracing::error!(file = %path.display(), error = %e, "config changed but is invalid; plugins unchanged");
        record(log, CONFIG_ENTRY, Err(e));
        return None;
    }
    let sections: Vec<PluginSection> = config
        .plugins
        .iter()
        .map(|s| s.with_base(&config.base_dir))
        .collect();
    let current = host.list();
    let mut next: Vec<Arc<Loaded>> = Vec::new();
    let mut summary = Vec::new();
    for s in &sections {
        let old = current.iter().find(|p| p.name == s.name);
        if let Some(old) = old.filter(|p| p.section == *s) {
            next.push(old.clone());
            continue;
        }
        let (section, h) = (s.clone(), host.clone());
        let loaded =
            tokio::task::spawn_blocking(move || h.load_keeping(&section, Path::new("/"))).await;
        match loaded {
            Ok(Ok(p)) => {
                tracing::info!(plugin = %s.name, hash = %p.hash, "plugin (re)loaded from the changed config");
                super::warn_ungranted(&p);
                summary.push(format!("{} loaded", s.name));
                record(log, &s.name, Ok(p.hash.clone()));
                next.push(Arc::new(p));
            }
            Ok(Err(e)) => {
                tracing::error!(plugin = %s.name, error = %e, "plugin from the changed config rejected; the old version (if any) stays");
                record(log, &s.name, Err(e.to_string()));
                if let Some(old) = old {
                    next.push(old.clone());
                }
            }
            Err(e) => record(log, &s.name, Err(e.to_string())),
        }
    }
    for gone in current
        .iter()
        .filter(|p| !sections.iter().any(|s| s.name == p.name))
    {
        tracing::warn!(plugin = %gone.name, "plugin removed from the config; unloaded");
        summary.push(format!("{} unloaded", gone.name));
    }
    host.replace_all(next);
    record(log, CONFIG_ENTRY, Ok(summary.join(", ")));
    Some(sections)
}
