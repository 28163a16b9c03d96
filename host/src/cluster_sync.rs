//! Keeps this node in step with its cluster when the state store is shared: publishes this
//! node's session list when a session starts or ends (and every few seconds, for transfer
//! progress), carries out the kick orders other nodes queue for it, and with
//! `[state] share_users` takes the cluster's users file when another node changed it. One
//! task, one store call at a time; a store outage only delays all of it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cluster::{Node, blocking, board, kicks, users_doc};
use crate::context::ServerContext;
use crate::state::StoreError;

/// How often the queue and the users file are looked at.
pub const POLL: Duration = Duration::from_millis(500);
/// The session list is republished at least this often (progress of transfers).
pub const REFRESH: Duration = Duration::from_secs(5);
/// And at most this often, however busy logins are.
const MIN_GAP: Duration = Duration::from_millis(250);
/// After a login is published, once more this much later (its TLS and first command).
const SETTLE: Duration = Duration::from_secs(1);

const KICKED: &str = "disconnected by the administrator";

/// Runs until the server shuts down; then takes this node off the cluster's listing.
pub async fn run(ctx: Arc<ServerContext>, node: Arc<Node>) {
    let mut shutdown = ctx.shutdown.subscribe();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let share_users = ctx.config.state.share_users;
    let mut users = UsersStep::default();
    let mut last_publish: Option<Instant> = None;
    // One more publication a moment after a login: the session's TLS and first command.
    let mut settle: Option<Instant> = None;
    let mut dirty = true;
    let mut healthy = true;
    let mut named_twice = false;
    let started_ms = crate::state::now_ms();
    // Boards of this name are an earlier run of this node (restarted before they lapsed).
    let n = node.clone();
    if let Ok(boards) = blocking(move || board::others(&n)).await {
        for (id, b) in boards.into_iter().filter(|(_, b)| b.name == node.name) {
            tracing::info!(node = %b.name, "cluster: an earlier run's session list removed");
            let n = node.clone();
            let _ = blocking(move || board::remove(&n, &id)).await;
        }
    }
    loop {
        tokio::select! {
            _ = ctx.sessions.changed.notified() => dirty = true,
            _ = tick.tick() => {}
            r = shutdown.changed() => if r.is_err() { break },
        }
        if *shutdown.borrow() {
            break;
        }
        let since = last_publish.map(|t| t.elapsed());
        let refresh = since.is_none_or(|s| s >= REFRESH);
        let settled = settle.is_some_and(|t| Instant::now() >= t);
        let due = refresh || settled || (dirty && since.is_none_or(|s| s >= MIN_GAP));
        let mut result: Result<(), StoreError> = Ok(());
        if due {
            let (n, list) = (node.clone(), views(&ctx, &node));
            result = blocking(move || board::publish(&n, list)).await;
            if result.is_ok() {
                settle = dirty.then(|| Instant::now() + SETTLE);
                dirty = false;
                last_publish = Some(Instant::now());
            }
        }
        if result.is_ok() && refresh && !named_twice {
            let n = node.clone();
            if let Ok(boards) = blocking(move || board::others(&n)).await
                && boards
                    .iter()
                    .any(|(_, b)| b.name == node.name && b.at_ms > started_ms)
            {
                named_twice = true;
                tracing::error!(node = %node.name, "cluster: another running node has this node's name; give each node its own [state] node (kicks reach only the newest)");
            }
        }
        if result.is_ok() {
            result = carry_out_kicks(&ctx, &node).await.map(|ended| {
                dirty |= ended > 0;
            });
        }
        if result.is_ok() && share_users {
            result = users.step(&ctx, &node).await;
        }
        match (&result, healthy) {
            (Err(e), true) => {
                tracing::warn!(error = %e, "cluster: keeping in step failed; the session list, kicks and users sync wait");
            }
            (Ok(()), false) => tracing::info!("cluster: in step again"),
            _ => {}
        }
        healthy = result.is_ok();
    }
    let n = node.clone();
    if let Err(e) = blocking(move || board::withdraw(&n)).await {
        tracing::debug!(error = %e, "cluster: could not withdraw this node's session list");
    }
}

/// This node's sessions as the cluster lists them.
pub fn views(ctx: &ServerContext, node: &Node) -> Vec<crate::access::sessions::SessionView> {
    let mut list = ctx.sessions.list();
    for s in &mut list {
        s.node = Some(node.name.clone());
    }
    list
}

/// Ends the sessions other nodes asked this one to end; returns how many ended.
async fn carry_out_kicks(ctx: &ServerContext, node: &Arc<Node>) -> Result<usize, StoreError> {
    let n = node.clone();
    let orders = blocking(move || kicks::take(&n)).await?;
    let mut total = 0;
    for o in orders {
        let ended = match o.session {
            Some(id) => usize::from(ctx.sessions.kick(id, KICKED)),
            None => ctx.sessions.kick_all(KICKED),
        };
        tracing::info!(session = ?o.session, ended, "session(s) disconnected by the administrator on another node");
        total += ended;
        let n = node.clone();
        blocking(move || kicks::answer(&n, &o.order, ended)).await?;
    }
    Ok(total)
}

/// Where this node stands with the cluster's users file.
#[derive(Default)]
struct UsersStep {
    /// The first look is done (this node's file published, or the cluster's taken).
    started: bool,
    /// A published file this node refused (invalid): not tried again until it changes.
    refused: Option<String>,
}

