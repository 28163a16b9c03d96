//! `ftpsd user share|unshare`: offer a folder of a user's view to other users and groups (they
//! reach it as `~owner/path`), or withdraw it, without editing the users file by hand. The whole
//! file is validated before it is written, so a path outside the owner's view, an unknown group
//! or rights the owner does not have change nothing.

use anyhow::bail;
use ftpsd::fs::Rights;
use ftpsd::users::UsersFileError;
use ftpsd::users::file::{ShareEntry, UsersFile};

use super::config_arg::ConfigArg;
use super::user::{save_checked, users_file};

#[derive(clap::Args)]
pub struct ShareArgs {
    /// The owner.
    name: String,
    /// The folder in the owner's view, such as /public or /music/live.
    path: String,
    /// Who gets it: user names, @group or * (everyone with a login), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    with: Vec<String>,
    /// Rights granted there (at most the owner's own): r, w, rw or a.
    #[arg(long, default_value = "r", value_parser = |s: &str| Rights::parse(s).ok_or_else(|| format!("'{s}' is not one of r, w, rw, a")))]
    rights: Rights,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(clap::Args)]
pub struct UnshareArgs {
    name: String,
    /// The shared folder, as given to `user share`.
    path: String,
    #[command(flatten)]
    config: ConfigArg,
}

/// `/a/b/` and `a/b` name the same folder as `/a/b`.
fn normalise(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

pub fn share(a: ShareArgs) -> anyhow::Result<()> {
    let mut users = users_file(&a.config)?;
    let path = normalise(&a.path);
    let entry = ShareEntry {
        path: path.clone(),
        with: a.with.clone(),
        rights: a.rights,
    };
    let owner = users
        .find(&a.name)
        .ok_or_else(|| UsersFileError::NoSuchUser(a.name.clone()))?
        .clone();
    for w in &a.with {
        if w == "*" || w.starts_with('@') {
            continue; // groups are checked with the file
        }
        if w.eq_ignore_ascii_case(&owner.name) {
            bail!("'{}' cannot share with itself", owner.name);
        }
        if users.find(w).is_none() {
            bail!("no user '{w}' to share with (a user name, @group or *)");
        }
    }
    let resolved = users
        .resolve_share(&owner, &entry)
        .map_err(|e| anyhow::anyhow!("user '{}': {e}", owner.name))?;
    if resolved.rights != a.rights {
        bail!(
            "user '{}': share {path}: grants '{}' but {} has only '{}' there",
            owner.name,
            a.rights.as_str(),
            owner.name,
            resolved.rights.as_str()
        );
    }
    let real = resolved.mount_real.join(resolved.inside.relative());
    match std::fs::metadata(&real) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!(
            "{} (.{path} of '{}') is not a folder; only folders can be shared",
            real.display(),
            owner.name
        ),
        Err(_) => bail!(
            "{} (folder {path} of '{}') does not exist; create it first (for example by uploading into it)",
            real.display(),
            owner.name
        ),
    }
    // What the server will open: a folder that leads out of the owner's mount is refused.
    if let Err(e) = ftpsd::fs::Sandbox::open_within(&resolved.mount_real, &resolved.inside) {
        bail!(
            "{} cannot be shared: {e} (a symlink leading outside {}?)",
            real.display(),
            resolved.mount_real.display()
        );
    }
    let u = users.find_mut(&a.name).expect("found above");
    // Sharing a folder again replaces what was granted there.
    let replaced: Vec<String> = u
        .shares
        .iter()
        .filter(|s| normalise(&s.path) == path)
        .map(|s| format!("{} ({})", s.with.join(", "), s.rights.as_str()))
        .collect();
    u.shares.retain(|s| normalise(&s.path) != path);
    u.shares.push(entry);
    save_checked(&users)?;
    println!(
        "'{}' shares {path} with {} (rights {}); they reach it as ~{}{path}",
        owner.name,
        a.with.join(", "),
        a.rights.as_str(),
        owner.name
    );
    if !replaced.is_empty() {
        println!(
            "(this replaces what {path} was shared with before: {})",
            replaced.join("; ")
        );
    }
    Ok(())
}

pub fn unshare(a: UnshareArgs) -> anyhow::Result<()> {
    let mut users = users_file(&a.config)?;
    let path = normalise(&a.path);
    let u = users
        .find_mut(&a.name)
        .ok_or_else(|| UsersFileError::NoSuchUser(a.name.clone()))?;
    let before = u.shares.len();
    u.shares.retain(|s| normalise(&s.path) != path);
    if u.shares.len() == before {
        let shared: Vec<&str> = u.shares.iter().map(|s| s.path.as_str()).collect();
        bail!(
            "'{}' does not share {path} (shared: {})",
            a.name,
            if shared.is_empty() {
                "nothing".to_string()
            } else {
                shared.join(", ")
            }
        );
    }
    save_checked(&users)?;
    println!("'{}' no longer shares {path}", a.name);
    Ok(())
}

/// The lines `user show` prints about shares: what the user offers and what it is offered.
pub fn describe(users: &UsersFile, name: &str) -> Vec<String> {
    let Some(u) = users.find(name) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for s in &u.shares {
        lines.push(format!(
            "shares:       {} with {} ({})",
            s.path,
            s.with.join(", "),
            s.rights.as_str()
        ));
    }
    for r in users.shares_for(u) {
        lines.push(format!(
            "shared with:  ~{}{} ({})",
            r.owner,
            r.path,
            r.rights.as_str()
        ));
    }
    lines
}
