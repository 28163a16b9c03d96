//! Turning an authenticated account into a session's view, and keeping it current: the VFS is
//! built at login and rebuilt when the users file changes (the next command sees new rights).

use std::io;
use std::sync::Arc;

use super::refusal::{Handled, Refusal};
use super::state::{LoggedIn, Session};
use crate::context::ServerContext;
use crate::fs::{Mount, Vfs, VirtualPath};
use crate::protocol::{Code, Reply};
use crate::users::auth::Account;

/// Opens the sandboxes and quotas of an account's mounts (blocking work off the runtime).
/// A missing root is an error; a missing extra mount is skipped with a warning.
pub async fn build_vfs(ctx: &Arc<ServerContext>, account: &Account) -> Result<Vfs, String> {
    let ctx = ctx.clone();
    let account = account.clone();
    tokio::task::spawn_blocking(move || {
        // Exactly sized: every session holds its view for its whole life.
        let mut mounts = Vec::with_capacity(account.mounts.len() + account.shares.len());
        for (i, m) in account.mounts.iter().enumerate() {
            let storage = match ctx.open_storage(m) {
                Ok(s) => s,
                Err(e) if i == 0 => return Err(format!("home {} is not usable: {e}", m.real.display())),
                Err(e) => {
                    tracing::warn!(user = %account.name, dir = %m.real.display(), error = %e, "mount skipped");
                    continue;
                }
            };
            // Absolute and canonical: what plugins and their programs get as a file's real
            // path, whatever the server's working directory.
            let real = match &m.object {
                Some(_) => m.real.clone(),
                None => std::fs::canonicalize(&m.real).unwrap_or_else(|_| m.real.clone()),
            };
            let quota = match m.quota_bytes.map(|limit| ctx.quota_of(m, &storage, limit)).transpose() {
                Ok(q) => q,
                Err(e) if i == 0 => return Err(format!("home {} is not usable: {e}", m.real.display())),
                Err(e) => {
                    tracing::warn!(user = %account.name, dir = %m.real.display(), error = %e, "mount skipped: its quota usage could not be measured");
                    continue;
                }
            };
            let at = match &m.name {
                Some(name) => VirtualPath::root().join(name),
                None => VirtualPath::root(),
            };
            mounts.push(Mount { at, real, storage, rights: m.rights, quota, mode: m.mode, origin: None });
        }
        for share in &account.shares {
            let (sandbox, origin) = match ctx.share_dirs.open(&share.mount_real, &share.inside) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(user = %account.name, owner = %share.owner, folder = %share.path, error = %e, "share skipped");
                    continue;
                }
            };
            let joined = share.mount_real.join(share.inside.relative());
            let real = std::fs::canonicalize(&joined).unwrap_or(joined);
            let mut at = VirtualPath::root().join(&crate::fs::vfs::share_folder(&share.owner));
            for c in share.path.components() {
                at = at.join(c);
            }
            // The owner's quota on the owner's mount: what a user writes into a share counts
            // against the owner, as the owner's own uploads there do.
            let quota = share.quota_bytes.map(|limit| ctx.quotas.get(&share.mount_real, limit));
            mounts.push(Mount {
                at,
                real,
                storage: crate::fs::Storage::Local(sandbox),
                rights: share.rights,
                quota,
                mode: share.mode,
                origin: Some(origin),
            });
        }
        mounts.shrink_to_fit();
        Ok(Vfs { mounts, show_mounts: account.show_mounts, message: ctx.message.clone() })
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The password a login was accepted with, kept until the login completes: refusing it must
/// cost what refusing a wrong one costs.
pub struct Proof {
    pub pass: String,
    pub from_cache: bool,
}

/// Completes a login whose password (`proof`) or anonymity was accepted: per-user IP rules,
/// plugins, session limits, the view. Replies 230, or 530 (421) as a wrong password would.
pub async fn complete(s: &mut Session, account: Account, proof: Option<Proof>) -> Handled {
    let refusal = if !account.ip_rules.admits(s.link.peer.ip()) {
        tracing::info!(user = %account.name, peer = %s.link.peer, "login refused by the user's IP rules");
        Some((
            Code::NOT_LOGGED_IN,
            crate::users::LoginError::Incorrect.to_string(),
        ))
    } else {
        // A plugin may refuse a correct password (e.g. a banned address), never accept a
        // wrong one.
        s.login_hook(&account.name, true, account.anonymous, &account.groups)
            .await
    };
    if let Some((code, text)) = refusal {
        // Same cost, delay and reply as a wrong password: a ban is no password oracle.
        let e = match &proof {
            Some(p) => {
                s.ctx
                    .auth
                    .refuse(&account.name, &p.pass, s.link.peer.ip(), p.from_cache)
                    .await
            }
            None => {
                tokio::time::sleep(s.ctx.auth.failure_delay()).await;
                crate::users::LoginError::Incorrect
            }
        };
        if e != crate::users::LoginError::Incorrect {
            // The check a wrong password would have had was not made: the same 421.
            s.quit = true;
            return Err(Refusal::new(e.code(), e.to_string()));
        }
        s.quit |= code == Code::SERVICE_CLOSING;
        return Err(Refusal::new(code, text));
    }
    drop(proof);
    let mut guard = match s.ctx.sessions.register(
        s.link.id,
        &account.name,
        s.link.peer.ip(),
        account.max_sessions,
        s.cfg.access.no_double_login,
    ) {
        Ok(g) => g,
        Err(e) => return Err(Refusal::new(Code::NOT_LOGGED_IN, e.to_string())),
    };
    if let Some(cluster) = s.ctx.cluster_sessions.clone()
        && (account.max_sessions > 0 || s.cfg.access.no_double_login)
    {
        let (c, user, id, ip) = (
            cluster.clone(),
            account.name.clone(),
            s.link.id,
            s.link.peer.ip(),
        );
        let (max, double) = (account.max_sessions, s.cfg.access.no_double_login);
        let claimed =
            tokio::task::spawn_blocking(move || c.claim(&user, id, ip, max, double)).await;
        match claimed {
            Ok(Ok(())) => guard.hold_lease(cluster, &account.name),
            Ok(Err(crate::access::cluster_sessions::ClaimError::Limit(e))) => {
                return Err(Refusal::new(Code::NOT_LOGGED_IN, e.to_string()));
            }
            // The store is down: this node's own count decided (documented fallback). The
            // session still holds its place: the next renewal registers it once Redis is back.
            Ok(Err(e)) => {
                tracing::warn!(user = %account.name, error = %e, "cluster session limits unavailable; this node's count applies");
                guard.hold_lease(cluster, &account.name);
            }
            Err(e) => tracing::warn!(error = %e, "cluster session claim"),
        }
    }
    let generation = s.ctx.auth.generation();
    let vfs = match build_vfs(&s.ctx, &account).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(user = %account.name, error = %e, "login refused");
            return Err(Refusal::new(
                Code::NOT_LOGGED_IN,
                "Login refused: the home directory is not available; ask the administrator.",
            ));
        }
    };
    if s.tls.reuse == crate::tls::SessionReuse::User {
        // From now on this session's data connections may resume any TLS session this user
        // got from this address, and the others' may resume this one's.
        let shared = s.ctx.tls_scopes.for_user(&account.name, s.link.peer.ip());
        shared.adopt(&s.tls.scope);
        s.tls.scope.set_owner(Some(&account.name));
        s.tls.scope = shared;
    }
    tracing::info!(user = %account.name, peer = %s.link.peer, tls = s.link.control.is_tls(), anonymous = account.anonymous, "login");
    let text = if account.anonymous {
        "Anonymous login ok; access is restricted.".to_string()
    } else {
        format!("User {} logged in.", account.name)
    };
    s.login = Some(LoggedIn {
        account,
        vfs: Arc::new(vfs),
        cwd: VirtualPath::root(),
        guard,
        generation,
    });
    s.ctx.metrics.login(true);
    let mut lines = crate::config::greeting::lines(&s.cfg.server.login_message);
    lines.push(text);
    s.answer(Reply::multi(Code::LOGGED_IN, lines)).await
}

