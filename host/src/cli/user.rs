use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, bail};
use ftpsd::fs::Rights;
use ftpsd::users::UsersFile;
use ftpsd::users::file::UserEntry;
use ftpsd::users::password;

use super::{ConfigArg, load_config};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a user. Without --password-stdin a random password is generated and printed.
    Add(AddArgs),
    /// Set a user's password. Without --password-stdin a random one is generated and printed.
    Passwd(PasswdArgs),
    /// Delete a user (the home directory is kept).
    Del(NameArgs),
    /// List users with home and rights.
    List(ConfigArg),
}

#[derive(clap::Args)]
pub struct AddArgs {
    name: String,
    /// Home directory (created if missing); relative paths are relative to the users file.
    #[arg(long)]
    home: PathBuf,
    /// r = list+download, w = upload-only drop box, rw = read+write+overwrite, a = rw+delete+rename.
    #[arg(long, default_value = "r", value_parser = parse_rights)]
    rights: Rights,
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
pub struct NameArgs {
    name: String,
    #[command(flatten)]
    config: ConfigArg,
}

fn parse_rights(s: &str) -> Result<Rights, String> {
    Rights::parse(s).ok_or_else(|| format!("'{s}' is not one of r, w, rw, a"))
}

fn users_file(config: &ConfigArg) -> anyhow::Result<UsersFile> {
    let cfg = load_config(config.config.as_deref())?;
    Ok(UsersFile::load(&cfg.users_file())?)
}

/// The password from stdin, or a generated one (printed).
fn obtain_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
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

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Add(a) => {
            let mut users = users_file(&a.config)?;
            let (pass, generated) = obtain_password(a.password_stdin)?;
            let entry = UserEntry {
                name: a.name.clone(),
                password: password::hash(&pass),
                home: a.home,
                rights: a.rights,
                disabled: false,
            };
            let home = users.home_of(&entry);
            users.add(entry)?;
            std::fs::create_dir_all(&home)
                .with_context(|| format!("creating home {}", home.display()))?;
            users.save()?;
            println!(
                "user '{}' added (home {}, rights {})",
                a.name,
                home.display(),
                a.rights.as_str()
            );
            if generated {
                println!("password: {pass}");
            }
        }
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
            println!(
                "user '{}' deleted (home {} kept)",
                removed.name,
                users.home_of(&removed).display()
            );
        }
        Command::List(c) => {
            let users = users_file(&c)?;
            println!("{:<20} {:<6} {:<9} HOME", "NAME", "RIGHTS", "STATE");
            for u in &users.users {
                let state = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:<20} {:<6} {:<9} {}",
                    u.name,
                    u.rights.as_str(),
                    state,
                    users.home_of(u).display()
                );
            }
        }
    }
    Ok(())
}
