//! The entries of the users file: a user, a group, the anonymous account, and their mounts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::access::IpRules;
use crate::data::bandwidth::Limits;
use crate::fs::Rights;

/// How uploads are written on a mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadMode {
    /// Hidden temporary file, fsync, rename over the target: a failed upload never destroys the
    /// previous version; REST+STOR copies the kept prefix into the temporary first.
    #[default]
    Atomic,
    /// The partial file keeps its final name so REST+STOR can continue it.
    Resumable,
}

fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountEntry {
    /// Real directory; relative paths are relative to the users file's directory.
    pub path: PathBuf,
    /// Where it appears: `/` (the root) or `/name` (a folder in the root).
    #[serde(default = "root_at")]
    pub at: String,
    pub rights: Rights,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_mb: Option<u64>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: UploadMode,
}

fn root_at() -> String {
    "/".into()
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    /// PHC string (`$argon2id$…`); plaintext is never stored.
    pub password: String,
    /// Shorthand for a root mount (with `rights`, default r).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<Rights>,
    #[serde(default, rename = "mount", skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// Mount folders appear in the root listing; off: reachable by CWD only.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub show_mounts: bool,
    /// Simultaneous sessions of this user; 0 = unlimited.
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_sessions: u32,
    /// Per-user IP allow/deny patterns (exact, wildcard, CIDR); refused at login with 530.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<crate::access::IpPattern>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<crate::access::IpPattern>,
    /// Upload:download ratio such as "1:3", for the ratio plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    /// Bandwidth limits of this user (all of its sessions together), in KiB/s (0 = none); see `data::bandwidth`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub download_kib_s: u64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub upload_kib_s: u64,
    /// Folders of this user that others reach as `~name/...` (see `users::shares`).
    #[serde(default, rename = "share", skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<ShareEntry>,
}

/// One folder a user shares: `path` in the owner's view, who gets it (`with`: user names,
/// `@group`, or `*` for every user with a password), and with which rights (at most the
/// owner's own there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareEntry {
    pub path: String,
    pub with: Vec<String>,
    pub rights: Rights,
}

impl UserEntry {
    pub fn new(name: &str, password_hash: String, home: PathBuf, rights: Rights) -> UserEntry {
        UserEntry {
            name: name.into(),
            password: password_hash,
            home: Some(home),
            rights: Some(rights),
            mounts: Vec::new(),
            groups: Vec::new(),
            disabled: false,
            show_mounts: true,
            max_sessions: 0,
            allow: Vec::new(),
            deny: Vec::new(),
            ratio: None,
            download_kib_s: 0,
            upload_kib_s: 0,
            shares: Vec::new(),
        }
    }

    pub fn bandwidth(&self) -> Limits {
        Limits {
            download_kib_s: self.download_kib_s,
            upload_kib_s: self.upload_kib_s,
        }
    }

    pub fn ip_rules(&self) -> IpRules {
        IpRules {
            allow: self.allow.clone(),
            deny: self.deny.clone(),
        }
    }

    /// The user's own mounts, the `home` shorthand first.
    pub(super) fn own_mounts(&self) -> Vec<MountEntry> {
        let mut v = Vec::new();
        if let Some(home) = &self.home {
            v.push(MountEntry {
                path: home.clone(),
                at: "/".into(),
                rights: self.rights.unwrap_or(Rights::Read),
                quota_mb: None,
                mode: UploadMode::Atomic,
            });
        }
        v.extend(self.mounts.iter().cloned());
        v
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub name: String,
    #[serde(default, rename = "mount")]
    pub mounts: Vec<MountEntry>,
    /// Bandwidth limits of this group (all members' sessions together), in KiB/s (0 = none); see `data::bandwidth`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub download_kib_s: u64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub upload_kib_s: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnonymousEntry {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, rename = "mount")]
    pub mounts: Vec<MountEntry>,
    #[serde(default)]
    pub max_sessions: u32,
    /// Bandwidth limits of this anonymous account (all anonymous sessions together), in KiB/s (0 = none); see `data::bandwidth`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub download_kib_s: u64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub upload_kib_s: u64,
}

impl GroupEntry {
    pub fn bandwidth(&self) -> Limits {
        Limits {
            download_kib_s: self.download_kib_s,
            upload_kib_s: self.upload_kib_s,
        }
    }
}

impl AnonymousEntry {
    pub fn bandwidth(&self) -> Limits {
        Limits {
            download_kib_s: self.download_kib_s,
            upload_kib_s: self.upload_kib_s,
        }
    }
}
