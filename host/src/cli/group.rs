//! `ftpsd group ...`: groups in the users file. A group gives its members mounts (with their
//! rights and quotas) on top of their own; members are named in each user's `groups`.

use anyhow::bail;
use ftpsd::data::bandwidth::describe;

use super::config_arg::{ConfigArg, NameArgs};
use super::log_text::printable;
use super::user::{parse_mount, save_checked, users_file};
use ftpsd::users::file::{GroupEntry, MountEntry};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a group with its mounts (folders are created if missing).
    Add(AddArgs),
    /// Delete a group; refused while users are in it, unless --force takes them out.
    Del(DelArgs),
    /// List groups with their mounts and members.
    List(ConfigArg),
    /// Show one group: mounts, rights, quotas, members.
    Show(NameArgs),
    /// Put users into a group.
    Join(MembersArgs),
    /// Take users out of a group.
    Leave(MembersArgs),
}

#[derive(clap::Args)]
pub struct AddArgs {
    name: String,
    /// Mount `DIR:/name:RIGHTS[:QUOTA_MB]` shown to members as folder /name; repeatable.
    #[arg(long = "mount", value_parser = parse_mount)]
    mounts: Vec<MountEntry>,
    /// Download limit in KiB/s shared by all members' sessions together (0 = none).
    #[arg(long, value_parser = parse_kib_s, default_value_t = 0)]
    download_kib_s: u64,
    /// Upload limit in KiB/s shared by all members' sessions together (0 = none).
    #[arg(long, value_parser = parse_kib_s, default_value_t = 0)]
    upload_kib_s: u64,
    #[command(flatten)]
    config: ConfigArg,
}

/// A bandwidth limit argument: KiB/s, 0 for none, at most `bandwidth::MAX_KIB_S`.
pub fn parse_kib_s(s: &str) -> Result<u64, String> {
    let max = ftpsd::data::bandwidth::MAX_KIB_S;
    match s.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!(
            "'{s}' is not a number of KiB/s from 0 (none) to {max}"
        )),
    }
}

