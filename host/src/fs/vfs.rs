//! A user's view: the root mount, mount folders in the root (`/music`), folders other users
//! share with this one (`/~bob/public`, under the virtual folder `/~bob`), and the virtual
//! message file. `locate` maps a virtual path to the mount that owns it. Pure except for the
//! sandboxes it holds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::entry_stream::EntryStream;
use super::listing::EntryInfo;
use super::quota::Quota;
pub use super::storage::Readable;
use super::storage::Storage;
use super::{FsError, Rights, VirtualPath};
use crate::users::file::UploadMode;

pub struct Mount {
    /// Where it appears: the root, `/name`, or for a share `/~owner/path`.
    pub at: VirtualPath,
    pub real: PathBuf,
    pub storage: Storage,
    pub rights: Rights,
    pub quota: Option<Arc<Quota>>,
    pub mode: UploadMode,
    /// For a share: the folder's path in the owner's tree and the folder it named when the
    /// view was built. If the owner moves the folder away, the share is gone (it follows the
    /// path, not the open folder, which may now be somewhere private).
    pub origin: Option<ShareOrigin>,
}

pub struct ShareOrigin {
    pub path: PathBuf,
    pub identity: (u64, u64),
}

impl Mount {
    /// Whether the mount still shows what it was built for (always, but for a share whose
    /// folder was moved or replaced).
    pub fn still_there(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match &self.origin {
            None => true,
            Some(o) => std::fs::metadata(&o.path).is_ok_and(|m| (m.dev(), m.ino()) == o.identity),
        }
    }
}

/// The message file from the config: listed in the root, downloadable, never writable.
pub struct VirtualFile {
    pub name: String,
    pub bytes: Arc<[u8]>,
    pub modified: SystemTime,
}

pub struct Vfs {
    /// `mounts[0]` is the root.
    pub mounts: Vec<Mount>,
    pub show_mounts: bool,
    pub message: Option<Arc<VirtualFile>>,
}

/// The root-folder name under which `owner`'s shares appear (`~bob`).
pub fn share_folder(owner: &str) -> String {
    format!("~{owner}")
}

/// Where a virtual path lives.
pub enum Target<'a> {
    /// In `mount`, at `rel` (relative to the mount's root; root = the mount point itself).
    Real {
        mount: &'a Mount,
        rel: VirtualPath,
    },
    Message(&'a Arc<VirtualFile>),
    /// A folder that only leads to shares (`/~bob` when bob shares `/public`): listable,
    /// nothing else. Holds the names of the folders in it.
    Virtual(Vec<String>),
    /// Under another user's share folder but not shared (`/~bob/private`): does not exist.
    Absent,
}

impl Vfs {
    pub fn root(&self) -> &Mount {
        &self.mounts[0]
    }

    /// Upload temporaries of any session are invisible to every command: a path through one
    /// does not exist (creating one is refused by `check_writable_name`).
    pub(super) fn visible(p: &VirtualPath) -> Result<(), FsError> {
        if p.components().any(super::temp_name::is_temp_name) {
            return Err(FsError::NotFound);
        }
        Ok(())
    }

