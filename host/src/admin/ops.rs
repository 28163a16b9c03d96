//! The administrative operations, in one place for every way in (HTTP API, Unix socket, the
//! CLI on a stopped server).

use serde::{Deserialize, Serialize};

use super::bans::{self, Ban};
use crate::access::sessions::SessionView;
use crate::context::ServerContext;
use crate::state::KvStore;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    Sessions,
    Kick {
        id: u64,
        /// The node the session is on, in a cluster (absent: this node).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    KickAll,
    Bans,
    /// Lift the bans of one IP, or all (`ip` absent): "re-initialise BFP".
    Unban {
        ip: Option<String>,
    },
    Plugins,
    /// Reload every plugin from its file (also ends a quarantine).
    ReloadPlugins,
    ReloadUsers,
    /// What SIGHUP does: users, plugins, the config (for new sessions), certificates, and a
    /// report of config changes applied and of those that need a restart.
    Reload,
    Stats,
    Users,
    Groups,
    AddUser(crate::users::manage::NewUser),
    UpdateUser {
        name: String,
        change: crate::users::manage::UserUpdate,
    },
    DeleteUser {
        name: String,
    },
    AddGroup(crate::users::manage::NewGroup),
    DeleteGroup {
        name: String,
        #[serde(default)]
        force: bool,
    },
    /// The server-wide IP lists: the config's and the managed ones.
    Access,
    /// Add `pattern` to a managed list, or remove it from one or both.
    ListIp {
        change: crate::access::managed::Change,
        pattern: String,
    },
    /// A plugin's stored state: list, read, delete.
    Kv(super::plugin_state::KvRequest),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginView {
    pub name: String,
    pub path: String,
    pub hash: String,
    pub loaded_at_ms: u64,
    pub hooks: Vec<String>,
    pub calls: u64,
    pub faults: u64,
    pub quarantined: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub version: String,
    pub uptime_secs: u64,
    pub connections: usize,
    pub logged_in: usize,
    pub sessions_total: u64,
    pub logins_ok: u64,
    pub logins_failed: u64,
    pub transfers_ok: u64,
    pub transfers_failed: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub plugins: usize,
    pub bans: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    Sessions(Vec<SessionView>),
    Kicked(usize),
    Bans(Vec<Ban>),
    Lifted(usize),
    Plugins(Vec<PluginView>),
    /// What a reload did, one line per item.
    Reloaded(Vec<String>),
    Stats(Stats),
    Users(Vec<super::manage_ops::UserView>),
    Groups(Vec<super::manage_ops::GroupView>),
    Access(super::manage_ops::AccessView),
    Done(super::manage_ops::Done),
    KvEntries(Vec<super::plugin_state::KvEntry>),
    KvDeleted(usize),
    /// A refused request, with the HTTP status that says why (404 unknown, 409 conflict,
    /// 400 invalid); over HTTP the body is `{"error": ...}` like any error.
    Failed {
        status: u16,
        error: String,
    },
    Error(String),
}

impl Response {
    /// The HTTP status an answer maps to.
    pub fn status(&self) -> u16 {
        match self {
            Response::Error(e) if e.starts_with("no session") => 404,
            Response::Error(e) if e.contains("is not an IP address") => 400,
            Response::Error(_) => 500,
            Response::Failed { status, .. } => *status,
            _ => 200,
        }
    }
}

/// Bans operations on a store whose plugin namespaces are `plugins` (works without a server).
pub fn handle(store: &dyn KvStore, plugins: &[String], req: Request) -> Response {
    let now = crate::state::now_ms();
    let result = match req {
        Request::Bans => bans::list(store, plugins, now).map(Response::Bans),
        Request::Unban { ip } => {
            if let Some(ip) = &ip
                && ip.parse::<std::net::IpAddr>().is_err()
            {
                return Response::Error(format!("'{ip}' is not an IP address"));
            }
            bans::lift(store, plugins, ip.as_deref(), now).map(|n| {
                tracing::info!(
                    ip = ip.as_deref().unwrap_or("all"),
                    lifted = n,
                    "bans lifted by the operator"
                );
                Response::Lifted(n)
            })
        }
        Request::Kv(kv) => {
            return match super::plugin_state::handle(store, plugins, kv, now) {
                Ok(super::plugin_state::KvAnswer::Entries(e)) => Response::KvEntries(e),
                Ok(super::plugin_state::KvAnswer::Deleted(n)) => Response::KvDeleted(n),
                Err(e) => Response::Failed {
                    status: e.status(),
                    error: e.to_string(),
                },
            };
        }
        _ => return Response::Error("the server is not running".into()),
    };
    result.unwrap_or_else(|e| Response::Error(e.to_string()))
}

/// Plugin namespaces that may hold state: configured and loaded plugins.
pub fn plugin_names(ctx: &ServerContext) -> Vec<String> {
    let mut names: Vec<String> = ctx.config.plugins.iter().map(|p| p.name.clone()).collect();
    for p in ctx.plugins.list().iter() {
        if !names.contains(&p.name) {
            names.push(p.name.clone());
        }
    }
    names
}

const KICKED: &str = "disconnected by the administrator";

/// Every operation, on the running server.
pub async fn handle_live(ctx: &std::sync::Arc<ServerContext>, req: Request) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    match req {
        Request::Sessions => match &ctx.cluster {
            Some(node) => Response::Sessions(super::cluster_ops::sessions(ctx, node).await),
            None => Response::Sessions(ctx.sessions.list()),
        },
        Request::Kick {
            id,
            node: Some(name),
        } if ctx.cluster.as_ref().is_some_and(|n| n.name != name) => {
            let node = ctx.cluster.as_ref().expect("checked");
            match super::cluster_ops::kick(node, id, &name, KICKED).await {
                Ok(()) => {
                    tracing::info!(session = id, node = %name, "session on another node disconnected by the administrator");
                    Response::Kicked(1)
                }
                Err(e) => Response::Failed {
                    status: e.status(),
                    error: e.to_string(),
                },
            }
        }
        Request::Kick { id, node } => {
            if node.is_some() && ctx.cluster.is_none() {
                return Response::Failed {
                    status: 400,
                    error: "this server is not in a cluster ([state] backend is not shared); kick without a node".into(),
                };
            }
            if ctx.sessions.kick(id, KICKED) {
                tracing::info!(session = id, "session disconnected by the administrator");
                Response::Kicked(1)
            } else if let Some(node) = ctx.cluster.as_ref().filter(|_| node.is_none()) {
                let elsewhere = super::cluster_ops::holders(node, id).await;
                let hint = match elsewhere.first() {
                    Some(other) => format!(": it is on node '{other}'; add --node {other}"),
                    None => String::new(),
                };
                Response::Error(format!(
                    "no session {id} on this node ('{}'){hint}",
                    node.name
                ))
            } else {
                Response::Error(format!("no session {id}"))
            }
        }
        Request::KickAll => {
            let mut n = ctx.sessions.kick_all(KICKED);
            if let Some(node) = &ctx.cluster {
                let (others, failed) = super::cluster_ops::kick_all_others(node, KICKED).await;
                n += others;
                if let Some(e) = failed.first() {
                    tracing::warn!(sessions = n, error = %e, "all sessions disconnected except on nodes that did not answer");
                    return Response::Failed {
                        status: e.status(),
                        error: format!("{n} session(s) disconnected, but: {e}"),
                    };
                }
            }
            tracing::info!(
                sessions = n,
                "all sessions disconnected by the administrator"
            );
            Response::Kicked(n)
        }
        Request::Bans | Request::Unban { .. } | Request::Kv(_) => {
            let (kv, names) = (ctx.plugins.kv.clone(), plugin_names(ctx));
            tokio::task::spawn_blocking(move || handle(kv.as_ref(), &names, req))
                .await
                .unwrap_or_else(|e| Response::Error(e.to_string()))
        }
        Request::Plugins => Response::Plugins(
            ctx.plugins
                .list()
                .iter()
                .map(|p| {
                    let mut hooks: Vec<String> =
                        p.hooks.iter().map(|h| h.name().to_string()).collect();
                    hooks.sort();
                    PluginView {
                        name: p.name.clone(),
                        path: p.path.display().to_string(),
                        hash: p.hash.clone(),
                        loaded_at_ms: p
                            .loaded_at
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis() as u64)
                            .unwrap_or(0),
                        hooks,
                        calls: p.calls.load(Relaxed),
                        faults: p.fault_count.load(Relaxed),
                        quarantined: p.is_quarantined(),
                    }
                })
                .collect(),
        ),
        Request::ReloadPlugins => Response::Reloaded(crate::reconfigure::plugins(ctx).await),
        Request::ReloadUsers => match crate::reconfigure::users(ctx).await {
            Ok(line) => Response::Reloaded(vec![line]),
            Err(e) => Response::Error(e),
        },
        Request::Reload => Response::Reloaded(crate::reconfigure::everything(ctx).await),
        Request::Stats => {
            let m = &ctx.metrics;
            let bans = match handle_live_bans(ctx).await {
                Response::Bans(b) => b.len(),
                _ => 0,
            };
            Response::Stats(Stats {
                version: env!("CARGO_PKG_VERSION").into(),
                uptime_secs: ctx.started.elapsed().as_secs(),
                connections: ctx.limits.current(),
                logged_in: ctx.sessions.count(),
                sessions_total: m.sessions_total.load(Relaxed),
                logins_ok: m.logins_ok.load(Relaxed),
                logins_failed: m.logins_failed.load(Relaxed),
                transfers_ok: m.transfers_ok.load(Relaxed),
                transfers_failed: m.transfers_failed.load(Relaxed),
                bytes_received: m.bytes_in.load(Relaxed),
                bytes_sent: m.bytes_out.load(Relaxed),
                plugins: ctx.plugins.list().len(),
                bans,
            })
        }
        Request::Users => match super::manage_ops::read_users(ctx).await {
            Ok(u) => Response::Users(super::manage_ops::user_views(&u)),
            Err(r) => r,
        },
        Request::Groups => match super::manage_ops::read_users(ctx).await {
            Ok(u) => Response::Groups(super::manage_ops::group_views(&u)),
            Err(r) => r,
        },
        Request::AddUser(new) => super::manage_ops::add_user(ctx, new).await,
        Request::UpdateUser { name, change } => {
            super::manage_ops::update_user(ctx, name, change).await
        }
        Request::DeleteUser { name } => super::manage_ops::delete_user(ctx, name).await,
        Request::AddGroup(new) => super::manage_ops::add_group(ctx, new).await,
        Request::DeleteGroup { name, force } => {
            super::manage_ops::delete_group(ctx, name, force).await
        }
        Request::Access => super::manage_ops::access(ctx),
        Request::ListIp { change, pattern } => {
            super::manage_ops::change_access(ctx, change, &pattern)
        }
    }
}

async fn handle_live_bans(ctx: &std::sync::Arc<ServerContext>) -> Response {
    Box::pin(handle_live(ctx, Request::Bans)).await
}

/// The metrics text, with the gauges read now.
pub async fn metrics(ctx: &std::sync::Arc<ServerContext>) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let bans = match handle_live_bans(ctx).await {
        Response::Bans(b) => b.len(),
        _ => 0,
    };
    let plugins: Vec<(String, u64, u64, bool)> = ctx
        .plugins
        .list()
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.calls.load(Relaxed),
                p.fault_count.load(Relaxed),
                p.is_quarantined(),
            )
        })
        .collect();
    let loaded = ctx.plugins.list();
    let defined: Vec<(String, &crate::plugins::plugin_metrics::PluginMetrics)> = loaded
        .iter()
        .map(|p| (p.name.clone(), p.metrics.as_ref()))
        .collect();
    let mut text = ctx.metrics.render(
        ctx.limits.current(),
        bans,
        &plugins,
        ctx.tls.load().not_after,
    );
    text.push_str(&crate::plugins::plugin_metrics::render(&defined));
    text
}
