//! Changes to users and groups as data: what `ftpsd user mod`, the admin API and the web page
//! ask for. One implementation, so every way in validates the same; [`commit`] checks the
//! whole file before it is written (atomically, under the edit lock), so a refused change
//! changes nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::entry::{GroupEntry, MountEntry, UploadMode, UserEntry};
use super::file::{UsersFile, UsersFileError, check_ratio, validate_name};
use crate::access::IpPattern;
use crate::data::bandwidth::describe;
use crate::fs::Rights;

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("no user '{0}'")]
    NoSuchUser(String),
    #[error("no group '{0}'")]
    NoSuchGroup(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    File(#[from] UsersFileError),
    #[error(transparent)]
    Lock(#[from] super::edit_lock::EditLockError),
    #[error("{path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ManageError {
    /// The HTTP status the admin API answers with.
    pub fn status(&self) -> u16 {
        match self {
            ManageError::NoSuchUser(_) | ManageError::NoSuchGroup(_) => 404,
            ManageError::Conflict(_) => 409,
            ManageError::Invalid(_) | ManageError::File(UsersFileError::Invalid { .. }) => 400,
            ManageError::File(UsersFileError::Exists(_)) => 409,
            ManageError::File(UsersFileError::NoSuchUser(_)) => 404,
            _ => 500,
        }
    }
}

/// A new user. Without `password` one is generated and returned once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    /// Sent to the server in the request (over the 0600 socket or the token-protected API);
    /// hashed there, never stored or logged in clear.
    #[serde(default)]
    pub password: Option<String>,
    /// The root folder (created if missing); relative to the users file's folder.
    pub home: PathBuf,
    #[serde(default = "read_only")]
    pub rights: Rights,
    #[serde(default)]
    pub quota_mb: Option<u64>,
    #[serde(default)]
    pub groups: Vec<String>,
}

fn read_only() -> Rights {
    Rights::Read
}

/// What to change on a user; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserUpdate {
    pub join: Vec<String>,
    pub leave: Vec<String>,
    /// Rights on the user's own root "/".
    pub rights: Option<Rights>,
    /// Quota of the user's own root in MB; 0 removes it.
    pub quota_mb: Option<u64>,
    pub max_sessions: Option<u32>,
    pub download_kib_s: Option<u64>,
    pub upload_kib_s: Option<u64>,
    /// `1:3` or `none`.
    pub ratio: Option<String>,
    pub disabled: Option<bool>,
    /// A new password (hashed before it is stored; never written or logged in clear).
    pub password: Option<String>,
    /// Replace the user's IP allow / deny lists.
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
    /// Mounts to add or replace (same `at`), as `DIR:/name:RIGHTS[:QUOTA_MB]`.
    pub mount: Vec<String>,
    /// Mount points (`/name`, or `/` for the user's own root) to take away.
    pub unmount: Vec<String>,
}

/// A new group: mounts as `DIR:/name:RIGHTS[:QUOTA_MB]`, limits in KiB/s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub mounts: Vec<String>,
    #[serde(default)]
    pub download_kib_s: u64,
    #[serde(default)]
    pub upload_kib_s: u64,
}

/// `DIR:/name:RIGHTS[:QUOTA_MB]`, as the CLI's `--mount` takes it.
pub fn parse_mount(s: &str) -> Result<MountEntry, String> {
    // `s3://bucket/prefix:/name:RIGHTS`: the URL's own colon is not a separator.
    let (scheme, rest) = if crate::fs::object::is_object_url(s) {
        s.split_at(crate::fs::object::location::SCHEME.len())
    } else {
        ("", s)
    };
    let mut parts: Vec<String> = rest.split(':').map(str::to_string).collect();
    parts[0] = format!("{scheme}{}", parts[0]);
    let usage =
        || format!("'{s}' is not DIR:/name:RIGHTS[:QUOTA_MB] (DIR may be s3://bucket/prefix)");
    if parts.len() < 3 || parts.len() > 4 {
        return Err(usage());
    }
    let quota_mb = match parts.get(3) {
        Some(q) => Some(q.parse().map_err(|_| usage())?),
        None => None,
    };
    Ok(MountEntry {
        path: parts[0].clone().into(),
        at: parts[1].clone(),
        rights: Rights::parse(&parts[2])
            .ok_or_else(|| format!("'{}' is not one of r, w, rw, a", parts[2]))?,
        quota_mb,
        mode: UploadMode::Atomic,
    })
}

