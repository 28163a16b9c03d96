//! The users file put in force: loaded off the async runtime, swapped when valid. A broken
//! file is rejected with its line and column and the previous users stay in force; sessions of
//! users that were deleted or disabled are ended, other sessions pick up changes at their next
//! command.

use std::path::Path;

use crate::context::ServerContext;
use crate::users::UsersFile;

/// Loads the users file and, if valid, puts it in force. Returns the error text on rejection.
pub async fn reload(ctx: &ServerContext, path: &Path) -> Option<String> {
    let p = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || {
        let text = UsersFile::read_text(&p)?;
        UsersFile::parse(&text, &p).map(|u| (u, text))
    })
    .await;
    let (users, text) = match loaded {
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
    let before = ctx.auth.users();
    ctx.auth.replace(users);
    *ctx.users_reload_error
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = None;
    for user in ctx.sessions.logged_in_users() {
        let anonymous = crate::users::Authenticator::is_anonymous_name(&user);
        // Only accounts the file had: a user an authenticate plugin logged in never was.
        let had = anonymous || before.find(&user).is_some();
        if had && ctx.auth.current(&user, anonymous).is_none() {
            let n = ctx.sessions.end_user(&user, "account deleted or disabled");
            tracing::info!(%user, sessions = n, "ending sessions of a removed account");
        }
    }
    tracing::info!(users = count, "users file reloaded");
    if ctx.config.state.share_users
        && let Some(node) = ctx.cluster.clone()
    {
        publish(node, text, path).await;
    }
    None
}

/// Publishes the users file just put in force as the cluster's, unless it is the one the
/// cluster has (taken from it) or this node is not in step with the cluster yet.
async fn publish(node: std::sync::Arc<crate::cluster::Node>, text: String, path: &Path) {
    use crate::cluster::users_doc;
    let sha = users_doc::digest(&text);
    {
        let mut in_force = node
            .users_in_force
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match in_force.as_ref() {
            None => return,
            Some(s) if *s == sha => return,
            Some(_) => *in_force = Some(sha),
        }
    }
    let (n, path) = (node.clone(), path.to_path_buf());
    match tokio::task::spawn_blocking(move || users_doc::publish_change(&n, &text, &path)).await {
        Ok(Ok(Some(doc))) => {
            tracing::info!(
                version = doc.version,
                "cluster: users file published to every node"
            )
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => {
            node.users_unpublished
                .store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(error = %e, "cluster: the changed users file could not be published yet; other nodes keep the previous one until the store answers")
        }
        Err(e) => tracing::error!(error = %e, "cluster: users file publication failed"),
    }
}
