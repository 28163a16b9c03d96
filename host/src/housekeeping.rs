//! Start-up housekeeping: temporaries of interrupted uploads removed, quota usage scanned.

use std::sync::Arc;

use crate::context::ServerContext;
use crate::users::UsersFile;

/// Removes atomic-upload temporaries a killed server left in any configured mount.
pub async fn clean_upload_leftovers(users: &UsersFile) {
    let mut dirs: Vec<std::path::PathBuf> = users
        .users
        .iter()
        .filter_map(|u| users.mounts_of(u).ok())
        .flatten()
        .filter(|m| m.object.is_none())
        .map(|m| m.real)
        .collect();
    dirs.extend(
        users
            .anonymous_mounts()
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.real),
    );
    dirs.sort();
    dirs.dedup();
    let removed = tokio::task::spawn_blocking(move || {
        dirs.iter()
            .map(|d| crate::fs::upload::clean_temporaries(d))
            .sum::<usize>()
    })
    .await
    .unwrap_or(0);
    if removed > 0 {
        tracing::info!(
            removed,
            "removed leftover temporary files of interrupted uploads"
        );
    }
}

/// Computes quota usage of every mount with a quota at start (bounded scans, off the runtime),
/// so the first login of a user does not wait for it.
pub fn scan_quotas_in_background(ctx: Arc<ServerContext>) {
    tokio::task::spawn_blocking(move || {
        let users = ctx.auth.users();
        for u in &users.users {
            for m in users.mounts_of(u).unwrap_or_default() {
                if let Some(limit) = m.quota_bytes
                    && let Ok(storage) = ctx.open_storage(&m)
                    && let Err(e) = ctx.quota_of(&m, &storage, limit)
                {
                    tracing::warn!(mount = %m.real.display(), error = %e, "quota usage not measured; tried again at the next login");
                }
            }
        }
    });
}
