//! The users file: `[[user]]` tables with name, argon2id hash, home and rights.
//! Edited by `ftpsd user …` with write-to-temp + rename, so a crash never leaves half a file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fs::Rights;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    /// PHC string (`$argon2id$…`); plaintext is never stored.
    pub password: String,
    /// Home directory; relative paths are relative to the users file's directory.
    pub home: PathBuf,
    pub rights: Rights,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    #[serde(default, rename = "user")]
    pub users: Vec<UserEntry>,
    #[serde(skip)]
    pub path: PathBuf,
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
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("user '{0}' already exists")]
    Exists(String),
    #[error("no user '{0}'")]
    NoSuchUser(String),
}

impl UsersFile {
    /// Loads the file; a missing file is an empty user list (first start).
    pub fn load(path: &Path) -> Result<UsersFile, UsersFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(UsersFileError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        let mut f: UsersFile = toml::from_str(&text).map_err(|e| UsersFileError::Syntax {
            path: path.into(),
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1),
            message: e.message().trim().to_string(),
        })?;
        f.path = path.to_path_buf();
        f.validate()?;
        Ok(f)
    }

    fn validate(&self) -> Result<(), UsersFileError> {
        let invalid = |message: String| UsersFileError::Invalid {
            path: self.path.clone(),
            message,
        };
        let mut seen = std::collections::HashSet::new();
        for u in &self.users {
            validate_name(&u.name).map_err(|m| invalid(format!("user '{}': {m}", u.name)))?;
            if !seen.insert(u.name.to_ascii_lowercase()) {
                return Err(invalid(format!("user '{}' is defined twice", u.name)));
            }
            if !u.password.starts_with("$argon2") {
                return Err(invalid(format!(
                    "user '{}': password must be an argon2 hash; set it with 'ftpsd user passwd {}'",
                    u.name, u.name
                )));
            }
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
        validate_name(&entry.name).map_err(|m| UsersFileError::Invalid {
            path: self.path.clone(),
            message: m,
        })?;
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
        Ok(self.users.remove(i))
    }

    /// Home directory of a user, resolved against the users file's directory.
    pub fn home_of(&self, entry: &UserEntry) -> PathBuf {
        if entry.home.is_absolute() {
            entry.home.clone()
        } else {
            self.path
                .parent()
                .unwrap_or(Path::new("."))
                .join(&entry.home)
        }
    }

    /// Writes atomically (temp file, fsync, rename), mode 0600: it holds password hashes.
    pub fn save(&self) -> Result<(), UsersFileError> {
        let err = |source| UsersFileError::Write {
            path: self.path.clone(),
            source,
        };
        let text = toml::to_string(self).map_err(|e| err(std::io::Error::other(e)))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.path.with_extension("toml.tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(b"# ftpsd users. Edit with 'ftpsd user add|passwd|del|list'.\n")
            .map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)?;
        Ok(())
    }
}

/// User names: 1–64 characters, letters, digits and `._-@`; they appear in logs and paths.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("name must be 1 to 64 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(format!(
            "name '{name}' may only contain letters, digits and . _ - @"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_validation() {
        let dir = std::env::temp_dir().join(format!("ftpsd-users-{}", std::process::id()));
        let path = dir.join("users.toml");
        let mut f = UsersFile::load(&path).unwrap();
        assert!(f.users.is_empty());
        f.add(UserEntry {
            name: "bob".into(),
            password: "$argon2id$x".into(),
            home: "files/bob".into(),
            rights: Rights::ReadWrite,
            disabled: false,
        })
        .unwrap();
        assert!(matches!(
            f.add(f.users[0].clone()),
            Err(UsersFileError::Exists(_))
        ));
        f.save().unwrap();
        let g = UsersFile::load(&path).unwrap();
        assert_eq!(g.users, f.users);
        assert_eq!(g.home_of(&g.users[0]), dir.join("files/bob"));
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
    }
}
