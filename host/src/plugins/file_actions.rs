//! The `delete-file` and `quarantine-file` actions: the host takes an uploaded file out of the
//! user's view when a plugin asks at `upload-complete`, within the capabilities the operator
//! granted (`delete = true`, `quarantine = "/folder"`). A plugin names no path: the action is
//! about the event's own file, so it cannot reach anything else.

use std::path::{Path, PathBuf};

use ftpsd_plugin_sdk::Action;

use super::Loaded;
use crate::users::file::UsersFile;

/// What the host does with an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    Delete,
    /// Into this folder.
    Quarantine(PathBuf),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FileActionRefused {
    #[error("plugin '{plugin}' has no {capability} capability")]
    NoCapability {
        plugin: String,
        capability: &'static str,
    },
    #[error(
        "quarantine folder {dir} overlaps user '{user}''s folder {mount}: it must lie outside every user's mounts"
    )]
    Overlaps {
        dir: PathBuf,
        user: String,
        mount: PathBuf,
    },
}

/// The file action `action` asks for, if it is one, checked against the plugin's grant.
pub fn check(plugin: &Loaded, action: &Action) -> Option<Result<FileAction, FileActionRefused>> {
    let caps = &plugin.section.capabilities;
    let refused = |capability| FileActionRefused::NoCapability {
        plugin: plugin.name.clone(),
        capability,
    };
    Some(match action {
        Action::DeleteFile { .. } if caps.delete => Ok(FileAction::Delete),
        Action::DeleteFile { .. } => Err(refused("delete")),
        Action::QuarantineFile { .. } => match &caps.quarantine {
            Some(dir) => Ok(FileAction::Quarantine(dir.clone())),
            None => Err(refused("quarantine")),
        },
        Action::Execute { .. } => return None,
    })
}

/// The config check of a quarantine folder: absolute, a folder (created, owner-only, when
/// missing).
pub fn prepare_quarantine(dir: &Path) -> Result<(), String> {
    if !dir.is_absolute() {
        return Err(format!(
            "capabilities.quarantine: {} must be an absolute path",
            dir.display()
        ));
    }
    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                format!(
                    "capabilities.quarantine: cannot create {}: {e}",
                    dir.display()
                )
            })?;
    }
    if !dir.is_dir() {
        return Err(format!(
            "capabilities.quarantine: {} is not a folder",
            dir.display()
        ));
    }
    // What was taken away is for the operator only: an existing folder others can read is
    // closed (0700), with a warning.
    use std::os::unix::fs::PermissionsExt;
    if let Ok(md) = std::fs::metadata(dir)
        && md.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(folder = %dir.display(), mode = format!("{:o}", md.permissions().mode() & 0o777), "quarantine folder was open to others; set to 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            format!(
                "capabilities.quarantine: cannot set {} to 0700: {e}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// Checked when the action runs (the users file may have changed since the config was
/// read): a quarantine folder inside a user's mount, or holding one, would put what the
/// operator took away back in someone's view. `auth_roots` are the folders `authenticate`
/// plugins may give their users (any of them may be someone's home).
pub fn outside_every_mount(
    dir: &Path,
    users: &UsersFile,
    auth_roots: &[PathBuf],
) -> Result<(), FileActionRefused> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let q = canon(dir);
    for root in auth_roots {
        let real = canon(root);
        if q.starts_with(&real) || real.starts_with(&q) {
            return Err(FileActionRefused::Overlaps {
                dir: dir.to_path_buf(),
                user: "(users of an authenticate plugin: auth.roots)".into(),
                mount: root.clone(),
            });
        }
    }
    let anonymous = users.anonymous_mounts().unwrap_or_default();
    let named = users
        .users
        .iter()
        .map(|u| (u.name.as_str(), users.mounts_of(u).unwrap_or_default()));
    for (user, mounts) in named.chain(std::iter::once(("anonymous", anonymous))) {
        for m in mounts {
            let real = canon(&m.real);
            if q.starts_with(&real) || real.starts_with(&q) {
                return Err(FileActionRefused::Overlaps {
                    dir: dir.to_path_buf(),
                    user: user.to_string(),
                    mount: m.real,
                });
            }
        }
    }
    Ok(())
}

/// The name a quarantined file gets: unique per upload (the time in milliseconds, as transfer
/// ids start again with each server run), says whose it was, one path component whatever the
/// upload's name held.
pub fn quarantine_name(now_ms: u64, transfer: u64, user: &str, file_name: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .take(120)
            .collect::<String>()
            .trim_start_matches('.')
            .to_string()
    };
    format!("{now_ms}-{transfer}-{}-{}", clean(user), clean(file_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_names_are_one_plain_component() {
        assert_eq!(
            quarantine_name(5, 7, "gus", "virus.exe"),
            "5-7-gus-virus.exe"
        );
        assert_eq!(quarantine_name(5, 8, "a/b", "../..x y"), "5-8-a_b-_..x_y");
        assert_eq!(quarantine_name(5, 9, "u", ".hidden"), "5-9-u-hidden");
        assert!(!quarantine_name(5, 1, "u", &"x".repeat(5000)).contains('/'));
        assert!(quarantine_name(5, 1, "u", &"x".repeat(5000)).len() < 200);
    }

    #[test]
    fn a_quarantine_inside_or_around_a_mount_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("homes/alice");
        std::fs::create_dir_all(&home).unwrap();
        let text = format!(
            "[[user]]\nname = \"alice\"\npassword = \"{}\"\nhome = \"{}\"\nrights = \"rw\"\n",
            crate::users::password::hash("x"),
            home.display()
        );
        let users = UsersFile::parse(&text, &tmp.path().join("users.toml")).unwrap();
        let inside = home.join("q");
        std::fs::create_dir_all(&inside).unwrap();
        assert!(outside_every_mount(&inside, &users, &[]).is_err());
        assert!(outside_every_mount(&tmp.path().join("homes"), &users, &[]).is_err());
        let apart = tmp.path().join("quarantine");
        std::fs::create_dir_all(&apart).unwrap();
        assert_eq!(outside_every_mount(&apart, &users, &[]), Ok(()));
        // Inside a folder an authenticate plugin may hand out as a home.
        let ext = tmp.path().join("ext");
        std::fs::create_dir_all(ext.join("carol/q")).unwrap();
        assert!(outside_every_mount(&ext.join("carol/q"), &users, &[ext.clone()]).is_err());
        assert!(outside_every_mount(tmp.path(), &users, &[ext.clone()]).is_err());
        assert_eq!(outside_every_mount(&apart, &users, &[ext]), Ok(()));
        assert!(prepare_quarantine(Path::new("relative/q")).is_err());
        assert_eq!(prepare_quarantine(&tmp.path().join("new/q")), Ok(()));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&apart, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(prepare_quarantine(&apart), Ok(()));
        assert_eq!(
            std::fs::metadata(&apart).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
