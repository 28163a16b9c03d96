//! Users, groups and IP lists managed through the admin API, `ftpsd admin` and the web page:
//! the same changes as the `ftpsd user|group` commands (`users::manage`), then an immediate
//! reload so the answer comes after the change is in force.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ops::Response;
use crate::access::IpRules;
use crate::access::managed::{self, Change, List, Outcome};
use crate::context::ServerContext;
use crate::users::UsersFile;
use crate::users::manage::{self, ManageError, NewGroup, NewUser, UserUpdate};

/// A user as the console shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub disabled: bool,
    pub groups: Vec<String>,
    pub mounts: Vec<MountView>,
    pub max_sessions: u32,
    pub download_kib_s: u64,
    pub upload_kib_s: u64,
    pub ratio: Option<String>,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    /// What the user shares: `/path with a, @g (r)`.
    pub shares: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountView {
    pub at: String,
    pub path: String,
    pub rights: String,
    pub quota_mb: Option<u64>,
    /// The group a user's mount comes from (changed with the group, not the user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupView {
    pub name: String,
    pub members: Vec<String>,
    pub mounts: Vec<MountView>,
    pub download_kib_s: u64,
    pub upload_kib_s: u64,
}

/// The config's lists (changed by editing the config) and the managed ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessView {
    pub config: IpRules,
    pub managed: IpRules,
}

/// Done: what changed, and a generated password (shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

