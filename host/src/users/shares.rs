//! Shares: a user offers folders of its own view to other users and groups, who reach them as
//! `~owner/path` (CommuniGate's `~account/`). Pure: from the users file to the folders one user
//! is offered, each with its real directory, the granted rights and the owner's quota.

use std::path::PathBuf;

use super::entry::{ShareEntry, UploadMode, UserEntry};
use super::file::UsersFile;
use crate::fs::{Rights, VirtualPath};

/// The most shares one user is offered: each is checked on every path under `~owner`, and
/// a view is built at every login.
pub const MAX_SHARES_OFFERED: usize = 256;

/// A folder `owner` shares with the user at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedShare {
    pub owner: String,
    /// The folder in the owner's view (`/public`); it appears at `/~owner/public`.
    pub path: VirtualPath,
    /// The real root of the owner's mount that holds the folder: the share is opened from
    /// there (so a symlink in the owner's folder cannot lead out) and its quota is that mount's.
    pub mount_real: PathBuf,
    /// The folder inside that mount.
    pub inside: VirtualPath,
    pub rights: Rights,
    /// The owner's quota on that mount.
    pub quota_bytes: Option<u64>,
    pub mode: UploadMode,
}

/// Whether a share's `with` list names this user (by name, `@group` or `*`).
fn offered_to(share: &ShareEntry, user: &UserEntry) -> bool {
    share.with.iter().any(|w| match w.strip_prefix('@') {
        // `@staff` names the group only, never a user who calls itself "@staff".
        Some(g) => user.groups.iter().any(|x| x == g),
        None => w == "*" || w.eq_ignore_ascii_case(&user.name),
    })
}

impl UsersFile {
    /// The folders other (enabled) users share with `user`, in file order, at most
    /// [`MAX_SHARES_OFFERED`].
    pub fn shares_for(&self, user: &UserEntry) -> Vec<ResolvedShare> {
        let mut out = Vec::new();
        for owner in self
            .users
            .iter()
            .filter(|o| !o.disabled && !o.name.eq_ignore_ascii_case(&user.name))
        {
            for share in owner.shares.iter().filter(|s| offered_to(s, user)) {
                if out.len() == MAX_SHARES_OFFERED {
                    tracing::warn!(user = %user.name, "more than {MAX_SHARES_OFFERED} shares offered; the rest are left out");
                    return out;
                }
                if let Ok(r) = self.resolve_share(owner, share) {
                    out.push(r);
                }
            }
        }
        out
    }

    /// What the users file must get right about a share (checked when it is loaded): the
    /// path, the `with` list, and one entry per path. Rights beyond the owner's are not an
    /// error here (lowering a group's rights must not reject the whole file): they are cut
    /// to the owner's when the share is resolved; `ftpsd user share` refuses them.
    pub fn validate_share(&self, owner: &UserEntry, share: &ShareEntry) -> Result<(), String> {
        let path = share_path(&share.path)?;
        for w in &share.with {
            check_with(self, w)?;
        }
        self.mounts_of(owner)?;
        let same = owner
            .shares
            .iter()
            .filter(|s| share_path(&s.path).is_ok_and(|p| p == path))
            .count();
        if same > 1 {
            return Err(format!(
                "share {} is listed {same} times; merge them into one entry (with = [...])",
                share.path
            ));
        }
        Ok(())
    }

    /// Places a share in its owner's view: the owner's mount that holds `path`, with the
    /// rights granted cut to the owner's own there.
    pub fn resolve_share(
        &self,
        owner: &UserEntry,
        share: &ShareEntry,
    ) -> Result<ResolvedShare, String> {
        let path = share_path(&share.path)?;
        for w in &share.with {
            check_with(self, w)?;
        }
        let mounts = self.mounts_of(owner)?;
        let mount = mounts
            .iter()
            .skip(1)
            .find(|m| m.name.as_deref() == path.first())
            .unwrap_or(&mounts[0]);
        let inside = if mount.name.is_some() {
            path.strip_first()
        } else {
            path.clone()
        };
        let refuse = || {
            format!(
                "share {}: grants '{}' but {} has only '{}' there",
                share.path,
                share.rights.as_str(),
                owner.name,
                mount.rights.as_str()
            )
        };
        let rights = share.rights.meet(mount.rights).ok_or_else(refuse)?;
        if rights != share.rights {
            tracing::debug!(owner = %owner.name, share = %share.path, "share cut to the owner's rights");
        }
        Ok(ResolvedShare {
            owner: owner.name.clone(),
            path,
            mount_real: mount.real.clone(),
            inside,
            rights,
            quota_bytes: mount.quota_bytes,
            mode: mount.mode,
        })
    }
}

