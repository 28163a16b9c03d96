//! `ftpsd admin users|user-add|user-mod|user-del|groups|group-add|group-del|access|allow|deny|
//! unlist`: users, groups and the server-wide IP lists of a running server, through its admin
//! socket or `--url` (the same operations as the API and the web page), and their printing.

use ftpsd::admin::manage_ops::{AccessView, GroupView, UserView};
use ftpsd::admin::ops::Request;
use ftpsd::fs::Rights;
use ftpsd::users::manage::{NewGroup, NewUser, UserUpdate};

fn rights(s: &str) -> Result<Rights, String> {
    Rights::parse(s).ok_or_else(|| format!("'{s}' is not one of r, w, rw, a"))
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Users with state, groups and mounts.
    Users,
    /// Add a user; without --password-stdin a password is generated and printed once.
    UserAdd {
        name: String,
        /// Root folder (created); relative to the users file's folder.
        #[arg(long)]
        home: std::path::PathBuf,
        #[arg(long, default_value = "r", value_parser = rights)]
        rights: Rights,
        #[arg(long)]
        quota_mb: Option<u64>,
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user: rights and quota of the root, groups, limits, password, IP lists,
    /// disabled.
    UserMod {
        name: String,
        #[arg(long, value_parser = rights)]
        rights: Option<Rights>,
        /// 0 removes the quota.
        #[arg(long)]
        quota_mb: Option<u64>,
        #[arg(long = "group")]
        join: Vec<String>,
        #[arg(long = "no-group")]
        leave: Vec<String>,
        #[arg(long)]
        max_sessions: Option<u32>,
        #[arg(long)]
        download_kib_s: Option<u64>,
        #[arg(long)]
        upload_kib_s: Option<u64>,
        #[arg(long)]
        ratio: Option<String>,
        /// Replace the user's IP allow list (comma-separated; "" empties it).
        #[arg(long)]
        allow: Option<String>,
        /// Replace the user's IP deny list (comma-separated; "" empties it).
        #[arg(long)]
        deny: Option<String>,
        /// Set the password read from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Add or replace a mount `DIR:/name:RIGHTS[:QUOTA_MB]`; repeatable.
        #[arg(long)]
        mount: Vec<String>,
        /// Take away the user's own mount at `/name` (or `/`); repeatable.
        #[arg(long)]
        unmount: Vec<String>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Delete a user (files kept; their sessions end).
    UserDel { name: String },
    /// Groups with members and mounts.
    Groups,
    /// Add a group with mounts `DIR:/name:RIGHTS[:QUOTA_MB]`.
    GroupAdd {
        name: String,
        #[arg(long = "mount")]
        mounts: Vec<String>,
        #[arg(long, default_value_t = 0)]
        download_kib_s: u64,
        #[arg(long, default_value_t = 0)]
        upload_kib_s: u64,
    },
    /// Delete a group (refused while it has members, unless --force takes them out).
    GroupDel {
        name: String,
        #[arg(long)]
        force: bool,
    },
    /// The server-wide IP allow/deny lists: the config's and the managed ones.
    Access,
    /// Admit only listed addresses (exact, wildcard 10.0.*, CIDR) from now on.
    Allow { pattern: String },
    /// Refuse an address pattern from now on; its sessions end.
    Deny { pattern: String },
    /// Take a pattern off the managed lists.
    Unlist {
        pattern: String,
        /// Only from this list (allow or deny); default both.
        #[arg(long, value_parser = |s: &str| s.parse::<ftpsd::access::managed::List>())]
        list: Option<ftpsd::access::managed::List>,
    },
}

fn list(s: &Option<String>) -> Option<Vec<String>> {
    s.as_ref().map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    })
}

/// The password from the first line of stdin (the same reading as `ftpsd user add`).
fn stdin_password() -> anyhow::Result<String> {
    Ok(super::user::obtain_password(true)?.0)
}

pub fn request(cmd: Command) -> anyhow::Result<Request> {
    use ftpsd::access::managed::{Change, List};
    Ok(match cmd {
        Command::Users => Request::Users,
        Command::UserAdd {
            name,
            home,
            rights,
            quota_mb,
            groups,
            password_stdin,
        } => Request::AddUser(NewUser {
            name,
            password: if password_stdin {
                Some(stdin_password()?)
            } else {
                None
            },
            home,
            rights,
            quota_mb,
            groups,
        }),
        Command::UserMod {
            name,
            rights,
            quota_mb,
            join,
            leave,
            max_sessions,
            download_kib_s,
            upload_kib_s,
            ratio,
            allow,
            deny,
            password_stdin,
            mount,
            unmount,
            disable,
            enable,
        } => Request::UpdateUser {
            change: UserUpdate {
                join,
                leave,
                rights,
                quota_mb,
                max_sessions,
                download_kib_s,
                upload_kib_s,
                ratio,
                disabled: (disable || enable).then_some(disable),
                password: if password_stdin {
                    Some(stdin_password()?)
                } else {
                    None
                },
                allow: list(&allow),
                deny: list(&deny),
                mount,
                unmount,
            },
            name,
        },
        Command::UserDel { name } => Request::DeleteUser { name },
        Command::Groups => Request::Groups,
        Command::GroupAdd {
            name,
            mounts,
            download_kib_s,
            upload_kib_s,
        } => Request::AddGroup(NewGroup {
            name,
            mounts,
            download_kib_s,
            upload_kib_s,
        }),
        Command::GroupDel { name, force } => Request::DeleteGroup { name, force },
        Command::Access => Request::Access,
        Command::Allow { pattern } => Request::ListIp {
            change: Change::Add(List::Allow),
            pattern,
        },
        Command::Deny { pattern } => Request::ListIp {
            change: Change::Add(List::Deny),
            pattern,
        },
        Command::Unlist { pattern, list } => Request::ListIp {
            change: Change::Remove(list),
            pattern,
        },
    })
}

fn mounts(m: &[ftpsd::admin::manage_ops::MountView]) -> String {
    m.iter()
        .map(|m| {
            let q = m.quota_mb.map(|q| format!(",{q}MB")).unwrap_or_default();
            format!("{}={}({}{q})", m.at, m.path, m.rights)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn print_users(users: &[UserView]) {
    println!("{:<20} {:<9} {:<16} MOUNTS", "NAME", "STATE", "GROUPS");
    for u in users {
        let state = if u.disabled { "disabled" } else { "active" };
        println!(
            "{:<20} {:<9} {:<16} {}",
            super::log_text::printable(&u.name),
            state,
            u.groups.join(","),
            mounts(&u.mounts)
        );
    }
}

pub fn print_groups(groups: &[GroupView]) {
    println!("{:<16} {:<24} MOUNTS", "NAME", "MEMBERS");
    for g in groups {
        println!(
            "{:<16} {:<24} {}",
            g.name,
            g.members.join(","),
            mounts(&g.mounts)
        );
    }
}

pub fn print_access(a: &AccessView) {
    let show = |v: &[ftpsd::access::IpPattern]| {
        let s: Vec<String> = v
            .iter()
            .filter_map(|p| serde_json::to_value(p).ok())
            .filter_map(|p| p.as_str().map(String::from))
            .collect();
        if s.is_empty() {
            "-".to_string()
        } else {
            s.join(" ")
        }
    };
    println!("config  allow: {}", show(&a.config.allow));
    println!("config  deny:  {}", show(&a.config.deny));
    println!("managed allow: {}", show(&a.managed.allow));
    println!("managed deny:  {}", show(&a.managed.deny));
}