impl UsersStep {
    async fn step(&mut self, ctx: &ServerContext, node: &Arc<Node>) -> Result<(), StoreError> {
        let path = ctx.config.users_file();
        if !self.started {
            let n = node.clone();
            let doc = blocking(move || users_doc::current(&n)).await?;
            let local = read_text(&path).await?;
            let local_sha = users_doc::digest(&local);
            let doc = match doc {
                Some(d) => Some(d),
                None => {
                    let (n, text) = (node.clone(), local.clone());
                    blocking(move || users_doc::publish_first(&n, &text)).await?
                }
            };
            match doc {
                None => {
                    tracing::info!("cluster: this node's users file is the cluster's first");
                    set_base(node, 1, local);
                    set_in_force(node, local_sha);
                }
                Some(d) if d.sha256 == local_sha => {
                    set_base(node, d.version, d.text);
                    set_in_force(node, local_sha);
                }
                Some(d) => self.take(ctx, node, d, &path, true).await,
            }
            self.started = true;
            return Ok(());
        }
        if node
            .users_unpublished
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            if let Ok(local) = read_text(&path).await {
                let (n, sha, p) = (node.clone(), users_doc::digest(&local), path.clone());
                let published = blocking(move || users_doc::publish_change(&n, &local, &p)).await;
                if let Err(e) = published {
                    node.users_unpublished
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    return Err(e);
                }
                set_in_force(node, sha);
                return Ok(());
            }
        }
        let in_force = node
            .users_in_force
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // The small key first: the text only when it changed.
        let n = node.clone();
        let known = blocking(move || users_doc::current_sha(&n)).await?;
        if known.is_some() && (known == in_force || known == self.refused) {
            return Ok(());
        }
        let n = node.clone();
        let doc = blocking(move || users_doc::current(&n)).await?;
        if let Some(d) = &doc
            && known.as_ref() != Some(&d.sha256)
        {
            let (n, sha) = (node.clone(), d.sha256.clone());
            blocking(move || users_doc::mark(&n, &sha)).await?;
        }
        match doc {
            Some(d)
                if Some(&d.sha256) != in_force.as_ref()
                    && Some(&d.sha256) != self.refused.as_ref() =>
            {
                self.take(ctx, node, d, &path, false).await;
            }
            None => {
                // Lost (a Redis without persistence restarted): this node's file again.
                if let Ok(local) = read_text(&path).await {
                    let (n, p) = (node.clone(), path.clone());
                    blocking(move || users_doc::publish_change(&n, &local, &p)).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes the cluster's users file over this node's (validated first: an invalid one
    /// changes nothing) and reloads it. `first`: this node's own file is kept beside it.
    async fn take(
        &mut self,
        ctx: &ServerContext,
        node: &Arc<Node>,
        doc: users_doc::UsersDoc,
        path: &Path,
        first: bool,
    ) {
        let (p, text) = (path.to_path_buf(), doc.text.clone());
        let written = tokio::task::spawn_blocking(move || write_users(&p, &text, first))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        if let Err(e) = written {
            tracing::error!(version = doc.version, from = %doc.from, error = %e, "cluster: the shared users file is refused; this node keeps its users");
            self.refused = Some(doc.sha256);
            return;
        }
        set_base(node, doc.version, doc.text.clone());
        set_in_force(node, doc.sha256.clone());
        match crate::reconfigure::users(ctx).await {
            Ok(_) => {
                tracing::info!(version = doc.version, from = %doc.from, "cluster: users file taken from the cluster")
            }
            Err(e) => tracing::error!(error = %e, "cluster: the shared users file did not load"),
        }
    }
}

fn set_base(node: &Node, version: u64, text: String) {
    *node.users_base.lock().unwrap_or_else(|e| e.into_inner()) = Some((version, text));
}

fn set_in_force(node: &Node, sha: String) {
    *node
        .users_in_force
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(sha);
}

/// The users file's text (off the runtime); a missing file is empty (as at first start).
async fn read_text(path: &Path) -> Result<String, StoreError> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || crate::users::UsersFile::read_text(&p))
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .map_err(|e| StoreError::Backend(e.to_string()))
}

/// Replaces the users file with `text` under the edit lock (validated first: an invalid one
/// changes nothing). `keep_own`: the file it replaces is kept beside it.
fn write_users(path: &Path, text: &str, keep_own: bool) -> Result<(), String> {
    let _lock = crate::users::edit_lock::EditLock::acquire(path).map_err(|e| e.to_string())?;
    crate::users::UsersFile::parse(text, path).map_err(|e| e.to_string())?;
    if keep_own && path.exists() {
        let mut kept = path.as_os_str().to_os_string();
        kept.push(".before-cluster");
        std::fs::copy(path, &kept).map_err(|e| format!("{}: {e}", path.display()))?;
        tracing::warn!(kept = %Path::new(&kept).display(), "cluster: this node's own users file differed from the cluster's; it is kept beside");
    }
    crate::users::file::write_text(path, text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_invalid_shared_users_file_changes_nothing_and_a_good_one_keeps_the_own_beside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        std::fs::write(&path, "# own\n").unwrap();
        let err = super::write_users(&path, "[[user]]\nname = ", true).unwrap_err();
        assert!(err.contains("users.toml:2:"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# own\n");
        assert!(!dir.path().join("users.toml.before-cluster").exists());
        super::write_users(&path, "# cluster's\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# cluster's\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("users.toml.before-cluster")).unwrap(),
            "# own\n"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