/// Before each command: if the users file changed, rebuild the account and view. Returns false
/// (after replying 421 and ending the session) when the account is gone or disabled.
pub async fn refresh(s: &mut Session) -> io::Result<bool> {
    let Some(l) = &s.login else { return Ok(true) };
    let generation = s.ctx.auth.generation();
    if l.generation == generation {
        return Ok(true);
    }
    if l.account.external.is_some() {
        // A plugin's account is not in the users file: the reload does not concern it.
        if let Some(l) = s.login.as_mut() {
            l.generation = generation;
        }
        return Ok(true);
    }
    let (name, anonymous) = (l.account.name.clone(), l.account.anonymous);
    let Some(account) = s.ctx.auth.current(&name, anonymous) else {
        s.quit = true;
        s.send(Reply::new(
            Code::SERVICE_CLOSING,
            "Your account was removed or disabled; closing the session.",
        ))
        .await?;
        return Ok(false);
    };
    match build_vfs(&s.ctx, &account).await {
        Ok(vfs) => {
            if let Some(l) = s.login.as_mut() {
                l.account = account;
                l.vfs = Arc::new(vfs);
                l.generation = generation;
            }
            Ok(true)
        }
        Err(e) => {
            s.quit = true;
            s.send(Reply::new(
                Code::SERVICE_CLOSING,
                format!("Your account cannot be used any more ({e}); closing the session."),
            ))
            .await?;
            Ok(false)
        }
    }
}
