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
    None
}