#[derive(clap::Args)]
pub struct DelArgs {
    name: String,
    /// Also take every member out of the group.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(clap::Args)]
pub struct MembersArgs {
    group: String,
    #[arg(required = true)]
    users: Vec<String>,
    #[command(flatten)]
    config: ConfigArg,
}

fn members(users: &ftpsd::users::UsersFile, group: &str) -> Vec<String> {
    users
        .users
        .iter()
        .filter(|u| u.groups.iter().any(|g| g == group))
        .map(|u| u.name.clone())
        .collect()
}

fn mounts_text(g: &GroupEntry) -> String {
    if g.mounts.is_empty() {
        return "-".into();
    }
    g.mounts
        .iter()
        .map(|m| format!("{}={}({})", m.at, m.path.display(), m.rights.as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Add(a) => {
            let mut users = users_file(&a.config)?;
            ftpsd::users::file::validate_name(&a.name).map_err(anyhow::Error::msg)?;
            if users.groups.iter().any(|g| g.name == a.name) {
                bail!("group '{}' already exists", a.name);
            }
            users.groups.push(GroupEntry {
                name: a.name.clone(),
                mounts: a.mounts,
                download_kib_s: a.download_kib_s,
                upload_kib_s: a.upload_kib_s,
            });
            let local = |m: &&ftpsd::users::file::MountEntry| {
                !ftpsd::fs::object::is_object_url(&m.path.to_string_lossy())
            };
            for m in users
                .groups
                .last()
                .expect("just added")
                .mounts
                .iter()
                .filter(local)
            {
                super::user::can_be_folder(&users.resolve_path(&m.path))?;
            }
            save_checked(&users)?;
            let g = users.groups.last().expect("just added");
            for m in g.mounts.iter().filter(local) {
                let real = users.resolve_path(&m.path);
                std::fs::create_dir_all(&real)
                    .map_err(|e| anyhow::anyhow!("creating {}: {e}", real.display()))?;
            }
            println!("group '{}' added (mounts: {})", a.name, mounts_text(g));
        }
        Command::Del(a) => {
            let mut users = users_file(&a.config)?;
            let Some(i) = users.groups.iter().position(|g| g.name == a.name) else {
                bail!("no group '{}'", printable(&a.name));
            };
            let in_it = members(&users, &a.name);
            if !in_it.is_empty() && !a.force {
                bail!(
                    "group '{}' has members ({}); take them out first (ftpsd group leave {} USER...) or use --force",
                    a.name,
                    in_it.join(", "),
                    a.name
                );
            }
            let tag = format!("@{}", a.name);
            for u in &mut users.users {
                u.groups.retain(|g| *g != a.name);
                // A share with the group goes with it (one shared with nobody else, entirely).
                for s in &mut u.shares {
                    s.with.retain(|w| *w != tag);
                }
                u.shares.retain(|s| !s.with.is_empty());
            }
            users.groups.remove(i);
            save_checked(&users)?;
            println!(
                "group '{}' deleted (folders kept){}",
                a.name,
                if in_it.is_empty() {
                    String::new()
                } else {
                    format!("; taken out: {}", in_it.join(", "))
                }
            );
        }
        Command::List(c) => {
            let users = users_file(&c)?;
            println!("{:<20} {:<30} MOUNTS", "NAME", "MEMBERS");
            for g in &users.groups {
                println!(
                    "{:<20} {:<30} {}",
                    g.name,
                    members(&users, &g.name).join(","),
                    mounts_text(g)
                );
            }
        }
        Command::Show(a) => {
            let users = users_file(&a.config)?;
            let Some(g) = users.groups.iter().find(|g| g.name == a.name) else {
                bail!("no group '{}'", printable(&a.name));
            };
            println!("group:   {}", g.name);
            let in_it = members(&users, &g.name);
            println!(
                "members: {}",
                if in_it.is_empty() {
                    "-".into()
                } else {
                    in_it.join(", ")
                }
            );
            println!(
                "limits:  download {}, upload {} (all members together)",
                describe(g.download_kib_s),
                describe(g.upload_kib_s)
            );
            println!(
                "{:<12} {:<6} {:>10}  DIRECTORY",
                "MOUNT", "RIGHTS", "QUOTA MB"
            );
            for m in &g.mounts {
                println!(
                    "{:<12} {:<6} {:>10}  {}",
                    m.at,
                    m.rights.as_str(),
                    m.quota_mb.map_or("-".into(), |q| q.to_string()),
                    users.resolve_path(&m.path).display()
                );
            }
        }
        Command::Join(a) => change_members(a, true)?,
        Command::Leave(a) => change_members(a, false)?,
    }
    Ok(())
}

fn change_members(a: MembersArgs, join: bool) -> anyhow::Result<()> {
    let mut users = users_file(&a.config)?;
    if !users.groups.iter().any(|g| g.name == a.group) {
        bail!("no group '{}'", printable(&a.group));
    }
    let (mut changed, mut unchanged) = (Vec::new(), Vec::new());
    for name in &a.users {
        let Some(u) = users.find_mut(name) else {
            bail!("no user '{}'", printable(name));
        };
        let has = u.groups.contains(&a.group);
        if join && !has {
            u.groups.push(a.group.clone());
            changed.push(name.clone());
        } else if !join && has {
            u.groups.retain(|g| *g != a.group);
            changed.push(name.clone());
        } else {
            unchanged.push(name.clone());
        }
    }
    save_checked(&users)?;
    if !changed.is_empty() {
        let did = if join { "joined" } else { "left" };
        println!("{} {did} group '{}'", changed.join(", "), a.group);
    }
    if !unchanged.is_empty() {
        let state = if join { "already in" } else { "not in" };
        println!("{} {state} group '{}'", unchanged.join(", "), a.group);
    }
    Ok(())
}
