//! The config file read again and what can change while running put in force.

use crate::context::ServerContext;

/// Reads the config file again. When it is valid, what can change while running is put in
/// force for new sessions (banner, timeouts, limits, listener options, passive/active, listing,
/// access rules, TLS); what cannot (listen addresses, data dir, log, admin, ...) is reported
/// as needing a restart. A broken file changes nothing.
pub fn apply(ctx: &ServerContext) -> Vec<String> {
    let Some(path) = &ctx.config.source else {
        return Vec::new();
    };
    let newer = match crate::Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "config file rejected; the config in force stays");
            return vec![format!("error: config file rejected, nothing changed: {e}")];
        }
    };
    let mut lines = Vec::new();
    if let (Some(old), Some(new)) = (&ctx.live.load().values, &newer.values) {
        for change in crate::config::value_diff::changed_values(old, new) {
            tracing::info!(%change, "config value changed");
            lines.push(format!("config: {change}"));
        }
    }
    let applied = ctx.live.load().live_changes(&newer);
    for s in ctx.config.changes_needing_restart(&newer) {
        tracing::warn!(section = s, "config changed; restart to apply");
        lines.push(format!("config: {s} changed; restart to apply it"));
    }
    ctx.limits
        .set_maxima(newer.server.max_users, newer.server.max_connections_per_ip);
    ctx.ip_rules
        .store(std::sync::Arc::new(crate::access::managed::combined(
            &newer.access.rules(),
            &ctx.managed_access.lock().unwrap_or_else(|e| e.into_inner()),
        )));
    ctx.auth.set_failure_delay(std::time::Duration::from_millis(
        newer.server.login_failure_delay_ms,
    ));
    ctx.auth.set_limits(&newer.login);
    ctx.live.store(std::sync::Arc::new(newer));
    // The secret file and AWS_* variables are read again at the next S3 login.
    ctx.object_mounts.forget_settings();
    for s in applied {
        tracing::info!(section = s, "config change applied to new sessions");
        lines.push(format!("config: {s} applied to new sessions"));
    }
    lines
}
