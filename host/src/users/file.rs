//! The users file (TOML): users with mounts, rights, quotas, groups, limits and IP rules;
//! groups with mounts their members inherit; the anonymous account.
//! Edited by `ftpsd user …` with write-to-temp + rename, so a crash never leaves half a file.
//!
//! ```toml
//! [[user]]
//! name = "bob"
//! password = "$argon2id$…"
//! groups = ["staff"]
//! [[user.mount]]            # the first mount is the root "/"
//! path = "/srv/ftp/bob"
//! rights = "a"
//! quota_mb = 500
//! [[user.mount]]
//! path = "/srv/ftp/music"
//! at = "/music"             # appears as a folder in the root
//! rights = "r"
//! ```
//! `home = "DIR"` and `rights = "rw"` on a user are shorthand for one root mount.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fs::Rights;

pub use super::entry::{AnonymousEntry, GroupEntry, MountEntry, ShareEntry, UploadMode, UserEntry};
use super::file_checks::validate_mount;
pub use super::file_checks::{check_ratio, validate_name};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    #[serde(default, rename = "user")]
    pub users: Vec<UserEntry>,
    #[serde(default, rename = "group", skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<AnonymousEntry>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// A mount as a session uses it: absolute real path, validated virtual name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMount {
    /// `None` for the root, `Some(name)` for a folder in the root.
    pub name: Option<String>,
    pub real: PathBuf,
    pub rights: Rights,
    pub quota_bytes: Option<u64>,
    pub mode: UploadMode,
    /// For a mount in object storage (`path = "s3://bucket/prefix"`): where; `real` then
    /// holds the URL, not a local path.
    pub object: Option<crate::fs::object::ObjectLocation>,
}

#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    #[error("cannot read users file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write users file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("user '{0}' already exists")]
    Exists(String),
    #[error("no user '{0}'")]
    NoSuchUser(String),
}

pub const ANONYMOUS_NAMES: [&str; 2] = ["anonymous", "ftp"];

impl UsersFile {
    /// Loads the file; a missing file is an empty user list (first start).
    pub fn load(path: &Path) -> Result<UsersFile, UsersFileError> {
        Self::parse(&Self::read_text(path)?, path)
    }

