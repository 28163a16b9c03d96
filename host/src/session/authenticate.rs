//! Logins an `authenticate` plugin decides (ABI 2, `auth` capability): for users the users
//! file does not know, or for every user when the operator granted `users = "all"`. The
//! check costs the address a token of its login bucket like a password check; a refusal is
//! recorded and delayed like a wrong password, with the same reply; the account the plugin
//! returns is held to the operator's grant before any folder is opened.

use std::time::Instant;

use ftpsd_plugin_sdk::AuthenticateEvent;

use super::login::{self, Proof};
use super::refusal::{Handled, Refusal};
use super::state::Session;
use crate::plugins::{AuthAnswer, Decision};
use crate::protocol::Code;
use crate::users::LoginError;
use crate::users::external::{self, Grant};

/// Whether plugins are asked about this login at all.
pub fn asks(s: &Session, name: &str) -> Option<bool> {
    if crate::users::Authenticator::is_anonymous_name(name) {
        return None;
    }
    // A name the users file could not hold (control characters, '/', too long) is nobody's.
    if crate::users::file_checks::validate_name(name).is_err() {
        return None;
    }
    let users = s.ctx.auth.users();
    let entry = users.find(name);
    // A disabled user stays disabled whoever vouches: the users file refuses the login.
    if entry.is_some_and(|u| u.disabled) {
        return None;
    }
    let known = entry.is_some();
    s.ctx.plugins.authenticates(known).then_some(known)
}

/// Asks the plugins; None when none had an answer (the users file decides).
pub async fn by_plugin(s: &mut Session, name: &str, pass: &str, known: bool) -> Option<Handled> {
    let ctx = s.ctx.clone();
    let ip = s.link.peer.ip();
    if let Err(t) = ctx.auth.throttle.try_check(ip, Instant::now()) {
        s.ctx.metrics.login_refused_unchecked();
        s.quit = true;
        let e = LoginError::Throttled(t.retry_after_secs);
        return Some(Err(Refusal::new(e.code(), e.to_string())));
    }
    let Ok(_deciding) = ctx.plugin_logins.try_acquire() else {
        s.ctx.metrics.login_refused_unchecked();
        return Some(Err(Refusal::new(
            Code::SERVICE_CLOSING,
            "Too many logins are being checked; try again later.",
        )));
    };
    let ev = AuthenticateEvent {
        ip: ip.to_string(),
        user: name.to_string(),
        password: pass.to_string(),
        known,
        session: s.link.id,
        tls: s.link.control.tls_info(),
    };
    let (plugin, vouched) = match ctx.plugins.authenticate(ev).await {
        AuthAnswer::NoAnswer => return None,
        AuthAnswer::Refused(Decision::Deny { code, message, by }) => {
            tracing::info!(plugin = %by, user = ?name, peer = %s.link.peer, "login refused by authenticate plugin");
            return Some(refuse(s, name, (code == Code::SERVICE_CLOSING).then_some(message)).await);
        }
        AuthAnswer::Refused(Decision::Allow) => return None,
        AuthAnswer::Accepted { plugin, account } => (plugin, account),
    };
    let Some(grant) = plugin.section.capabilities.auth.clone() else {
        return None;
    };
    let (user, users, plugin_name) = (name.to_string(), ctx.auth.users(), plugin.name.clone());
    let account = tokio::task::spawn_blocking(move || {
        let g = Grant {
            roots: &grant.roots,
            create_folders: grant.create_folders,
        };
        external::account_of(&plugin_name, &user, &vouched, &g, &users)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match account {
        Ok(mut account) => {
            // For a user the file has (`users = "all"`), the file's address rules still hold.
            if let Some(entry) = ctx.auth.users().find(name) {
                account.ip_rules = entry.ip_rules();
            }
            let proof = Proof {
                pass: pass.to_string(),
                from_cache: false,
            };
            Some(login::complete(s, account, Some(proof)).await)
        }
        Err(e) => {
            tracing::warn!(plugin = %plugin.name, user = ?name, error = %e, "account from authenticate plugin refused: outside its grant or malformed");
            Some(refuse(s, name, None).await)
        }
    }
}

/// A refused login, as a wrong password is refused: the failure counts against the address,
/// the same delay, plugins hear of it. `unavailable` keeps a failed plugin's 421 — the
/// directory could not say, so no password was judged: the delay still applies, but it is
/// not a failed login (an outage must not get every retrying client banned by bfp).
async fn refuse(s: &mut Session, name: &str, unavailable: Option<String>) -> Handled {
    let ctx = s.ctx.clone();
    if unavailable.is_none() {
        ctx.auth
            .throttle
            .record_failure(s.link.peer.ip(), Instant::now());
    }
    tokio::time::sleep(ctx.auth.failure_delay()).await;
    ctx.metrics.login(false);
    if unavailable.is_none()
        && let Some((code, text)) = s.login_hook(name, false, false, &[]).await
    {
        s.quit |= code == Code::SERVICE_CLOSING;
        return Err(Refusal::new(code, text));
    }
    match unavailable {
        Some(message) => Err(Refusal::new(Code::SERVICE_CLOSING, message)),
        None => Err(Refusal::new(
            Code::NOT_LOGGED_IN,
            LoginError::Incorrect.to_string(),
        )),
    }
}
