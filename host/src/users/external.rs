//! Accounts an `authenticate` plugin vouches for, held to the operator's grant: every folder
//! inside `capabilities.auth.roots` after symlinks are followed (so a plugin cannot widen what
//! the operator allow-listed), mount names and quotas as the users file allows them.
//! The folders come from the plugin, so nothing here trusts them: no `..`, no symlink out of a
//! root on the way, created only inside a root and only when the grant says so.

use std::path::{Component, Path, PathBuf};

use super::auth::Account;
use super::entry::MountEntry;
use super::file::{ResolvedMount, UsersFile};
use super::file_checks::validate_mount;
use crate::access::IpRules;
use crate::data::bandwidth::Limits;
use crate::fs::Rights;

/// What the operator granted the plugin (`capabilities.auth`), as this module needs it.
pub struct Grant<'a> {
    pub roots: &'a [PathBuf],
    pub create_folders: bool,
}

/// Most mounts and groups an account from a plugin may have.
const MAX_MOUNTS: usize = 64;
const MAX_GROUPS: usize = 64;

/// The session's account for `user`, as the plugin `plugin` described it, or why not.
/// Every folder is checked before any is created: a refused account leaves nothing behind.
pub fn account_of(
    plugin: &str,
    user: &str,
    a: &ftpsd_plugin_sdk::Account,
    grant: &Grant<'_>,
    users: &UsersFile,
) -> Result<Account, String> {
    build(plugin, user, a, grant, users, false)?;
    build(plugin, user, a, grant, users, true)
}

/// Whether `account_of` would take the account, creating nothing: what `ftpsd plugin run`
/// reports for an `authenticate` answer.
pub fn check_account(
    plugin: &str,
    user: &str,
    a: &ftpsd_plugin_sdk::Account,
    grant: &Grant<'_>,
    users: &UsersFile,
) -> Result<(), String> {
    build(plugin, user, a, grant, users, false).map(|_| ())
}

/// The account; with `creating` false, missing folders are only checked (their nearest
/// existing ancestor inside a root), not made.
fn build(
    plugin: &str,
    user: &str,
    a: &ftpsd_plugin_sdk::Account,
    grant: &Grant<'_>,
    users: &UsersFile,
    creating: bool,
) -> Result<Account, String> {
    let roots: Vec<PathBuf> = grant
        .roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    if a.mounts.len() > MAX_MOUNTS || a.groups.len() > MAX_GROUPS {
        return Err(format!(
            "at most {MAX_MOUNTS} mounts and {MAX_GROUPS} groups"
        ));
    }
    if let Some(g) = a
        .groups
        .iter()
        .find(|g| g.is_empty() || g.len() > 64 || g.chars().any(char::is_control))
    {
        return Err(format!("group '{}': 1 to 64 characters", g.escape_debug()));
    }
    let entry = |path: &str, at: &str, rights: &str, quota_mb| -> Result<ResolvedMount, String> {
        let rights = Rights::parse(rights).ok_or_else(|| {
            format!(
                "mount at '{at}': rights '{}' (r, w, rw or a)",
                rights.escape_debug()
            )
        })?;
        validate_mount(&MountEntry {
            path: PathBuf::from(path),
            at: at.to_string(),
            rights,
            quota_mb,
            mode: Default::default(),
        })?;
        Ok(ResolvedMount {
            name: (at != "/").then(|| at.trim_start_matches('/').to_string()),
            real: folder(path, &roots, grant.create_folders, creating)
                .map_err(|e| format!("mount at '{at}': {e}"))?,
            rights,
            quota_bytes: quota_mb.map(|mb| mb.saturating_mul(1024 * 1024)),
            mode: Default::default(),
            object: None,
        })
    };
    let mut mounts = vec![entry(&a.home, "/", &a.rights, a.quota_mb)?];
    for m in &a.mounts {
        if m.at == "/" {
            return Err("a mount at '/': the home is the root".into());
        }
        let resolved = entry(&m.path, &m.at, &m.rights, m.quota_mb)?;
        if mounts.iter().any(|x| x.name == resolved.name) {
            return Err(format!("two mounts at {}", m.at));
        }
        mounts.push(resolved);
    }
    Ok(Account {
        name: user.to_string(),
        mounts,
        show_mounts: true,
        max_sessions: a.max_sessions.unwrap_or(0),
        ip_rules: IpRules::default(),
        anonymous: false,
        ratio: a.ratio.clone(),
        groups: a.groups.clone(),
        bandwidth: Limits::default(),
        // A group's bandwidth applies to the plugin's users too; a group's mounts do not
        // (they may lie outside the roots the operator granted this plugin).
        group_bandwidth: users
            .groups
            .iter()
            .filter(|g| a.groups.contains(&g.name) && g.bandwidth() != Limits::default())
            .map(|g| (g.name.clone(), g.bandwidth()))
            .collect(),
        shares: Vec::new(),
        external: Some(plugin.to_string()),
    })
}