/// A share's path: absolute in the owner's view, no `.`/`..`, temporaries or control characters.
fn share_path(p: &str) -> Result<VirtualPath, String> {
    let bad = || {
        format!(
            "share path '{}' must be a folder such as /public (absolute, no . or ..)",
            p.escape_debug()
        )
    };
    if !p.starts_with('/') || p.chars().any(char::is_control) {
        return Err(bad());
    }
    if p.split('/')
        .any(|c| c == "." || c == ".." || crate::fs::temp_name::is_temp_name(c))
    {
        return Err(bad());
    }
    VirtualPath::root().resolve(p).map_err(|_| bad())
}

fn check_with(users: &UsersFile, w: &str) -> Result<(), String> {
    if w == "*" {
        return Ok(());
    }
    if let Some(g) = w.strip_prefix('@') {
        if users.groups.iter().any(|x| x.name == g) {
            return Ok(());
        }
        return Err(format!(
            "share with '@{g}': no such group (create it with: ftpsd group add {g})"
        ));
    }
    super::file::validate_name(w)
        .map_err(|e| format!("share with '{w}': {e} (a user name, @group or *)"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

    fn file(shares: &str) -> Result<UsersFile, super::super::UsersFileError> {
        let text = format!(
            r#"
[[user]]
name = "bob"
password = "{HASH}"
home = "bob"
rights = "a"
[[user.mount]]
path = "music"
at = "/music"
rights = "r"
quota_mb = 1
{shares}

[[user]]
name = "alice"
password = "{HASH}"
home = "alice"
groups = ["staff"]

[[user]]
name = "carol"
password = "{HASH}"
home = "carol"

[[group]]
name = "staff"
"#
        );
        UsersFile::parse(&text, Path::new("/srv/users.toml"))
    }

    #[test]
    fn a_share_reaches_the_users_and_groups_it_names() {
        let f = file(
            r#"[[user.share]]
path = "/public"
with = ["alice"]
rights = "r"
[[user.share]]
path = "/music/live"
with = ["@staff"]
rights = "r""#,
        )
        .unwrap();
        let alice = f.shares_for(f.find("alice").unwrap());
        assert_eq!(alice.len(), 2);
        assert_eq!(
            (
                alice[0].mount_real.as_path(),
                alice[0].inside.as_string().as_str()
            ),
            (Path::new("/srv/bob"), "/public")
        );
        assert_eq!(
            (
                alice[1].mount_real.as_path(),
                alice[1].inside.as_string().as_str()
            ),
            (Path::new("/srv/music"), "/live")
        );
        assert_eq!(alice[1].quota_bytes, Some(1024 * 1024));
        assert_eq!(alice[1].path.as_string(), "/music/live");
        assert!(f.shares_for(f.find("carol").unwrap()).is_empty());
        assert!(
            f.shares_for(f.find("bob").unwrap()).is_empty(),
            "not with oneself"
        );
    }

    #[test]
    fn a_share_never_grants_more_than_its_owner_has() {
        // bob has r on /music: an rw share is cut to r (the file stays valid, so lowering an
        // owner's rights never rejects the whole file), a w share gives nothing.
        let f = file(
            r#"[[user.share]]
path = "/music"
with = ["*"]
rights = "rw"
[[user.share]]
path = "/music/live"
with = ["*"]
rights = "w""#,
        )
        .unwrap();
        let alice = f.shares_for(f.find("alice").unwrap());
        assert_eq!(alice.len(), 1);
        assert_eq!(alice[0].rights, Rights::Read);
        let bob = f.find("bob").unwrap();
        let e = f.resolve_share(bob, &bob.shares[1]).unwrap_err();
        assert!(e.contains("grants 'w' but bob has only 'r'"), "{e}");
    }

    #[test]
    fn a_group_tag_is_never_a_user_name_and_one_path_is_one_entry() {
        let f = file(
            r#"[[user.share]]
path = "/public"
with = ["@staff"]
rights = "r"

[[user]]
name = "@staff"
password = "x"
home = "x""#,
        );
        // (A user named "@staff" may or may not be accepted; either way it gets nothing.)
        if let Ok(f) = f {
            assert!(f.shares_for(f.find("@staff").unwrap()).is_empty());
        }
        let e = file(
            "[[user.share]]\npath = \"/p\"\nwith = [\"alice\"]\nrights = \"r\"\n[[user.share]]\npath = \"/p/\"\nwith = [\"carol\"]\nrights = \"r\"",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("listed 2 times"), "{e}");
    }

    #[test]
    fn hostile_share_paths_and_unknown_groups_are_refused() {
        // As written in TOML (the last one is a BEL character).
        for bad in ["public", "/a/../..", "/./x", "/a\\u0007b"] {
            let e = file(&format!(
                "[[user.share]]\npath = \"{bad}\"\nwith = [\"*\"]\nrights = \"r\""
            ))
            .unwrap_err()
            .to_string();
            assert!(e.contains("must be a folder"), "{bad}: {e}");
        }
        let e = file("[[user.share]]\npath = \"/p\"\nwith = [\"@nobody\"]\nrights = \"r\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such group"), "{e}");
    }
}