    pub fn locate(&self, p: &VirtualPath) -> Target<'_> {
        // The deepest mount that holds `p` (a share may lie inside another share).
        if let Some(m) = self.mounts[1..]
            .iter()
            .filter(|m| p.starts_with(&m.at) && m.still_there())
            .max_by_key(|m| m.at.len())
        {
            return Target::Real {
                mount: m,
                rel: p.strip_prefix_len(m.at.len()),
            };
        }
        if let Some(first) = p.first() {
            if self.is_share_folder(first) {
                let mut names: Vec<String> = self.mounts[1..]
                    .iter()
                    .filter(|m| m.at.len() > p.len() && m.at.starts_with(p) && m.still_there())
                    .filter_map(|m| m.at.component(p.len()).map(str::to_string))
                    .collect();
                names.sort();
                names.dedup();
                return if names.is_empty() {
                    Target::Absent
                } else {
                    Target::Virtual(names)
                };
            }
            if let Some(msg) = &self.message
                && p.len() == 1
                && msg.name == first
            {
                return Target::Message(msg);
            }
        }
        Target::Real {
            mount: self.root(),
            rel: p.clone(),
        }
    }

    /// Whether `name` in the root is another user's share folder (`~bob`) in this view.
    pub fn is_share_folder(&self, name: &str) -> bool {
        name.starts_with('~') && self.mounts[1..].iter().any(|m| m.at.first() == Some(name))
    }

    /// The share folder a client wrote as `~name` (user names are case-insensitive).
    pub fn share_folder_named(&self, written: &str) -> Option<&str> {
        self.mounts[1..]
            .iter()
            .filter_map(|m| m.at.first())
            .find(|f| f.starts_with('~') && f.eq_ignore_ascii_case(written))
    }

    /// Extra entries of the root listing (mount folders, message file); real entries with the
    /// same names are hidden behind them.
    pub fn root_extras(&self) -> Vec<EntryInfo> {
        let mut v = Vec::new();
        if self.show_mounts {
            // Own mount folders; share folders are reached by name (`CWD ~bob`), not listed.
            // (Own mount names never start with `~`: the users file refuses them.)
            for m in self.mounts[1..]
                .iter()
                .filter(|m| m.at.len() == 1 && !m.at.first().unwrap_or_default().starts_with('~'))
            {
                let name = m.at.first().unwrap_or_default().to_string();
                let modified = m
                    .storage
                    .stat(&VirtualPath::root())
                    .map(|e| e.modified)
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                v.push(EntryInfo {
                    name,
                    is_dir: true,
                    size: 0,
                    modified,
                    mode: 0o755,
                });
            }
        }
        if let Some(msg) = &self.message {
            v.push(message_info(msg));
        }
        v
    }

    /// Names in the root that a real entry must not use (mount names, share folders, the
    /// message file).
    pub fn reserved_root_name(&self, name: &str) -> bool {
        self.mounts[1..].iter().any(|m| m.at.first() == Some(name))
            || self.message.as_ref().is_some_and(|m| m.name == name)
    }

    /// Lists a directory: real entries, plus (at the root) mount folders and the message file.
    pub fn list(&self, p: &VirtualPath) -> Result<Vec<EntryInfo>, FsError> {
        Ok(self.list_stream(p)?.collect())
    }

    /// As [`Vfs::list`], read as it is consumed (see [`EntryStream`]).
    pub fn list_stream(&self, p: &VirtualPath) -> Result<EntryStream, FsError> {
        Self::visible(p)?;
        match self.locate(p) {
            Target::Message(_) => Err(FsError::NotADirectory),
            Target::Absent => Err(FsError::NotFound),
            Target::Virtual(names) => Ok(EntryStream::known(
                names
                    .into_iter()
                    .map(|name| {
                        let modified = self
                            .stat(&p.join(&name))
                            .map(|e| e.modified)
                            .unwrap_or(SystemTime::UNIX_EPOCH);
                        virtual_folder(name, modified)
                    })
                    .collect(),
            )),
            Target::Real { mount, rel } => {
                let entries = mount.storage.list_stream(&rel)?;
                Ok(if p.is_root() {
                    entries.with_root(|n| self.reserved_root_name(n), self.root_extras())
                } else {
                    entries
                })
            }
        }
    }

    /// The rights that apply at `p`: its mount's; read-only for what no mount holds.
    pub fn rights_at(&self, p: &VirtualPath) -> Rights {
        match self.locate(p) {
            Target::Real { mount, .. } => mount.rights,
            Target::Message(_) | Target::Virtual(_) | Target::Absent => Rights::Read,
        }
    }

    pub fn stat(&self, p: &VirtualPath) -> Result<EntryInfo, FsError> {
        Self::visible(p)?;
        match self.locate(p) {
            Target::Message(m) => Ok(message_info(m)),
            Target::Absent => Err(FsError::NotFound),
            Target::Virtual(_) => Ok(virtual_folder(
                p.file_name().unwrap_or_default().to_string(),
                SystemTime::UNIX_EPOCH,
            )),
            Target::Real { mount, rel } => {
                let mut e = mount.storage.stat(&rel)?;
                if let Some(name) = p.file_name() {
                    e.name = name.to_string();
                }
                Ok(e)
            }
        }
    }
}

/// A folder that exists only in the view (a share folder): read-only, owned by no one.
fn virtual_folder(name: String, modified: SystemTime) -> EntryInfo {
    EntryInfo {
        name,
        is_dir: true,
        size: 0,
        modified,
        mode: 0o555,
    }
}

pub fn message_info(m: &VirtualFile) -> EntryInfo {
    EntryInfo {
        name: m.name.clone(),
        is_dir: false,
        size: m.bytes.len() as u64,
        modified: m.modified,
        mode: 0o444,
    }
}

impl Vfs {
    /// The real path behind a virtual one (for upload-complete actions).
    pub fn real_path(&self, p: &VirtualPath) -> Option<PathBuf> {
        match self.locate(p) {
            // An object has no local path a program could open.
            Target::Real { mount, rel } if mount.storage.local().is_some() => {
                Some(mount.real.join(rel.relative()))
            }
            _ => None,
        }
    }

