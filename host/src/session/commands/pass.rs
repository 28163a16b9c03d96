use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::session::{Session, authenticate, login};
use crate::users::{Authenticator, LoginError};

pub async fn handle(s: &mut Session, pass: String) -> Handled {
    if s.login.is_some() {
        return s.reply(Code::LOGGED_IN, "Already logged in.").await;
    }
    let Some(name) = s.ftp.pending_user.take() else {
        return Err(Refusal::new(Code::BAD_SEQUENCE, "Send USER first."));
    };
    let ctx = s.ctx.clone();
    if Authenticator::is_anonymous_name(&name)
        && let Some(account) = ctx.auth.login_anonymous(&name)
    {
        // Any password; by custom an e-mail address, logged for the operator.
        tracing::info!(peer = %s.link.peer, ident = %pass.chars().filter(|c| !c.is_control()).take(64).collect::<String>(), "anonymous login");
        return login::complete(s, account, None).await;
    }
    if let Some(known) = authenticate::asks(s, &name)
        && let Some(handled) = authenticate::by_plugin(s, &name, &pass, known).await
    {
        return handled;
    }
    match ctx.auth.login(&name, &pass, s.link.peer.ip()).await {
        Ok(checked) => {
            let proof = login::Proof {
                pass,
                from_cache: checked.from_cache,
            };
            login::complete(s, checked.account, Some(proof)).await
        }
        Err(e @ (LoginError::Throttled(_) | LoginError::Busy)) => {
            // Nothing was checked: no failure to count, no plugin to tell. The session ends
            // (421), so a client cannot keep a connection queuing checks.
            if let Some(left_out) =
                crate::access::refusal_log::admit(s.link.peer.ip(), "login not checked")
            {
                tracing::info!(user = ?name, peer = %s.link.peer, reason = %e, left_out, "login not checked");
            }
            s.ctx.metrics.login_refused_unchecked();
            s.quit = true;
            Err(Refusal::new(e.code(), e.to_string()))
        }
        Err(e) => {
            tracing::info!(user = ?name, peer = %s.link.peer, "login failed");
            s.ctx.metrics.login(false);
            // Plugins learn about the failure (brute-force protection); it stays a failure,
            // with their refusal when they give one (as a right password would get).
            if let Some((code, text)) = s.login_hook(&name, false, false, &[]).await {
                s.quit |= code == Code::SERVICE_CLOSING;
                return Err(Refusal::new(code, text));
            }
            Err(Refusal::new(Code::NOT_LOGGED_IN, e.to_string()))
        }
    }
}
