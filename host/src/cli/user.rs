use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, bail};
use ftpsd::fs::Rights;
use ftpsd::users::UsersFile;
use ftpsd::users::file::{MountEntry, UploadMode, UserEntry};
use ftpsd::users::password;

use super::config_arg::{ConfigArg, NameArgs, load_config};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a user. Without --password-stdin a random password is generated and printed.
    Add(AddArgs),
    /// Change a user: groups, the root's rights and quota, session limit, ratio, disabled.
    Mod(super::user_mod::ModArgs),
    /// Set a user's password. Without --password-stdin a random one is generated and printed.
    Passwd(PasswdArgs),
    /// Delete a user (the home directory is kept).
    Del(NameArgs),
    /// List users with mounts and rights.
    List(ConfigArg),
    /// Show one user: mounts, rights, quotas with current usage, groups, limits.
    Show(NameArgs),
    /// Share a folder of the user's view with users and groups, who reach it as ~NAME/PATH.
    Share(super::user_share::ShareArgs),
    /// Stop sharing a folder.
    Unshare(super::user_share::UnshareArgs),
    /// Import users from a `;`-separated CSV export (name;password;path1;rights1;quota1;path2;…;
    /// ratio;groups, by header name or in that order without a header). Rows with errors are
    /// reported and skipped (all with --strict).
    Import(ImportArgs),
}

#[derive(clap::Args)]
pub struct AddArgs {
    name: String,
    /// Home directory, the root "/" (created if missing); relative paths are relative to the
    /// users file.
    #[arg(long)]
    home: PathBuf,
    /// Rights on the home: r = list+download, w = upload-only drop box, rw = read+write+
    /// overwrite, a = rw+delete+rename.
    #[arg(long, default_value = "r", value_parser = parse_rights)]
    rights: Rights,
    /// Quota of the home in MB.
    #[arg(long)]
    quota_mb: Option<u64>,
    /// Upload mode of the home: atomic (default) or resumable (allows REST+STOR).
    #[arg(long, value_parser = parse_mode, default_value = "atomic")]
    mode: UploadMode,
    /// Extra mount `DIR:/name:RIGHTS[:QUOTA_MB]` shown as folder /name; repeatable.
    #[arg(long = "mount", value_parser = parse_mount)]
    mounts: Vec<MountEntry>,
    /// Group to inherit mounts from; repeatable.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Simultaneous sessions of this user (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    max_sessions: u32,
    /// Upload:download ratio such as 1:3 (for the ratio plugin).
    #[arg(long)]
    ratio: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(clap::Args)]
pub struct PasswdArgs {
    name: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    file: PathBuf,
    /// Import nothing if any row has an error.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    config: ConfigArg,
}

fn parse_rights(s: &str) -> Result<Rights, String> {
    Rights::parse(s).ok_or_else(|| format!("'{s}' is not one of r, w, rw, a"))
}

fn parse_mode(s: &str) -> Result<UploadMode, String> {
    match s {
        "atomic" => Ok(UploadMode::Atomic),
        "resumable" => Ok(UploadMode::Resumable),
        _ => Err(format!("'{s}' is not atomic or resumable")),
    }
}

pub(super) fn parse_mount(s: &str) -> Result<MountEntry, String> {
    ftpsd::users::manage::parse_mount(s)
}

/// The users file, read under the edit lock, which this command then holds until it ends: a
/// concurrent `ftpsd user|group` command waits, so neither undoes the other's change.
pub(super) fn users_file(config: &ConfigArg) -> anyhow::Result<UsersFile> {
    static HELD: std::sync::OnceLock<ftpsd::users::edit_lock::EditLock> =
        std::sync::OnceLock::new();
    let cfg = load_config(config.config.as_deref())?;
    let path = cfg.users_file();
    if HELD.get().is_none() {
        let _ = HELD.set(ftpsd::users::edit_lock::EditLock::acquire(&path)?);
    }
    Ok(UsersFile::load(&path)?)
}

/// Whether `p` is a folder or can be made one, checked before anything is written so a bad
/// path never reaches the users file.
pub(super) fn can_be_folder(p: &std::path::Path) -> anyhow::Result<()> {
    Ok(ftpsd::users::manage::can_be_folder(p)?)
}