/// A folder from the plugin: absolute and plain (no `.` or `..`), inside a root after every
/// symlink is followed; created (0750) when missing and `create` allows.
fn folder(path: &str, roots: &[PathBuf], create: bool, creating: bool) -> Result<PathBuf, String> {
    let p = Path::new(path);
    let plain = p.is_absolute()
        && !path.contains('\0')
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !plain {
        return Err(format!(
            "'{}' must be an absolute path without '.' or '..'",
            path.escape_debug()
        ));
    }
    let inside = |real: &Path| roots.iter().any(|r| real.starts_with(r));
    let outside = || format!("{path} is outside the folders the operator granted (auth.roots)");
    if !p.exists() {
        if !create {
            return Err(format!("{path} does not exist"));
        }
        // The deepest folder that exists must already be inside a root: a symlink on the
        // way cannot make the creation land elsewhere.
        let existing = p
            .ancestors()
            .find(|a| a.exists())
            .and_then(|a| std::fs::canonicalize(a).ok())
            .ok_or_else(outside)?;
        if !inside(&existing) {
            return Err(outside());
        }
        if !creating {
            return Ok(p.to_path_buf());
        }
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(p)
            .map_err(|e| format!("cannot create {path}: {e}"))?;
    }
    let real = std::fs::canonicalize(p).map_err(|e| format!("{path}: {e}"))?;
    if !inside(&real) {
        return Err(outside());
    }
    if !real.is_dir() {
        return Err(format!("{path} is not a folder"));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftpsd_plugin_sdk::{Account as Vouched, AccountMount};

    fn grant(root: &Path) -> (Vec<PathBuf>, bool) {
        (vec![root.to_path_buf()], true)
    }

    fn account_of(
        p: &str,
        u: &str,
        v: &Vouched,
        g: &(Vec<PathBuf>, bool),
        users: &UsersFile,
    ) -> Result<Account, String> {
        let grant = Grant {
            roots: &g.0,
            create_folders: g.1,
        };
        super::account_of(p, u, v, &grant, users)
    }

    fn users() -> UsersFile {
        UsersFile::parse("", Path::new("/nonexistent/users.toml")).unwrap()
    }

    fn vouched(home: &Path) -> Vouched {
        Vouched {
            home: home.display().to_string(),
            rights: "rw".into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_account_inside_the_roots_is_taken_and_its_home_created() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("ext");
        std::fs::create_dir_all(root.join("shared")).unwrap();
        let mut v = vouched(&root.join("carol"));
        v.quota_mb = Some(5);
        v.groups = vec!["partners".into()];
        v.mounts = vec![AccountMount {
            path: root.join("shared").display().to_string(),
            at: "/shared".into(),
            rights: "r".into(),
            quota_mb: None,
        }];
        let a = account_of("dir", "carol", &v, &grant(&root), &users()).unwrap();
        assert!(root.join("carol").is_dir(), "home created");
        assert_eq!(a.mounts.len(), 2);
        assert_eq!(a.mounts[0].rights, Rights::ReadWrite);
        assert_eq!(a.mounts[0].quota_bytes, Some(5 << 20));
        assert_eq!(a.mounts[1].name.as_deref(), Some("shared"));
        assert_eq!(a.external.as_deref(), Some("dir"));
        assert_eq!(a.groups, ["partners"]);
    }

    #[test]
    fn nothing_outside_the_roots_whatever_the_path_says() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("ext");
        let elsewhere = t.path().join("elsewhere");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("link")).unwrap();
        let g = grant(&root);
        let u = users();
        for home in [
            elsewhere.display().to_string(),
            format!("{}/../elsewhere", root.display()),
            format!("{}/link", root.display()),
            format!("{}/link/new-home", root.display()),
            "relative/home".into(),
            "/".into(),
            format!("{}/./x", root.display()),
        ] {
            let v = Vouched {
                home: home.clone(),
                ..Default::default()
            };
            let e = account_of("dir", "eve", &v, &g, &u).unwrap_err();
            assert!(!e.is_empty(), "{home}");
        }
        assert!(
            !elsewhere.join("new-home").exists(),
            "nothing created through the link"
        );
        // A mount outside, a bad name, bad rights, an oversized quota.
        let mut v = vouched(&root.join("eve"));
        v.mounts = vec![AccountMount {
            path: elsewhere.display().to_string(),
            at: "/x".into(),
            rights: "r".into(),
            quota_mb: None,
        }];
        assert!(account_of("dir", "eve", &v, &g, &u).is_err());
        assert!(
            !root.join("eve").exists(),
            "a refused account creates no folder, not even its good home"
        );
        v.mounts[0].path = root.join("eve").display().to_string();
        for (at, rights, quota) in [
            ("x", "r", None),
            ("/a/b", "r", None),
            ("/x", "rwx", None),
            ("/x", "r", Some(u64::MAX)),
        ] {
            v.mounts[0].at = at.into();
            v.mounts[0].rights = rights.into();
            v.mounts[0].quota_mb = quota;
            assert!(
                account_of("dir", "eve", &v, &g, &u).is_err(),
                "{at} {rights} {quota:?}"
            );
        }
        // No creation when the grant says so.
        let mut g = g;
        g.1 = false;
        assert!(account_of("dir", "eve", &vouched(&root.join("new")), &g, &u).is_err());
        assert!(!root.join("new").exists());
    }
}