    /// The file's text as it is on disk; a missing file is empty (first start).
    pub fn read_text(path: &Path) -> Result<String, UsersFileError> {
        match std::fs::read(path) {
            Ok(bytes) => crate::config::error::utf8_text(bytes).map_err(|(line, column)| {
                UsersFileError::Syntax {
                    path: path.into(),
                    line,
                    column,
                    message: crate::config::error::NOT_UTF8.into(),
                }
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(UsersFileError::Read {
                path: path.into(),
                source,
            }),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<UsersFile, UsersFileError> {
        let mut f: UsersFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            let (line, column) = crate::config::error::line_col(text, offset);
            UsersFileError::Syntax {
                path: path.into(),
                line,
                column,
                message: crate::config::error::toml_message(text, &e),
            }
        })?;
        f.path = path.to_path_buf();
        f.validate()?;
        Ok(f)
    }

    fn invalid(&self, message: String) -> UsersFileError {
        UsersFileError::Invalid {
            path: self.path.clone(),
            message,
        }
    }

    fn validate(&self) -> Result<(), UsersFileError> {
        let mut seen = std::collections::HashSet::new();
        for g in &self.groups {
            for m in &g.mounts {
                validate_mount(m).map_err(|e| self.invalid(format!("group '{}': {e}", g.name)))?;
            }
        }
        for u in &self.users {
            validate_name(&u.name).map_err(|m| self.invalid(format!("user '{}': {m}", u.name)))?;
            if ANONYMOUS_NAMES.contains(&u.name.to_ascii_lowercase().as_str()) {
                return Err(self.invalid(format!(
                    "user '{}': this name is reserved for anonymous login ([anonymous] section)",
                    u.name
                )));
            }
            if !seen.insert(u.name.to_ascii_lowercase()) {
                return Err(self.invalid(format!("user '{}' is defined twice", u.name)));
            }
            if !u.password.starts_with("$argon2") {
                return Err(self.invalid(format!("user '{}': password must be an argon2 hash; set it with 'ftpsd user passwd {}'", u.name, u.name)));
            }
            if let Some(r) = &u.ratio {
                check_ratio(r).map_err(|e| self.invalid(format!("user '{}': {e}", u.name)))?;
            }
            self.mounts_of(u)
                .map_err(|e| self.invalid(format!("user '{}': {e}", u.name)))?;
            for share in &u.shares {
                self.validate_share(u, share)
                    .map_err(|e| self.invalid(format!("user '{}': {e}", u.name)))?;
            }
        }
        if let Some(a) = &self.anonymous
            && a.enabled
        {
            self.merge_mounts(a.mounts.clone(), &[])
                .map_err(|e| self.invalid(format!("[anonymous]: {e}")))?;
        }
        Ok(())
    }

    pub fn find(&self, name: &str) -> Option<&UserEntry> {
        self.users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    pub fn find_mut(&mut self, name: &str) -> Option<&mut UserEntry> {
        self.users
            .iter_mut()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    pub fn add(&mut self, entry: UserEntry) -> Result<(), UsersFileError> {
        validate_name(&entry.name).map_err(|m| self.invalid(m))?;
        if let Some(r) = &entry.ratio {
            check_ratio(r).map_err(|m| self.invalid(m))?;
        }
        if self.find(&entry.name).is_some() {
            return Err(UsersFileError::Exists(entry.name));
        }
        self.users.push(entry);
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Result<UserEntry, UsersFileError> {
        let i = self
            .users
            .iter()
            .position(|u| u.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| UsersFileError::NoSuchUser(name.into()))?;
        let removed = self.users.remove(i);
        // What others shared with this name goes with it: a user created later under the same
        // name must not inherit it.
        for u in &mut self.users {
            for s in &mut u.shares {
                s.with.retain(|w| !w.eq_ignore_ascii_case(&removed.name));
            }
            u.shares.retain(|s| !s.with.is_empty());
        }
        Ok(removed)
    }

    /// Resolves a configured path against the users file's directory, to an absolute path.
    pub fn resolve_path(&self, p: &Path) -> PathBuf {
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        };
        std::path::absolute(&joined).unwrap_or(joined)
    }

    /// The user's effective mounts: own mounts, then group mounts on virtual paths the user
    /// does not define; the root first.
    pub fn mounts_of(&self, u: &UserEntry) -> Result<Vec<ResolvedMount>, String> {
        let mut group_mounts = Vec::new();
        for g in &u.groups {
            let group = self.groups.iter().find(|x| x.name == *g).ok_or_else(|| {
                format!("unknown group '{g}' (create it with: ftpsd group add {g})")
            })?;
            group_mounts.extend(group.mounts.iter().cloned());
        }
        self.merge_mounts(u.own_mounts(), &group_mounts)
    }

    pub fn anonymous_mounts(&self) -> Option<Vec<ResolvedMount>> {
        let a = self.anonymous.as_ref().filter(|a| a.enabled)?;
        self.merge_mounts(a.mounts.clone(), &[]).ok()
    }

    fn merge_mounts(
        &self,
        own: Vec<MountEntry>,
        inherited: &[MountEntry],
    ) -> Result<Vec<ResolvedMount>, String> {
        let mut out: Vec<ResolvedMount> = Vec::new();
        for m in own.iter().chain(inherited) {
            validate_mount(m)?;
            let name = if m.at == "/" {
                None
            } else {
                Some(m.at.trim_start_matches('/').to_string())
            };
            if out.iter().any(|x| x.name == name) {
                if own.iter().filter(|o| o.at == m.at).count() > 1 {
                    return Err(format!("two mounts at {}", m.at));
                }
                continue; // the user's own entry wins over the group's
            }
            let written = m.path.to_string_lossy();
            let object = crate::fs::object::is_object_url(&written)
                .then(|| crate::fs::object::ObjectLocation::parse(&written))
                .transpose()
                .map_err(|e| format!("mount at '{}': {e}", m.at))?;
            out.push(ResolvedMount {
                name,
                real: match &object {
                    Some(o) => PathBuf::from(o.url()),
                    None => self.resolve_path(&m.path),
                },
                rights: m.rights,
                quota_bytes: m.quota_mb.map(|mb| mb.saturating_mul(1024 * 1024)),
                mode: m.mode,
                object,
            });
        }
        let root = out
            .iter()
            .position(|m| m.name.is_none())
            .ok_or("no root mount: add `home = \"DIR\"` or a [[user.mount]] with at = \"/\"")?;
        let r = out.remove(root);
        out.insert(0, r);
        // Each session keeps its account's mounts: exactly as many as it has.
        out.shrink_to_fit();
        Ok(out)
    }

    /// Writes atomically (temp file, fsync, rename), mode 0600: it holds password hashes.
    pub fn save(&self) -> Result<(), UsersFileError> {
        let text = toml::to_string(self).map_err(|e| UsersFileError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_text(
            &self.path,
            &format!(
                "# ftpsd users. Edit with 'ftpsd user add|mod|passwd|del|list|show|import' and 'ftpsd group ...'.\n{text}"
            ),
        )
    }
}

/// Replaces the users file at `path` with `text` atomically (temp file, fsync, rename), mode
/// 0600. The temporary has a name of its own, is new and is never reached through a symlink:
/// two writers never share one (they are also serialised by `EditLock`), and nothing planted
/// in the folder receives the password hashes.
pub fn write_text(path: &Path, text: &str) -> Result<(), UsersFileError> {
    let err = |source| UsersFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension(format!(
        "toml.{}.{:x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(err)?;
    let written = f
        .write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<UsersFile, UsersFileError> {
        UsersFile::parse(s, Path::new("/etc/ftpsd/users.toml"))
    }

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    #[test]
    fn round_trip_and_validation() {
        let dir = std::env::temp_dir().join(format!("ftpsd-users-{}", std::process::id()));
        let path = dir.join("users.toml");
        let mut f = UsersFile::load(&path).unwrap();
        assert!(f.users.is_empty());
        f.add(UserEntry::new(
            "bob",
            HASH.into(),
            "files/bob".into(),
            Rights::ReadWrite,
        ))
        .unwrap();
        assert!(matches!(
            f.add(f.users[0].clone()),
            Err(UsersFileError::Exists(_))
        ));
        f.save().unwrap();
        let g = UsersFile::load(&path).unwrap();
        assert_eq!(g.users, f.users);
        assert_eq!(
            g.mounts_of(&g.users[0]).unwrap()[0].real,
            dir.join("files/bob")
        );
        std::fs::write(
            &path,
            "[[user]]\nname = \"x\"\npassword = \"plain\"\nhome = \"/\"\nrights = \"r\"\n",
        )
        .unwrap();
        assert!(
            UsersFile::load(&path)
                .unwrap_err()
                .to_string()
                .contains("argon2")
        );
        std::fs::write(&path, "[[user]]\nname = \"x\"\nrights = \"rwx\"\n").unwrap();
        assert!(
            UsersFile::load(&path)
                .unwrap_err()
                .to_string()
                .contains(":3:")
        );
        std::fs::remove_dir_all(dir).unwrap();
        assert!(validate_name("../etc").is_err());
        assert!(validate_name("..").is_err() && validate_name(".").is_err());
        assert!(validate_name("a.b").is_ok());
    }

    #[test]
    fn mounts_groups_and_precedence() {
        let f = parse(&format!(
            r#"
[[group]]
name = "staff"
[[group.mount]]
path = "/srv/shared"
at = "/shared"
rights = "r"
[[group.mount]]
path = "/srv/group-music"
at = "/music"
rights = "r"

[[user]]
name = "bob"
password = "{HASH}"
groups = ["staff"]
[[user.mount]]
path = "home/bob"
rights = "a"
quota_mb = 2
[[user.mount]]
path = "/srv/bob-music"
at = "/music"
rights = "rw"
mode = "resumable"
"#
        ))
        .unwrap();
        let m = f.mounts_of(&f.users[0]).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[0].name.clone(), m[0].real.clone(), m[0].quota_bytes),
            (None, PathBuf::from("/etc/ftpsd/home/bob"), Some(2 << 20))
        );
        let music = m
            .iter()
            .find(|x| x.name.as_deref() == Some("music"))
            .unwrap();
        assert_eq!(
            (music.rights, music.mode),
            (Rights::ReadWrite, UploadMode::Resumable),
            "the user's own mount wins"
        );
        assert!(
            m.iter()
                .any(|x| x.name.as_deref() == Some("shared") && x.rights == Rights::Read)
        );
    }

    #[test]
    fn invalid_files_say_why() {
        let e = parse(&format!(
            "[[user]]\nname = \"a\"\npassword = \"{HASH}\"\ngroups = [\"nope\"]\nhome = \"x\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown group 'nope'"), "{e}");
        let e = parse(&format!("[[user]]\nname = \"a\"\npassword = \"{HASH}\"\n[[user.mount]]\npath = \"x\"\nat = \"/a/b\"\nrights = \"r\"\n")).unwrap_err().to_string();
        assert!(e.contains("one folder in the root"), "{e}");
        let e = parse(&format!("[[user]]\nname = \"a\"\npassword = \"{HASH}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no root mount"), "{e}");
        let e = parse(&format!(
            "[[user]]\nname = \"a\"\npassword = \"{HASH}\"\nhome = \"x\"\nratio = \"3\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("ratio"), "{e}");
        let e = parse(&format!(
            "[[user]]\nname = \"ftp\"\npassword = \"{HASH}\"\nhome = \"x\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("reserved"), "{e}");
        let e = parse(&format!(
            "[[user]]\nname = \"a\"\npassword = \"{HASH}\"\nhome = \"x\"\nallow = [\"10.0.0.x\"]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains(":5:"), "{e}");
    }

    #[test]
    fn configured_paths_resolve_to_absolute_ones() {
        // The embedded default's users file is `./ftpsd-data/users.toml`: a home below it
        // must still come out absolute (programs of execute actions run elsewhere).
        let f = UsersFile {
            path: PathBuf::from("./ftpsd-data/users.toml"),
            ..UsersFile::default()
        };
        let home = f.resolve_path(Path::new("homes/alice"));
        assert!(home.is_absolute(), "{}", home.display());
        assert!(home.ends_with("ftpsd-data/homes/alice"));
        assert!(
            !home.to_string_lossy().contains("/./"),
            "{}",
            home.display()
        );
        assert_eq!(f.resolve_path(Path::new("/srv/x")), PathBuf::from("/srv/x"));
    }

    #[test]
    fn ratio_format() {
        assert_eq!(check_ratio("1:3"), Ok(Some((1, 3))));
        assert_eq!(check_ratio("none"), Ok(None));
        assert!(check_ratio("0:3").is_err());
        assert!(check_ratio("x").is_err());
        assert!(check_ratio("None:1").is_err());
    }
}