    pub fn is_dir(&self, p: &VirtualPath) -> Result<bool, FsError> {
        Self::visible(p)?;
        match self.locate(p) {
            Target::Message(_) => Ok(false),
            Target::Virtual(_) => Ok(true),
            Target::Absent => Err(FsError::NotFound),
            Target::Real { mount, rel } => mount.storage.is_dir(&rel),
        }
    }

    /// Refuses names in the root that belong to a mount folder or the message file.
    fn check_writable_name(&self, p: &VirtualPath) -> Result<(), FsError> {
        if p.len() == 1 && p.first().is_some_and(|n| self.reserved_root_name(n)) {
            return Err(FsError::Reserved("a mount folder or the message file"));
        }
        if p.file_name().is_some_and(super::temp_name::is_temp_name) {
            return Err(FsError::Reserved("upload temporaries"));
        }
        Ok(())
    }

    pub fn mkdir(&self, p: &VirtualPath) -> Result<(), FsError> {
        self.check_writable_name(p)?;
        match self.locate(p) {
            Target::Message(_) | Target::Virtual(_) => Err(FsError::Exists),
            Target::Absent => Err(FsError::Reserved("another user's share folder")),
            Target::Real { mount, rel } => {
                if let Some(q) = &mount.quota
                    && !q.try_reserve(super::quota::FOLDER_BYTES)
                {
                    return Err(FsError::QuotaFull(format!(
                        "{}; a folder counts {} KiB",
                        q.describe(),
                        super::quota::FOLDER_BYTES / 1024
                    )));
                }
                let made = mount.storage.mkdir(&rel);
                if made.is_err()
                    && let Some(q) = &mount.quota
                {
                    q.release(super::quota::FOLDER_BYTES);
                }
                made
            }
        }
    }

    pub fn rmdir(&self, p: &VirtualPath) -> Result<(), FsError> {
        Self::visible(p)?;
        match self.locate(p) {
            Target::Message(_) => Err(FsError::NotADirectory),
            Target::Absent => Err(FsError::NotFound),
            Target::Virtual(_) => Err(FsError::Reserved("a share folder")),
            Target::Real { rel, .. } if rel.is_root() => Err(FsError::Reserved("a mount folder")),
            Target::Real { mount, rel } => {
                mount.storage.rmdir(&rel)?;
                if let Some(q) = &mount.quota {
                    q.release(super::quota::FOLDER_BYTES);
                }
                Ok(())
            }
        }
    }

    pub fn remove_file(&self, p: &VirtualPath) -> Result<(), FsError> {
        Self::visible(p)?;
        self.check_writable_name(p)?;
        match self.locate(p) {
            Target::Message(_) => Err(FsError::Reserved("the message file")),
            Target::Absent => Err(FsError::NotFound),
            Target::Virtual(_) => Err(FsError::Reserved("a share folder")),
            Target::Real { mount, rel } => {
                let _guard = mount.quota.as_ref().map(|q| q.replacing());
                let size = mount.storage.stat(&rel).map(|e| e.size).unwrap_or(0);
                mount.storage.remove_file(&rel)?;
                if let Some(q) = &mount.quota {
                    q.release(size);
                }
                Ok(())
            }
        }
    }

    /// Device and inode of the file at `p` (see [`Sandbox::take_file`]).
    pub fn file_identity(&self, p: &VirtualPath) -> Result<(u64, u64), FsError> {
        match self.locate(p) {
            Target::Real { mount, rel } => mount.storage.file_identity(&rel),
            _ => Err(FsError::NotAFile),
        }
    }

    /// A plugin's delete-file or quarantine-file action on an uploaded file: taken out of the
    /// view while `p` still holds that file (`identity`), its bytes leave the quota. No rights
    /// are asked: the host acts for the operator, on the one file the upload wrote.
    pub fn take_upload(
        &self,
        p: &VirtualPath,
        identity: (u64, u64),
        into: Option<(&std::path::Path, &str)>,
    ) -> Result<u64, FsError> {
        match self.locate(p) {
            Target::Real { mount, rel } => {
                let _guard = mount.quota.as_ref().map(|q| q.replacing());
                let Some(sandbox) = mount.storage.local() else {
                    return Err(FsError::Unsupported(
                        "plugin file actions act on local folders only",
                    ));
                };
                let size = sandbox.take_file(&rel, identity, into)?;
                if let Some(q) = &mount.quota {
                    q.release(size);
                }
                Ok(size)
            }
            _ => Err(FsError::NotFound),
        }
    }

