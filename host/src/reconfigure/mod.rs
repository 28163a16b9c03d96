//! Reconfiguring the running server, in one place: the config (what can change while
//! running), the certificates, the users file and the plugins. SIGHUP and `ftpsd admin reload`
//! call [`everything`], the admin API's narrower operations call [`users`] and [`plugins`],
//! and the file watchers ([`watch`]) call [`users`], [`plugin_file`] and [`plugin_list`] for
//! the file that changed. Every outcome is one line for the operator (and one log line).

pub mod certificates;
pub mod config;
pub mod users;
pub mod watch;

use std::sync::Arc;

use crate::context::ServerContext;
use crate::plugins::PluginSection;
use crate::plugins::swap::{self, CONFIG_ENTRY};

/// Everything, in the order that keeps each step's inputs current: the config's `[[plugins]]`
/// first (new settings, added and removed plugins, as the config watcher would), the users
/// file, every plugin from its file, then the rest of the config (it may name other
/// certificate files or a new minimum TLS version), then the certificates.
///
/// A config file that does not parse is reported once, and neither its `[[plugins]]` nor the
/// rest of it is looked at again; the users file, plugin files and certificates still reload.
pub async fn everything(ctx: &Arc<ServerContext>) -> Vec<String> {
    let mut lines = Vec::new();
    let config_error = match ctx.config.source.clone() {
        Some(path) => tokio::task::spawn_blocking(move || crate::Config::load(&path).err())
            .await
            .unwrap_or(None),
        None => None,
    };
    if let Some(e) = &config_error {
        tracing::error!(error = %e, "config file rejected; the config in force stays");
        lines.push(format!("error: config file rejected, nothing changed: {e}"));
    }
    if ctx.config.source.is_some() && config_error.is_none() {
        let before = reload_count(ctx);
        plugin_list(ctx).await;
        for (n, r) in &reloads_since(ctx, before) {
            match r {
                Ok(summary) if n == CONFIG_ENTRY && !summary.is_empty() => {
                    lines.push(format!("[[plugins]]: {summary}"))
                }
                Ok(_) => {}
                Err(e) if n == CONFIG_ENTRY => lines.push(format!(
                    "error: [[plugins]] not applied, nothing changed: {e}"
                )),
                // A plugin whose new file or settings were refused keeps its old version.
                Err(e) => lines.push(format!(
                    "error: {n}: the new settings were refused, the old ones stay: {e}"
                )),
            }
        }
    }
    match users(ctx).await {
        Ok(l) => lines.push(l),
        Err(e) => lines.push(format!("error: {e}")),
    }
    lines.extend(plugins(ctx).await);
    if config_error.is_none() {
        lines.extend(config::apply(ctx));
    }
    lines.push(certificates::reload(ctx));
    lines
}

/// The users file; the error says why it was rejected (the previous users stay).
pub async fn users(ctx: &ServerContext) -> Result<String, String> {
    let path = ctx.config.users_file();
    match users::reload(ctx, &path).await {
        None => Ok(format!("users: {} reloaded", path.display())),
        Some(e) => Err(format!("users file rejected, the previous users stay: {e}")),
    }
}

/// Every loaded plugin from its file, one line each.
pub async fn plugins(ctx: &ServerContext) -> Vec<String> {
    let before = reload_count(ctx);
    for p in ctx.plugins.list().iter() {
        swap::reload_one(&ctx.plugins, p.section.clone(), &ctx.plugin_reloads).await;
    }
    reloads_since(ctx, before)
        .iter()
        .map(|(n, r)| match r {
            Ok(h) => format!("{n}: {h}"),
            Err(e) => format!("{n}: kept the old version: {e}"),
        })
        .collect()
}

/// One plugin from its file (its file changed; the same build again is no reload).
pub async fn plugin_file(ctx: &ServerContext, section: PluginSection) {
    swap::reload_changed(&ctx.plugins, section, &ctx.plugin_reloads).await;
}

/// The config's `[[plugins]]` list; the new sections when the file parsed.
pub async fn plugin_list(ctx: &ServerContext) -> Option<Vec<PluginSection>> {
    let path = ctx.config.source.as_ref()?;
    swap::reload_config(&ctx.plugins, path, &ctx.plugin_reloads).await
}

/// How many plugin reload attempts are recorded so far.
fn reload_count(ctx: &ServerContext) -> usize {
    ctx.plugin_reloads.lock().map(|l| l.len()).unwrap_or(0)
}

/// The plugin reload attempts recorded after the first `before`.
fn reloads_since(ctx: &ServerContext, before: usize) -> Vec<(String, Result<String, String>)> {
    ctx.plugin_reloads
        .lock()
        .map(|l| l.iter().skip(before).cloned().collect())
        .unwrap_or_default()
}
