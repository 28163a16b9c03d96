//! `ftpsd user mod`: change an existing user without editing the users file by hand — groups,
//! the root's rights and quota, session limit, ratio, enabled or disabled. The whole file is
//! validated before it is written (atomically), so an unknown group or a bad ratio changes
//! nothing; a running server picks the change up from the file.

use anyhow::bail;
use ftpsd::data::bandwidth::describe;
use ftpsd::fs::Rights;
use ftpsd::users::UsersFileError;
use ftpsd::users::file::{MountEntry, UploadMode, UserEntry};

use super::config_arg::ConfigArg;
use super::user::{save_checked, users_file};

#[derive(clap::Args)]
pub struct ModArgs {
    name: String,
    /// Join a group (inherit its mounts); repeatable.
    #[arg(long = "group")]
    join: Vec<String>,
    /// Leave a group; repeatable.
    #[arg(long = "no-group")]
    leave: Vec<String>,
    /// Rights on the root "/": r, w, rw or a.
    #[arg(long, value_parser = |s: &str| Rights::parse(s).ok_or_else(|| format!("'{s}' is not one of r, w, rw, a")))]
    rights: Option<Rights>,
    /// Quota of the root "/" in MB (0 = no quota).
    #[arg(long)]
    quota_mb: Option<u64>,
    /// Simultaneous sessions (0 = unlimited).
    #[arg(long)]
    max_sessions: Option<u32>,
    /// Download limit in KiB/s shared by all of the user's sessions (0 = none).
    #[arg(long, value_parser = super::group::parse_kib_s)]
    download_kib_s: Option<u64>,
    /// Upload limit in KiB/s shared by all of the user's sessions (0 = none).
    #[arg(long, value_parser = super::group::parse_kib_s)]
    upload_kib_s: Option<u64>,
    /// Upload:download ratio such as 1:3, or "none".
    #[arg(long)]
    ratio: Option<String>,
    /// Refuse the user's logins (and end their sessions on a running server).
    #[arg(long, conflicts_with = "enable")]
    disable: bool,
    /// Accept the user's logins again.
    #[arg(long)]
    enable: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// The root mount of `u`, turning the `home` shorthand into a mount when a field it cannot
/// carry (a quota) is set.
fn root_mount(u: &mut UserEntry) -> Option<&mut MountEntry> {
    if let Some(home) = u.home.take() {
        u.mounts.insert(
            0,
            MountEntry {
                path: home,
                at: "/".into(),
                rights: u.rights.take().unwrap_or(Rights::Read),
                quota_mb: None,
                mode: UploadMode::Atomic,
            },
        );
    }
    u.mounts.iter_mut().find(|m| m.at == "/")
}

pub fn run(a: ModArgs) -> anyhow::Result<()> {
    let mut users = users_file(&a.config)?;
    let u = users
        .find_mut(&a.name)
        .ok_or_else(|| UsersFileError::NoSuchUser(a.name.clone()))?;
    let mut said = Vec::new();
    for g in &a.join {
        if u.groups.iter().any(|x| x == g) {
            said.push(format!("already in group {g}"));
        } else {
            u.groups.push(g.clone());
            said.push(format!("joined group {g}"));
        }
    }
    for g in &a.leave {
        let before = u.groups.len();
        u.groups.retain(|x| x != g);
        if u.groups.len() == before {
            bail!(
                "'{}' is not in group '{g}' (groups: {})",
                a.name,
                or_none(&u.groups)
            );
        }
        said.push(format!("left group {g}"));
    }
    if a.rights.is_some() || a.quota_mb.is_some() {
        let Some(root) = root_mount(u) else {
            bail!(
                "'{}' has no mount at \"/\" of their own (their root comes from a group); change the group instead",
                a.name
            );
        };
        if let Some(r) = a.rights {
            root.rights = r;
            said.push(format!("rights on / {}", r.as_str()));
        }
        if let Some(q) = a.quota_mb {
            root.quota_mb = (q > 0).then_some(q);
            said.push(if q > 0 {
                format!("quota on / {q} MB")
            } else {
                "no quota on /".into()
            });
        }
    }
    if let Some(n) = a.max_sessions {
        u.max_sessions = n;
        said.push(format!("max sessions {n}"));
    }
    if let Some(n) = a.download_kib_s {
        u.download_kib_s = n;
        said.push(format!("download limit {}", describe(n)));
    }
    if let Some(n) = a.upload_kib_s {
        u.upload_kib_s = n;
        said.push(format!("upload limit {}", describe(n)));
    }
    if let Some(r) = &a.ratio {
        ftpsd::users::file::check_ratio(r).map_err(|e| anyhow::anyhow!("--ratio: {e}"))?;
        u.ratio = Some(r.clone());
        said.push(format!("ratio {r}"));
    }
    if a.disable || a.enable {
        u.disabled = a.disable;
        said.push(if a.disable { "disabled" } else { "enabled" }.into());
    }
    if said.is_empty() {
        bail!(
            "nothing to change: give --group, --no-group, --rights, --quota-mb, --max-sessions, --download-kib-s, --upload-kib-s, --ratio, --disable or --enable"
        );
    }
    save_checked(&users)?;
    println!("user '{}': {}", a.name, said.join(", "));
    Ok(())
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