/// Saves after re-validating the whole file (a new user may name an unknown group).
pub(super) fn save_checked(users: &UsersFile) -> anyhow::Result<()> {
    Ok(ftpsd::users::manage::commit(users)?)
}

/// The password from stdin, or a generated one (printed).
pub(super) fn obtain_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let pass = line.trim_end_matches(['\r', '\n']).to_string();
        if pass.is_empty() {
            bail!("empty password on stdin");
        }
        Ok((pass, false))
    } else {
        Ok((password::random_password(), true))
    }
}

fn at_of(m: &ftpsd::users::file::ResolvedMount) -> String {
    m.name
        .as_ref()
        .map(|n| format!("/{n}"))
        .unwrap_or_else(|| "/".into())
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Add(a) => {
            let mut users = users_file(&a.config)?;
            let (pass, generated) = obtain_password(a.password_stdin)?;
            let mut entry =
                UserEntry::new(&a.name, password::hash(&pass), a.home.clone(), a.rights);
            if a.quota_mb.is_some() || a.mode != UploadMode::Atomic {
                entry.home = None;
                entry.rights = None;
                entry.mounts.push(MountEntry {
                    path: a.home,
                    at: "/".into(),
                    rights: a.rights,
                    quota_mb: a.quota_mb,
                    mode: a.mode,
                });
            }
            entry.mounts.extend(a.mounts);
            entry.groups = a.groups;
            entry.max_sessions = a.max_sessions;
            entry.ratio = a.ratio;
            users.add(entry)?;
            let user = users.users.last().cloned().expect("just added");
            let mounts = users
                .mounts_of(&user)
                .map_err(|e| anyhow::anyhow!("user '{}': {e}", a.name))?;
            for m in mounts.iter().filter(|m| m.object.is_none()) {
                can_be_folder(&m.real)?;
            }
            save_checked(&users)?;
            // Local folders are made; an s3:// mount is a prefix, made by its first upload.
            for m in mounts.iter().filter(|m| m.object.is_none()) {
                std::fs::create_dir_all(&m.real)
                    .with_context(|| format!("creating {}", m.real.display()))?;
            }
            println!(
                "user '{}' added (home {}, rights {})",
                a.name,
                mounts[0].real.display(),
                mounts[0].rights.as_str()
            );
            if generated {
                println!("password: {pass}");
            }
        }
        Command::Mod(a) => super::user_mod::run(a)?,
        Command::Share(a) => super::user_share::share(a)?,
        Command::Unshare(a) => super::user_share::unshare(a)?,
        Command::Passwd(a) => {
            let mut users = users_file(&a.config)?;
            let (pass, generated) = obtain_password(a.password_stdin)?;
            let u = users
                .find_mut(&a.name)
                .ok_or_else(|| ftpsd::users::UsersFileError::NoSuchUser(a.name.clone()))?;
            u.password = password::hash(&pass);
            users.save()?;
            println!("password of '{}' changed", a.name);
            if generated {
                println!("password: {pass}");
            }
        }
        Command::Del(a) => {
            let mut users = users_file(&a.config)?;
            let removed = users.remove(&a.name)?;
            users.save()?;
            println!("user '{}' deleted (files kept)", removed.name);
        }
        Command::List(c) => {
            let users = users_file(&c)?;
            println!("{:<20} {:<9} {:<16} MOUNTS", "NAME", "STATE", "GROUPS");
            for u in &users.users {
                let state = if u.disabled { "disabled" } else { "active" };
                let mounts = users
                    .mounts_of(u)
                    .map(|ms| {
                        ms.iter()
                            .map(|m| {
                                format!("{}={}({})", at_of(m), m.real.display(), m.rights.as_str())
                            })
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_else(|e| format!("invalid: {e}"));
                println!(
                    "{:<20} {:<9} {:<16} {}",
                    u.name,
                    state,
                    u.groups.join(","),
                    mounts
                );
            }
        }
        Command::Show(a) => {
            let users = users_file(&a.config)?;
            let u = users
                .find(&a.name)
                .ok_or_else(|| ftpsd::users::UsersFileError::NoSuchUser(a.name.clone()))?;
            println!("user:         {}", u.name);
            println!(
                "state:        {}",
                if u.disabled { "disabled" } else { "active" }
            );
            println!(
                "groups:       {}",
                if u.groups.is_empty() {
                    "-".into()
                } else {
                    u.groups.join(", ")
                }
            );
            println!(
                "max sessions: {}",
                if u.max_sessions == 0 {
                    "unlimited".into()
                } else {
                    u.max_sessions.to_string()
                }
            );
            println!(
                "bandwidth:    download {}, upload {} (all sessions together)",
                ftpsd::data::bandwidth::describe(u.download_kib_s),
                ftpsd::data::bandwidth::describe(u.upload_kib_s)
            );
            // Group limits apply as well, each shared by all of that group's members: the
            // user gets the smallest of what is left.
            for g in users.groups.iter().filter(|g| u.groups.contains(&g.name)) {
                if g.download_kib_s > 0 || g.upload_kib_s > 0 {
                    println!(
                        "              and group {}: download {}, upload {} (shared by its members)",
                        g.name,
                        ftpsd::data::bandwidth::describe(g.download_kib_s),
                        ftpsd::data::bandwidth::describe(g.upload_kib_s)
                    );
                }
            }
            println!("ratio:        {}", u.ratio.as_deref().unwrap_or("-"));
            println!(
                "IP allow:     {}",
                if u.allow.is_empty() {
                    "any".to_string()
                } else {
                    format!("{:?}", u.allow)
                }
            );
            println!(
                "IP deny:      {}",
                if u.deny.is_empty() {
                    "none".to_string()
                } else {
                    format!("{:?}", u.deny)
                }
            );
            for line in super::user_share::describe(&users, &u.name) {
                println!("{line}");
            }
            println!(
                "{:<10} {:<6} {:<10} {:>12} {:>12}  DIRECTORY",
                "MOUNT", "RIGHTS", "MODE", "USED MB", "QUOTA MB"
            );
            for m in users.mounts_of(u).map_err(|e| anyhow::anyhow!(e))? {
                let used = ftpsd::fs::quota::disk_usage(&m.real) as f64 / 1048576.0;
                let quota = m
                    .quota_bytes
                    .map(|q| format!("{:.1}", q as f64 / 1048576.0))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<10} {:<6} {:<10} {:>12.1} {:>12}  {}",
                    at_of(&m),
                    m.rights.as_str(),
                    format!("{:?}", m.mode).to_lowercase(),
                    used,
                    quota,
                    m.real.display()
                );
            }
        }
        Command::Import(a) => {
            let mut users = users_file(&a.config)?;
            let bytes =
                std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
            let (rows, mut errors) =
                ftpsd::users::csv_import::parse(&bytes, &users, password::hash)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
            // A row whose folders cannot exist is a row error like any other.
            let rows: Vec<_> = rows
                .into_iter()
                .filter(|(line, u)| {
                    let bad = users
                        .mounts_of(u)
                        .map_err(anyhow::Error::msg)
                        .and_then(|ms| ms.iter().try_for_each(|m| can_be_folder(&m.real)));
                    match bad {
                        Ok(()) => true,
                        Err(e) => {
                            errors.push(ftpsd::users::csv_import::RowError {
                                line: *line,
                                reason: e.to_string(),
                            });
                            false
                        }
                    }
                })
                .collect();
            errors.sort_by_key(|e| e.line);
            for e in &errors {
                eprintln!(
                    "{}: {}",
                    a.file.display(),
                    super::log_text::printable(&e.to_string())
                );
            }
            if a.strict && !errors.is_empty() {
                bail!(
                    "{} row(s) with errors; nothing imported (--strict)",
                    errors.len()
                );
            }
            let n = rows.len();
            let mut dirs = Vec::new();
            for (_, u) in rows {
                dirs.extend(
                    users
                        .mounts_of(&u)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|m| m.object.is_none())
                        .map(|m| m.real),
                );
                users.add(u)?;
            }
            save_checked(&users)?;
            for d in dirs {
                std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            }
            println!("imported {n} user(s), {} row(s) skipped", errors.len());
        }
    }
    Ok(())
}