fn patterns(list: &[String], what: &str) -> Result<Vec<IpPattern>, ManageError> {
    list.iter()
        .map(|p| {
            p.parse()
                .map_err(|e| ManageError::Invalid(format!("{what} '{p}': {e}")))
        })
        .collect()
}

/// The root mount of `u`, turning the `home` shorthand into a mount when a field it cannot
/// carry (a quota) is set.
fn root_mount(u: &mut UserEntry) -> Option<&mut MountEntry> {
    if let Some(home) = u.home.take() {
        u.mounts.insert(
            0,
            MountEntry {
                path: home,
                at: "/".into(),
                rights: u.rights.take().unwrap_or(Rights::Read),
                quota_mb: None,
                mode: UploadMode::Atomic,
            },
        );
    }
    u.mounts.iter_mut().find(|m| m.at == "/")
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Applies `up` to user `name`; returns what changed, in words.
pub fn update_user(
    users: &mut UsersFile,
    name: &str,
    up: &UserUpdate,
) -> Result<Vec<String>, ManageError> {
    let u = users
        .find_mut(name)
        .ok_or_else(|| ManageError::NoSuchUser(name.into()))?;
    let mut said = Vec::new();
    for g in &up.join {
        if u.groups.iter().any(|x| x == g) {
            said.push(format!("already in group {g}"));
        } else {
            u.groups.push(g.clone());
            said.push(format!("joined group {g}"));
        }
    }
    for g in &up.leave {
        let before = u.groups.len();
        u.groups.retain(|x| x != g);
        if u.groups.len() == before {
            return Err(ManageError::Invalid(format!(
                "'{name}' is not in group '{g}' (groups: {})",
                or_none(&u.groups)
            )));
        }
        said.push(format!("left group {g}"));
    }
    if up.rights.is_some() || up.quota_mb.is_some() {
        let Some(root) = root_mount(u) else {
            return Err(ManageError::Invalid(format!(
                "'{name}' has no mount at \"/\" of their own (their root comes from a group); change the group instead"
            )));
        };
        if let Some(r) = up.rights {
            root.rights = r;
            said.push(format!("rights on / {}", r.as_str()));
        }
        if let Some(q) = up.quota_mb {
            root.quota_mb = (q > 0).then_some(q);
            said.push(if q > 0 {
                format!("quota on / {q} MB")
            } else {
                "no quota on /".into()
            });
        }
    }
    if let Some(n) = up.max_sessions {
        u.max_sessions = n;
        said.push(format!("max sessions {n}"));
    }
    if let Some(n) = up.download_kib_s {
        u.download_kib_s = n;
        said.push(format!("download limit {}", describe(n)));
    }
    if let Some(n) = up.upload_kib_s {
        u.upload_kib_s = n;
        said.push(format!("upload limit {}", describe(n)));
    }
    if let Some(r) = &up.ratio {
        check_ratio(r).map_err(|e| ManageError::Invalid(format!("ratio: {e}")))?;
        u.ratio = Some(r.clone());
        said.push(format!("ratio {r}"));
    }
    if let Some(d) = up.disabled {
        u.disabled = d;
        said.push(if d { "disabled" } else { "enabled" }.into());
    }
    if let Some(p) = &up.password {
        if p.is_empty() || p.chars().any(char::is_control) {
            return Err(ManageError::Invalid(
                "the password must not be empty or contain control characters".into(),
            ));
        }
        u.password = super::password::hash(p);
        said.push("password changed".into());
    }
    if let Some(list) = &up.allow {
        u.allow = patterns(list, "allow")?;
        said.push(format!("IP allow {}", or_none(list)));
    }
    if let Some(list) = &up.deny {
        u.deny = patterns(list, "deny")?;
        said.push(format!("IP deny {}", or_none(list)));
    }
    for m in &up.mount {
        let entry = parse_mount(m).map_err(ManageError::Invalid)?;
        if entry.at == "/" {
            // A `home` shorthand becomes a mount first, so it is replaced, not doubled.
            root_mount(u);
        }
        let text = format!(
            "{} at {} ({})",
            entry.path.display(),
            entry.at,
            entry.rights.as_str()
        );
        match u.mounts.iter_mut().find(|x| x.at == entry.at) {
            Some(x) => {
                *x = entry;
                said.push(format!("mount replaced: {text}"));
            }
            None => {
                u.mounts.push(entry);
                said.push(format!("mount added: {text}"));
            }
        }
    }
    for at in &up.unmount {
        if at == "/" {
            root_mount(u);
        }
        let before = u.mounts.len();
        u.mounts.retain(|x| x.at != *at);
        if u.mounts.len() == before {
            let own: Vec<String> = u.mounts.iter().map(|x| x.at.clone()).collect();
            return Err(ManageError::Invalid(format!(
                "'{name}' has no mount of their own at '{at}' (theirs: {}; group mounts change with the group)",
                or_none(&own)
            )));
        }
        said.push(format!("mount at {at} removed"));
    }
    if said.is_empty() {
        return Err(ManageError::Invalid(
            "nothing to change: give groups to join or leave, rights, quota, max sessions, limits, ratio, disabled, password, allow, deny, mount or unmount".into(),
        ));
    }
    Ok(said)
}

/// A user added: the password generated when none was given, and the user's folders (checked
/// to be folders or creatable; the caller creates them once the file is saved).
pub struct AddedUser {
    pub generated_password: Option<String>,
    pub folders: Vec<PathBuf>,
}

/// Adds a user.
pub fn add_user(users: &mut UsersFile, new: &NewUser) -> Result<AddedUser, ManageError> {
    validate_name(&new.name).map_err(ManageError::Invalid)?;
    let (pass, generated) = match &new.password {
        Some(p) if p.is_empty() || p.chars().any(char::is_control) => {
            return Err(ManageError::Invalid(
                "the password must not be empty or contain control characters".into(),
            ));
        }
        Some(p) => (p.clone(), None),
        None => {
            let p = super::password::random_password();
            (p.clone(), Some(p))
        }
    };
    let mut entry = UserEntry::new(
        &new.name,
        super::password::hash(&pass),
        new.home.clone(),
        new.rights,
    );
    if let Some(q) = new.quota_mb.filter(|q| *q > 0) {
        root_mount(&mut entry).expect("home was set").quota_mb = Some(q);
    }
    entry.groups = new.groups.clone();
    users.add(entry)?;
    let user = users.users.last().expect("just added");
    let folders: Vec<PathBuf> = users
        .mounts_of(user)
        .map_err(|e| ManageError::Invalid(format!("user '{}': {e}", new.name)))?
        .into_iter()
        .map(|m| m.real)
        .collect();
    for f in &folders {
        can_be_folder(f)?;
    }
    Ok(AddedUser {
        generated_password: generated,
        folders,
    })
}

/// The folders of the mounts `up` adds, checked to be folders or creatable (the caller
/// creates them with [`create_folders`]).
pub fn new_mount_folders(users: &UsersFile, up: &UserUpdate) -> Result<Vec<PathBuf>, ManageError> {
    let mut out = Vec::new();
    for m in &up.mount {
        let entry = parse_mount(m).map_err(ManageError::Invalid)?;
        let real = users.resolve_path(&entry.path);
        can_be_folder(&real)?;
        out.push(real);
    }
    Ok(out)
}

/// Creates those of `folders` that do not exist yet; returns them, absolute, for the
/// operator to see (a typo in a mount path shows as a new folder, not as silence).
pub fn create_missing(folders: &[PathBuf]) -> Result<Vec<String>, ManageError> {
    let missing: Vec<PathBuf> = folders.iter().filter(|f| !f.is_dir()).cloned().collect();
    create_folders(&missing)?;
    Ok(missing.iter().map(|f| f.display().to_string()).collect())
}

/// Creates the folders of a user just added (after the file is saved).
pub fn create_folders(folders: &[PathBuf]) -> Result<(), ManageError> {
    for d in folders {
        std::fs::create_dir_all(d).map_err(|source| ManageError::Folder {
            path: d.clone(),
            source,
        })?;
    }
    Ok(())
}

pub fn delete_user(users: &mut UsersFile, name: &str) -> Result<(), ManageError> {
    users
        .remove(name)
        .map_err(|_| ManageError::NoSuchUser(name.into()))?;
    Ok(())
}

pub fn add_group(users: &mut UsersFile, new: &NewGroup) -> Result<(), ManageError> {
    validate_name(&new.name).map_err(ManageError::Invalid)?;
    if users.groups.iter().any(|g| g.name == new.name) {
        return Err(ManageError::Conflict(format!(
            "group '{}' already exists",
            new.name
        )));
    }
    let mounts = new
        .mounts
        .iter()
        .map(|m| parse_mount(m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ManageError::Invalid)?;
    users.groups.push(GroupEntry {
        name: new.name.clone(),
        mounts,
        download_kib_s: new.download_kib_s,
        upload_kib_s: new.upload_kib_s,
    });
    Ok(())
}

/// Deletes a group; refused while users are in it unless `force` takes them out. What was
/// shared with the group goes with it.
pub fn delete_group(
    users: &mut UsersFile,
    name: &str,
    force: bool,
) -> Result<Vec<String>, ManageError> {
    let Some(i) = users.groups.iter().position(|g| g.name == name) else {
        return Err(ManageError::NoSuchGroup(name.into()));
    };
    let members: Vec<String> = users
        .users
        .iter()
        .filter(|u| u.groups.iter().any(|g| g == name))
        .map(|u| u.name.clone())
        .collect();
    if !members.is_empty() && !force {
        return Err(ManageError::Conflict(format!(
            "group '{name}' has members ({}); take them out first, or delete it with --force (API: ?force=true)",
            members.join(", ")
        )));
    }
    let tag = format!("@{name}");
    for u in &mut users.users {
        u.groups.retain(|g| g != name);
        for s in &mut u.shares {
            s.with.retain(|w| *w != tag);
        }
        u.shares.retain(|s| !s.with.is_empty());
    }
    users.groups.remove(i);
    Ok(members)
}

/// Whether `p` is a folder or can be made one (its nearest existing ancestor is a folder).
pub fn can_be_folder(p: &Path) -> Result<(), ManageError> {
    let mut at = Some(p);
    while let Some(q) = at {
        match std::fs::metadata(q) {
            Ok(md) if md.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(ManageError::Invalid(format!(
                    "{} is not a folder",
                    q.display()
                )));
            }
            Err(_) => at = q.parent(),
        }
    }
    Ok(())
}

/// Validates the whole file as it would be read back, then writes it atomically.
pub fn commit(users: &UsersFile) -> Result<(), ManageError> {
    let text = toml::to_string(users).map_err(|e| ManageError::Invalid(e.to_string()))?;
    UsersFile::parse(&text, &users.path)?;
    users.save()?;
    Ok(())
}

/// Loads the users file under the edit lock, applies `change`, validates, saves: the whole of
/// one change as the admin API makes it.
pub fn edit<T>(
    path: &Path,
    change: impl FnOnce(&mut UsersFile) -> Result<T, ManageError>,
) -> Result<T, ManageError> {
    let _lock = super::edit_lock::EditLock::acquire(path)?;
    let mut users = UsersFile::load(path)?;
    let out = change(&mut users)?;
    commit(&users)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mount_argument_may_name_a_bucket() {
        let m = super::parse_mount("s3://archive/dave:/archive:a:100").unwrap();
        assert_eq!(m.path, std::path::PathBuf::from("s3://archive/dave"));
        assert_eq!((m.at.as_str(), m.quota_mb), ("/archive", Some(100)));
        let m = super::parse_mount("/srv/x:/x:r").unwrap();
        assert_eq!(m.path, std::path::PathBuf::from("/srv/x"));
        assert!(super::parse_mount("s3://a:b").is_err());
    }

    use super::*;

    fn users() -> UsersFile {
        let mut f = UsersFile::parse("", Path::new("/srv/users.toml")).unwrap();
        add_user(
            &mut f,
            &NewUser {
                name: "bob".into(),
                password: Some("pw".into()),
                home: "bob".into(),
                rights: Rights::All,
                quota_mb: Some(5),
                groups: vec![],
            },
        )
        .unwrap();
        f
    }

    #[test]
    fn an_update_changes_what_it_names_and_says_so() {
        let mut f = users();
        let up = UserUpdate {
            rights: Some(Rights::Read),
            quota_mb: Some(0),
            disabled: Some(true),
            deny: Some(vec!["10.0.0.0/8".into()]),
            ..Default::default()
        };
        let said = update_user(&mut f, "bob", &up).unwrap();
        assert_eq!(
            said,
            [
                "rights on / r",
                "no quota on /",
                "disabled",
                "IP deny 10.0.0.0/8"
            ]
        );
        let bob = f.find("bob").unwrap();
        assert!(bob.disabled);
        assert_eq!(bob.mounts[0].quota_mb, None);
        assert_eq!(bob.mounts[0].rights, Rights::Read);
    }

    #[test]
    fn bad_updates_are_refused_with_their_reason() {
        let mut f = users();
        let bad = |up: UserUpdate| {
            update_user(&mut users(), "bob", &up)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(UserUpdate::default()).contains("nothing to change"));
        assert!(
            bad(UserUpdate {
                ratio: Some("lots".into()),
                ..Default::default()
            })
            .contains("ratio")
        );
        assert!(
            bad(UserUpdate {
                allow: Some(vec!["10.0.0.0/99".into()]),
                ..Default::default()
            })
            .contains("allow '10.0.0.0/99'")
        );
        assert!(
            bad(UserUpdate {
                password: Some("a\nb".into()),
                ..Default::default()
            })
            .contains("control")
        );
        assert_eq!(
            update_user(&mut f, "nobody", &UserUpdate::default())
                .unwrap_err()
                .status(),
            404
        );
    }

    #[test]
    fn mounts_are_added_replaced_and_removed_by_their_point() {
        let mut f = users();
        let up = UserUpdate {
            mount: vec!["/srv/pub:/pub:r".into(), "/srv/in:/in:w:10".into()],
            ..Default::default()
        };
        let said = update_user(&mut f, "bob", &up).unwrap();
        assert_eq!(said[0], "mount added: /srv/pub at /pub (r)");
        let bob = f.find("bob").unwrap();
        assert_eq!(
            bob.mounts.iter().map(|m| m.at.as_str()).collect::<Vec<_>>(),
            ["/", "/pub", "/in"]
        );
        assert_eq!(bob.mounts[2].quota_mb, Some(10));
        let up = UserUpdate {
            mount: vec!["/srv/pub2:/pub:rw".into()],
            unmount: vec!["/in".into()],
            ..Default::default()
        };
        let said = update_user(&mut f, "bob", &up).unwrap();
        assert_eq!(
            said,
            [
                "mount replaced: /srv/pub2 at /pub (rw)",
                "mount at /in removed"
            ]
        );
        let bob = f.find("bob").unwrap();
        assert_eq!(bob.mounts.len(), 2);
        assert_eq!(bob.mounts[1].rights, Rights::ReadWrite);
        // What is not there, or is not a mount, is refused with the reason.
        let err = update_user(
            &mut f,
            "bob",
            &UserUpdate {
                unmount: vec!["/nope".into()],
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no mount of their own at '/nope'"), "{err}");
        let err = update_user(
            &mut f,
            "bob",
            &UserUpdate {
                mount: vec!["/srv/x:rw".into()],
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("DIR:/name:RIGHTS"), "{err}");
        // A home shorthand is a mount at "/" that can be replaced.
        let mut g = UsersFile::parse("", Path::new("/srv/users.toml")).unwrap();
        let c = NewUser {
            name: "c".into(),
            password: Some("pw".into()),
            home: "c".into(),
            rights: Rights::Read,
            quota_mb: None,
            groups: vec![],
        };
        add_user(&mut g, &c).unwrap();
        assert!(g.find("c").unwrap().home.is_some());
        update_user(
            &mut g,
            "c",
            &UserUpdate {
                mount: vec!["/srv/c2:/:rw".into()],
                ..Default::default()
            },
        )
        .unwrap();
        let c = g.find("c").unwrap();
        assert!(c.home.is_none());
        assert_eq!(c.mounts.len(), 1);
        assert_eq!(c.mounts[0].path, PathBuf::from("/srv/c2"));
    }

    #[test]
    fn groups_with_members_need_force_and_take_their_shares_along() {
        let mut f = users();
        add_group(
            &mut f,
            &NewGroup {
                name: "staff".into(),
                mounts: vec!["/srv/s:/s:rw".into()],
                download_kib_s: 0,
                upload_kib_s: 0,
            },
        )
        .unwrap();
        assert_eq!(
            add_group(
                &mut f,
                &NewGroup {
                    name: "staff".into(),
                    mounts: vec![],
                    download_kib_s: 0,
                    upload_kib_s: 0
                }
            )
            .unwrap_err()
            .status(),
            409
        );
        update_user(
            &mut f,
            "bob",
            &UserUpdate {
                join: vec!["staff".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            delete_group(&mut f, "staff", false).unwrap_err().status(),
            409
        );
        assert_eq!(delete_group(&mut f, "staff", true).unwrap(), ["bob"]);
        assert!(f.find("bob").unwrap().groups.is_empty());
        assert_eq!(
            delete_group(&mut f, "staff", true).unwrap_err().status(),
            404
        );
    }
}