    /// Renames within one mount; a file replaced by the rename leaves the quota.
    /// Whether `p` may be renamed at all (RNFR asks before RNTO names the target): not the
    /// root, a mount folder, the message file or an upload temporary.
    pub fn renamable(&self, p: &VirtualPath) -> Result<(), FsError> {
        Self::visible(p)?;
        self.check_writable_name(p)?;
        match self.locate(p) {
            Target::Real { rel, .. } if !rel.is_root() => Ok(()),
            Target::Absent => Err(FsError::NotFound),
            _ => Err(FsError::Reserved(
                "the root, a mount or share folder, or the message file",
            )),
        }
    }

    pub fn rename(&self, from: &VirtualPath, to: &VirtualPath) -> Result<(), FsError> {
        self.renamable(from)?;
        self.check_writable_name(to)?;
        match (self.locate(from), self.locate(to)) {
            (Target::Real { mount: a, rel: ra }, Target::Real { mount: b, rel: rb }) => {
                if !std::ptr::eq(a, b) {
                    return Err(FsError::CrossMount);
                }
                if ra.is_root() || rb.is_root() {
                    return Err(FsError::Reserved("a mount folder"));
                }
                if ra == rb {
                    // Onto itself: nothing moves and nothing is replaced (the quota keeps
                    // counting the one file).
                    return Ok(());
                }
                let _guard = a.quota.as_ref().map(|q| q.replacing());
                let replaced = a
                    .storage
                    .stat(&rb)
                    .ok()
                    .filter(|e| !e.is_dir)
                    .map(|e| e.size)
                    .unwrap_or(0);
                a.storage.rename(&ra, &rb)?;
                if let Some(q) = &a.quota {
                    q.release(replaced);
                }
                Ok(())
            }
            (_, Target::Absent) => Err(FsError::NotFound),
            _ => Err(FsError::Reserved("the message file or a share folder")),
        }
    }

    pub fn open_read(&self, p: &VirtualPath, offset: u64) -> Result<Readable, FsError> {
        Self::visible(p)?;
        match self.locate(p) {
            Target::Message(m) => Ok(Readable::Bytes(m.bytes.clone())),
            Target::Absent => Err(FsError::NotFound),
            Target::Virtual(_) => Err(FsError::IsADirectory),
            Target::Real { mount, rel } => mount.storage.open_read(&rel, offset),
        }
    }

    /// Opens an upload into `p` (see [`super::upload`]); `existing` is the target's size.
    pub fn open_upload(
        &self,
        p: &VirtualPath,
        kind: super::upload::UploadKind,
        existing: Option<u64>,
    ) -> Result<super::upload::UploadPlan, FsError> {
        self.check_writable_name(p)?;
        match self.locate(p) {
            Target::Message(_) => Err(FsError::Reserved("the message file")),
            Target::Absent => Err(FsError::Reserved("another user's share folder")),
            Target::Virtual(_) => Err(FsError::IsADirectory),
            Target::Real { mount, rel } => {
                if rel.is_root() {
                    return Err(FsError::IsADirectory);
                }
                // A replacement may reuse the space of what it replaces.
                let replacing = match kind {
                    super::upload::UploadKind::Store | super::upload::UploadKind::Resume(_) => {
                        existing.unwrap_or(0)
                    }
                    _ => 0,
                };
                if let Some(q) = &mount.quota
                    && q.used() >= q.limit().saturating_add(replacing)
                {
                    return Err(FsError::QuotaFull(q.describe()));
                }
                super::upload::UploadPlan::open(
                    &mount.storage,
                    mount.quota.clone(),
                    mount.mode,
                    &rel,
                    kind,
                    existing,
                    mount.rights.can_overwrite(),
                )
            }
        }
    }

    /// STOU: a fresh name in `dir` derived from `base`.
    pub fn open_unique(
        &self,
        dir: &VirtualPath,
        base: &str,
    ) -> Result<(super::upload::UploadPlan, VirtualPath), FsError> {
        let mut candidate = dir.resolve(base)?;
        for n in 1..1000u32 {
            if self.stat(&candidate).is_err()
                && !candidate
                    .file_name()
                    .is_some_and(|f| dir.is_root() && self.reserved_root_name(f))
            {
                match self.open_upload(&candidate, super::upload::UploadKind::Unique, None) {
                    Ok(plan) => return Ok((plan, candidate)),
                    Err(FsError::Exists) => {}
                    Err(e) => return Err(e),
                }
            }
            candidate = dir.resolve(&format!("{base}.{n}"))?;
        }
        Err(FsError::Exists)
    }
}
