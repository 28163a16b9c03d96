use std::io;
use std::sync::Arc;

use crate::fs::{Sandbox, VirtualPath};
use crate::session::{LoggedIn, Session};

pub async fn handle(s: &mut Session, pass: String) -> io::Result<()> {
    if s.login.is_some() {
        return s.reply(230, "Already logged in.").await;
    }
    let Some(name) = s.pending_user.take() else {
        return s.reply(503, "Send USER first.").await;
    };
    let ctx = s.ctx.clone();
    match ctx.auth.login(&name, &pass).await {
        Ok(account) => {
            let home = account.home.clone();
            let sandbox = tokio::task::spawn_blocking(move || Sandbox::open(&home)).await;
            match sandbox {
                Ok(Ok(sandbox)) => {
                    tracing::info!(user = %account.name, peer = %s.peer, tls = s.control.is_tls(), "login");
                    let name = account.name.clone();
                    s.login = Some(LoggedIn {
                        account,
                        sandbox: Arc::new(sandbox),
                        cwd: VirtualPath::root(),
                    });
                    s.reply(230, format!("User {name} logged in.")).await
                }
                Ok(Err(e)) => {
                    tracing::error!(user = %account.name, home = %account.home.display(), error = %e, "home directory unusable");
                    s.reply(530, "Login refused: the home directory is not available; ask the administrator.").await
                }
                Err(_) => s.reply(451, "Local error during login.").await,
            }
        }
        Err(e) => {
            tracing::info!(user = %name, peer = %s.peer, "login failed");
            s.reply(530, e.to_string()).await
        }
    }
}