fn strings<T: Serialize>(v: &[T]) -> Vec<String> {
    v.iter()
        .filter_map(|x| serde_json::to_value(x).ok())
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

pub fn user_views(users: &UsersFile) -> Vec<UserView> {
    users
        .users
        .iter()
        .map(|u| UserView {
            name: u.name.clone(),
            disabled: u.disabled,
            groups: u.groups.clone(),
            mounts: users
                .mounts_of(u)
                .unwrap_or_default()
                .into_iter()
                .map(|m| {
                    let at = m
                        .name
                        .map(|n| format!("/{n}"))
                        .unwrap_or_else(|| "/".into());
                    let own =
                        (at == "/" && u.home.is_some()) || u.mounts.iter().any(|x| x.at == at);
                    let group = (!own)
                        .then(|| {
                            u.groups.iter().find(|g| {
                                users
                                    .groups
                                    .iter()
                                    .any(|x| x.name == **g && x.mounts.iter().any(|gm| gm.at == at))
                            })
                        })
                        .flatten()
                        .cloned();
                    MountView {
                        at,
                        path: m.real.display().to_string(),
                        rights: m.rights.as_str().into(),
                        quota_mb: m.quota_bytes.map(|b| b / (1024 * 1024)),
                        group,
                    }
                })
                .collect(),
            max_sessions: u.max_sessions,
            download_kib_s: u.download_kib_s,
            upload_kib_s: u.upload_kib_s,
            ratio: u.ratio.clone(),
            allow: strings(&u.allow),
            deny: strings(&u.deny),
            shares: u
                .shares
                .iter()
                .map(|s| {
                    format!(
                        "{} with {} ({})",
                        s.path,
                        s.with.join(", "),
                        s.rights.as_str()
                    )
                })
                .collect(),
        })
        .collect()
}

pub fn group_views(users: &UsersFile) -> Vec<GroupView> {
    users
        .groups
        .iter()
        .map(|g| GroupView {
            name: g.name.clone(),
            members: users
                .users
                .iter()
                .filter(|u| u.groups.contains(&g.name))
                .map(|u| u.name.clone())
                .collect(),
            mounts: g
                .mounts
                .iter()
                .map(|m| MountView {
                    at: m.at.clone(),
                    path: users.resolve_path(&m.path).display().to_string(),
                    rights: m.rights.as_str().into(),
                    quota_mb: m.quota_mb,
                    group: None,
                })
                .collect(),
            download_kib_s: g.download_kib_s,
            upload_kib_s: g.upload_kib_s,
        })
        .collect()
}

fn failed(e: ManageError) -> Response {
    Response::Failed {
        status: e.status(),
        error: e.to_string(),
    }
}

/// The users file as the server reads it now.
pub async fn read_users(ctx: &Arc<ServerContext>) -> Result<UsersFile, Response> {
    let path = ctx.config.users_file();
    tokio::task::spawn_blocking(move || UsersFile::load(&path))
        .await
        .map_err(|e| Response::Error(e.to_string()))?
        .map_err(|e| Response::Error(e.to_string()))
}

/// One change to the users file, then the reload that puts it in force.
pub async fn edit_users(
    ctx: &Arc<ServerContext>,
    change: impl FnOnce(&mut UsersFile) -> Result<Done, ManageError> + Send + 'static,
) -> Response {
    let path = ctx.config.users_file();
    let done = tokio::task::spawn_blocking(move || manage::edit(&path, change)).await;
    match done {
        Ok(Ok(done)) => {
            tracing::info!(change = %done.message, "users changed by the administrator");
            if let Err(e) = crate::reconfigure::users(ctx).await {
                return Response::Error(e);
            }
            Response::Done(done)
        }
        Ok(Err(e)) => failed(e),
        Err(e) => Response::Error(e.to_string()),
    }
}

pub async fn add_user(ctx: &Arc<ServerContext>, new: NewUser) -> Response {
    edit_users(ctx, move |users| {
        let added = manage::add_user(users, &new)?;
        // Folders are made before the save commits the user; an unmakeable one refuses it.
        manage::create_folders(&added.folders)?;
        Ok(Done {
            message: format!(
                "user '{}' added (home {})",
                new.name,
                added.folders[0].display()
            ),
            password: added.generated_password,
        })
    })
    .await
}

pub async fn update_user(ctx: &Arc<ServerContext>, name: String, up: UserUpdate) -> Response {
    edit_users(ctx, move |users| {
        let mut said = manage::update_user(users, &name, &up)?;
        let created = manage::create_missing(&manage::new_mount_folders(users, &up)?)?;
        if !created.is_empty() {
            said.push(format!("created folder {}", created.join(", ")));
        }
        Ok(Done {
            message: format!("user '{name}': {}", said.join(", ")),
            password: None,
        })
    })
    .await
}

pub async fn delete_user(ctx: &Arc<ServerContext>, name: String) -> Response {
    edit_users(ctx, move |users| {
        manage::delete_user(users, &name)?;
        Ok(Done {
            message: format!("user '{name}' deleted (files kept)"),
            password: None,
        })
    })
    .await
}

pub async fn add_group(ctx: &Arc<ServerContext>, new: NewGroup) -> Response {
    edit_users(ctx, move |users| {
        manage::add_group(users, &new)?;
        Ok(Done {
            message: format!("group '{}' added", new.name),
            password: None,
        })
    })
    .await
}

pub async fn delete_group(ctx: &Arc<ServerContext>, name: String, force: bool) -> Response {
    edit_users(ctx, move |users| {
        let members = manage::delete_group(users, &name, force)?;
        let message = if members.is_empty() {
            format!("group '{name}' deleted")
        } else {
            format!("group '{name}' deleted; taken out: {}", members.join(", "))
        };
        Ok(Done {
            message,
            password: None,
        })
    })
    .await
}

pub fn access(ctx: &ServerContext) -> Response {
    Response::Access(AccessView {
        config: ctx.live.load().access.rules(),
        managed: ctx
            .managed_access
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    })
}

/// Adds a pattern to a managed list (taking it off the other), or removes it from one or both;
/// saved before it is in force. Sessions from a newly denied address are ended.
pub fn change_access(ctx: &ServerContext, change: Change, pattern: &str) -> Response {
    let pattern = match pattern.parse::<crate::access::IpPattern>() {
        Ok(p) => p,
        Err(e) => {
            return Response::Failed {
                status: 400,
                error: format!("'{pattern}': {e}"),
            };
        }
    };
    let mut guard = ctx.managed_access.lock().unwrap_or_else(|e| e.into_inner());
    let mut next = guard.clone();
    let outcome = match managed::change(&mut next, change, &pattern) {
        Ok(c) => c,
        Err(e) => {
            return Response::Failed {
                status: 400,
                error: e,
            };
        }
    };
    let p = strings(std::slice::from_ref(&pattern)).join("");
    let name = List::as_str;
    let moved_from = match outcome {
        Outcome::Changed { moved_from } => moved_from,
        Outcome::Unchanged => {
            let (status, error) = match change {
                Change::Add(l) => (409, format!("{p} is already on the {} list", name(l))),
                Change::Remove(Some(l)) => {
                    (404, format!("{p} is not on the managed {} list", name(l)))
                }
                Change::Remove(None) => (404, format!("{p} is not in the managed lists")),
            };
            return Response::Failed { status, error };
        }
    };
    if let Err(e) = managed::save(&managed::path(&ctx.config.data_dir()), &next) {
        return Response::Error(e.to_string());
    }
    let rules = managed::combined(&ctx.live.load().access.rules(), &next);
    *guard = next;
    drop(guard);
    let mut ended = 0;
    for s in ctx.sessions.list() {
        if let Ok(ip) = s.ip.parse()
            && !rules.admits(ip)
            && ctx
                .sessions
                .kick(s.id, "your address is no longer admitted")
        {
            ended += 1;
        }
    }
    ctx.ip_rules.store(Arc::new(rules));
    let mut message = match change {
        Change::Add(List::Allow) => format!("{p} allowed"),
        Change::Add(List::Deny) => format!("{p} denied"),
        Change::Remove(Some(l)) => format!("{p} removed from the {} list", name(l)),
        Change::Remove(None) => format!("{p} removed from the managed lists"),
    };
    if let Some(l) = moved_from {
        message.push_str(&format!(" (taken off the {} list)", name(l)));
    }
    if ended > 0 {
        message.push_str(&format!(
            "; {ended} session(s) from addresses no longer admitted ended"
        ));
    }
    tracing::info!(change = %message, "IP lists changed by the administrator");
    Response::Done(Done {
        message,
        password: None,
    })
}
