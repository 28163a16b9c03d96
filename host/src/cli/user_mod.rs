//! `ftpsd user mod`: change an existing user without editing the users file by hand — groups,
//! the root's rights and quota, session limit, ratio, enabled or disabled. The whole file is
//! validated before it is written (atomically), so an unknown group or a bad ratio changes
//! nothing; a running server picks the change up from the file.

use ftpsd::fs::Rights;
use ftpsd::users::manage::{self, ManageError, UserUpdate};

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
    /// Add or replace a mount `DIR:/name:RIGHTS[:QUOTA_MB]`; repeatable.
    #[arg(long)]
    mount: Vec<String>,
    /// Take away the user's own mount at `/name` (or `/`); repeatable.
    #[arg(long)]
    unmount: Vec<String>,
    /// Refuse the user's logins (and end their sessions on a running server).
    #[arg(long, conflicts_with = "enable")]
    disable: bool,
    /// Accept the user's logins again.
    #[arg(long)]
    enable: bool,
    #[command(flatten)]
    config: ConfigArg,
}

pub fn run(a: ModArgs) -> anyhow::Result<()> {
    let mut users = users_file(&a.config)?;
    let up = UserUpdate {
        join: a.join,
        leave: a.leave,
        rights: a.rights,
        quota_mb: a.quota_mb,
        max_sessions: a.max_sessions,
        download_kib_s: a.download_kib_s,
        upload_kib_s: a.upload_kib_s,
        ratio: a.ratio,
        disabled: (a.disable || a.enable).then_some(a.disable),
        mount: a.mount,
        unmount: a.unmount,
        ..Default::default()
    };
    let said = manage::update_user(&mut users, &a.name, &up).map_err(|e| match e {
        ManageError::Invalid(m) if m.starts_with("nothing to change") => anyhow::anyhow!(
            "nothing to change: give --group, --no-group, --rights, --quota-mb, --max-sessions, --download-kib-s, --upload-kib-s, --ratio, --mount, --unmount, --disable or --enable"
        ),
        ManageError::Invalid(m) if m.starts_with("ratio:") => anyhow::anyhow!("--{m}"),
        e => e.into(),
    })?;
    let created = manage::create_missing(&manage::new_mount_folders(&users, &up)?)?;
    save_checked(&users)?;
    let mut said = said;
    if !created.is_empty() {
        said.push(format!("created folder {}", created.join(", ")));
    }
    println!("user '{}': {}", a.name, said.join(", "));
    Ok(())
}
