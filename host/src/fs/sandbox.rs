//! Real filesystem access beneath one directory, through cap-std: every open is resolved by
//! cap-std relative to the user's root handle, so `..`, absolute paths and symlinks that
//! point outside fail in the resolver itself, not in string checks.
//! All calls block; the session runs them on the blocking pool.

use std::io::{Seek, SeekFrom};
use std::time::SystemTime;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, OpenOptions};

use super::entry_stream::EntryStream;
use super::listing::EntryInfo;
use super::packed_names::PackedNames;
use super::{PathError, VirtualPath};
use crate::protocol::Code;

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("No such file or directory.")]
    NotFound,
    #[error("Permission denied.")]
    Denied,
    #[error("File exists.")]
    Exists,
    #[error("Not a directory.")]
    NotADirectory,
    #[error("Is a directory.")]
    IsADirectory,
    #[error("Not a regular file.")]
    NotAFile,
    #[error("Directory not empty.")]
    NotEmpty,
    #[error("No space left on device.")]
    NoSpace,
    #[error("Invalid file name: {0}")]
    BadName(#[from] PathError),
    #[error("Local error: {0}")]
    Io(std::io::Error),
    #[error("Operation not allowed on {0}.")]
    Reserved(&'static str),
    #[error("Cannot rename between different mount folders.")]
    CrossMount,
    #[error("Quota exceeded ({0}).")]
    QuotaFull(String),
    #[error("File busy: another upload is writing it; try again when it has finished.")]
    Busy,
    /// The name no longer holds the file an action was meant for (a newer upload replaced it).
    #[error("The file was replaced in the meantime.")]
    Replaced,
    /// An object-storage request failed; the details are in the server log.
    #[error("Object storage error ({0}); try again later.")]
    Store(String),
    /// An operation the mount's storage cannot do (object storage: append, set a time).
    #[error("Not supported on this folder: {0}.")]
    Unsupported(&'static str),
    /// Refused by a storage limit, with the reason and what to do instead.
    #[error("{0}")]
    Refused(String),
}

impl FsError {
    /// The FTP reply for this error: 550 for the file's own state, 553 for a name the server
    /// will not take, 452 for a full disk, 451 for a local I/O failure.
    pub fn code(&self) -> Code {
        match self {
            FsError::NotFound
            | FsError::Denied
            | FsError::Exists
            | FsError::NotADirectory
            | FsError::IsADirectory
            | FsError::NotAFile
            | FsError::NotEmpty => Code::FILE_UNAVAILABLE,
            FsError::BadName(_) | FsError::Reserved(_) => Code::NAME_NOT_ALLOWED,
            FsError::CrossMount => Code::FILE_UNAVAILABLE,
            FsError::QuotaFull(_) => Code::STORAGE_EXCEEDED,
            FsError::NoSpace => Code::NO_SPACE,
            FsError::Io(_) => Code::LOCAL_ERROR,
            FsError::Busy | FsError::Replaced => Code::FILE_BUSY,
            FsError::Store(_) => Code::LOCAL_ERROR,
            FsError::Unsupported(_) => Code::BAD_PARAMETER,
            FsError::Refused(_) => Code::FILE_UNAVAILABLE,
        }
    }
}

impl From<std::io::Error> for FsError {
    fn from(e: std::io::Error) -> FsError {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::NotFound => FsError::NotFound,
            K::PermissionDenied => FsError::Denied,
            K::AlreadyExists => FsError::Exists,
            K::NotADirectory => FsError::NotADirectory,
            K::IsADirectory => FsError::IsADirectory,
            K::DirectoryNotEmpty => FsError::NotEmpty,
            K::StorageFull => FsError::NoSpace,
            K::InvalidInput | K::InvalidFilename => FsError::Denied,
            _ => match e.raw_os_error() {
                Some(libc::ELOOP) | Some(libc::EXDEV) => FsError::Denied,
                _ => FsError::Io(e),
            },
        }
    }
}

/// How an upload opens its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// New file only (drop box).
    CreateNew,
    /// Create or truncate.
    Replace,
    /// APPE: create or append.
    Append,
    /// REST n + STOR: write from offset n, keeping what is before it.
    Resume(u64),
}

pub struct Sandbox {
    root: Dir,
}

impl Sandbox {
    pub fn open(home: &std::path::Path) -> Result<Sandbox, FsError> {
        Ok(Sandbox {
            root: Dir::open_ambient_dir(home, ambient_authority())?,
        })
    }

    /// A sandbox rooted at a folder inside `root`, opened through `root`'s sandbox so that
    /// no symlink on the way leads outside it (a shared folder of another user's view).
    pub fn open_within(root: &std::path::Path, inside: &VirtualPath) -> Result<Sandbox, FsError> {
        let outer = Dir::open_ambient_dir(root, ambient_authority())?;
        if inside.is_root() {
            return Ok(Sandbox { root: outer });
        }
        Ok(Sandbox {
            root: outer.open_dir(inside.relative())?,
        })
    }

    /// Device and inode of the root folder: whether a path still names this folder.
    pub fn identity(&self) -> Option<(u64, u64)> {
        use cap_std::fs::MetadataExt;
        self.root.dir_metadata().ok().map(|m| (m.dev(), m.ino()))
    }

    pub fn stat(&self, p: &VirtualPath) -> Result<EntryInfo, FsError> {
        let md = self
            .root
            .metadata(p.relative())
            .map_err(|e| self.unseen(p, e.into()))?;
        Ok(info(p.file_name().unwrap_or("/").to_string(), &md))
    }

    pub fn is_dir(&self, p: &VirtualPath) -> Result<bool, FsError> {
        Ok(self
            .root
            .metadata(p.relative())
            .map_err(|e| self.unseen(p, e.into()))?
            .is_dir())
    }

    /// Whether `p` or a folder on its way is a symlink that cannot be followed inside the
    /// sandbox (escaping or dangling): such entries are hidden from listings.
    fn through_hidden_link(&self, p: &VirtualPath) -> bool {
        let mut prefix = std::path::PathBuf::new();
        for part in p.relative().components() {
            prefix.push(part);
            let is_link = self
                .root
                .symlink_metadata(&prefix)
                .is_ok_and(|m| m.file_type().is_symlink());
            if is_link && self.root.metadata(&prefix).is_err() {
                return true;
            }
        }
        false
    }

    /// Refuses to write to or rename onto `p` when it is (or passes through) a hidden entry: a
    /// rename over a symlink replaces the link, so an upload could otherwise remove what the
    /// operator put there and nobody can see. "Permission denied", as for any name taken by
    /// something hidden.
    pub fn refuse_hidden_target(&self, p: &VirtualPath) -> Result<(), FsError> {
        if self.through_hidden_link(p) {
            return Err(FsError::Denied);
        }
        Ok(())
    }

    /// An error about `p` as a client may see it: what is hidden from listings does not
    /// exist (never "Permission denied" or "File exists" about an entry nobody can see).
    fn unseen(&self, p: &VirtualPath, e: FsError) -> FsError {
        match e {
            FsError::Denied | FsError::Exists | FsError::NotADirectory
                if self.through_hidden_link(p) =>
            {
                FsError::NotFound
            }
            e => e,
        }
    }

    /// As [`Sandbox::unseen`], for creating `p`: the name is taken by something hidden, which
    /// the reply must not reveal; the refusal is a plain "Permission denied".
    fn unseen_create(&self, p: &VirtualPath, e: FsError) -> FsError {
        match e {
            FsError::Exists | FsError::NotFound | FsError::NotADirectory
                if self.through_hidden_link(p) =>
            {
                FsError::Denied
            }
            e => e,
        }
    }

    /// Entries of a directory, sorted by name. Symlinks are shown as what they point to;
    /// entries that cannot be resolved inside the sandbox (escaping or dangling) are hidden.
    pub fn list(&self, p: &VirtualPath) -> Result<Vec<EntryInfo>, FsError> {
        Ok(self.list_stream(p)?.collect())
    }

    /// As [`Sandbox::list`], read as it is consumed: the names now (sorted), each entry's
    /// metadata when its turn comes.
    pub fn list_stream(&self, p: &VirtualPath) -> Result<EntryStream, FsError> {
        let dir = self
            .root
            .open_dir(p.relative())
            .map_err(|e| self.unseen(p, e.into()))?;
        let mut names = PackedNames::default();
        for entry in dir.entries()? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if super::temp_name::is_temp_name(&name) {
                continue;
            }
            if !super::listing::fits_on_a_line(&name) {
                tracing::debug!(name = ?name, "not listed: the name holds a line break");
                continue;
            }
            if !names.push(&name) {
                tracing::warn!(folder = %p, "listing cut: its names pass 4 GiB");
                break;
            }
        }
        names.sort();
        Ok(EntryStream::dir(dir, names))
    }

    pub fn mkdir(&self, p: &VirtualPath) -> Result<(), FsError> {
        self.root
            .create_dir(p.relative())
            .map_err(|e| self.unseen_create(p, e.into()))
    }

    pub fn rmdir(&self, p: &VirtualPath) -> Result<(), FsError> {
        if p.is_root() {
            return Err(FsError::Denied);
        }
        self.root
            .remove_dir(p.relative())
            .map_err(|e| self.unseen(p, e.into()))
    }

    pub fn remove_file(&self, p: &VirtualPath) -> Result<(), FsError> {
        if self.through_hidden_link(p) {
            return Err(FsError::NotFound);
        }
        if self.root.symlink_metadata(p.relative())?.is_dir() {
            return Err(FsError::IsADirectory);
        }
        Ok(self.root.remove_file(p.relative())?)
    }

    /// Device and inode of a regular file (no symlink followed): what a later
    /// [`Sandbox::take_file`] checks that the name still holds.
    pub fn file_identity(&self, p: &VirtualPath) -> Result<(u64, u64), FsError> {
        use cap_std::fs::MetadataExt;
        let md = self.root.symlink_metadata(p.relative())?;
        if !md.is_file() {
            return Err(FsError::NotAFile);
        }
        Ok((md.dev(), md.ino()))
    }

    /// Takes a file out of the user's view (a plugin's delete-file or quarantine-file action):
    /// only while `p` still names the file `identity` (an upload after it is left alone);
    /// deleted, or moved into the folder `into` as `name` (copied there and removed when the
    /// folder is on another file system). Returns the file's size.
    pub fn take_file(
        &self,
        p: &VirtualPath,
        identity: (u64, u64),
        into: Option<(&std::path::Path, &str)>,
    ) -> Result<u64, FsError> {
        use cap_std::fs::MetadataExt;
        if p.is_root() || self.through_hidden_link(p) {
            return Err(FsError::NotFound);
        }
        let md = self.root.symlink_metadata(p.relative())?;
        if !md.is_file() || (md.dev(), md.ino()) != identity {
            return Err(FsError::Replaced);
        }
        let Some((dir, name)) = into else {
            self.root.remove_file(p.relative())?;
            return Ok(md.len());
        };
        let to = Dir::open_ambient_dir(dir, ambient_authority())?;
        // A link, not a rename: a name already in the folder is never replaced (the evidence
        // of an earlier quarantine stays), the file is refused instead.
        match self.root.hard_link(p.relative(), &to, name) {
            Ok(()) => self.root.remove_file(p.relative())?,
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                let mut from = self.root.open(p.relative())?;
                let mut out =
                    to.open_with(name, OpenOptions::new().write(true).create_new(true))?;
                std::io::copy(&mut from, &mut out)?;
                out.sync_all()?;
                self.root.remove_file(p.relative())?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(md.len())
    }

    pub fn rename(&self, from: &VirtualPath, to: &VirtualPath) -> Result<(), FsError> {
        if from.is_root() || to.is_root() {
            return Err(FsError::Denied);
        }
        if self.through_hidden_link(from) {
            return Err(FsError::NotFound);
        }
        self.refuse_hidden_target(to)?;
        self.root
            .rename(from.relative(), &self.root, to.relative())
            .map_err(|e| self.unseen_create(to, e.into()))
    }

    /// Makes the entries of folder `p` durable (fsync of the folder): after a rename or a
    /// new file, the name is on disk too, not only the data.
    pub fn sync_dir(&self, p: &VirtualPath) -> Result<(), FsError> {
        use cap_std::fs::OpenOptionsExt;
        // Read access: fsync refuses the path-only descriptor `open_dir` gives.
        let mut o = OpenOptions::new();
        o.read(true).custom_flags(libc::O_DIRECTORY);
        let dir = self
            .root
            .open_with(p.relative(), &o)
            .map_err(|e| self.unseen(p, e.into()))?;
        Ok(dir.sync_all()?)
    }

    /// Makes `to` a second name of `from`, failing with [`FsError::Exists`] if `to` exists:
    /// an atomic "create, never replace" for a drop box's upload commit.
    pub fn link_new(&self, from: &VirtualPath, to: &VirtualPath) -> Result<(), FsError> {
        self.refuse_hidden_target(to)?;
        self.root
            .hard_link(from.relative(), &self.root, to.relative())
            .map_err(|e| self.unseen_create(to, e.into()))
    }

    /// Opens a regular file for download, positioned at `offset`; returns it with its size.
    /// Opens a regular file for reading at `offset` (an offset past the end is not sought:
    /// the caller refuses it with the size in hand). Opened non-blocking, so a FIFO or device
    /// put in a home by other means cannot hang the session; only regular files are read.
    pub fn open_read(&self, p: &VirtualPath, offset: u64) -> Result<(std::fs::File, u64), FsError> {
        use cap_std::fs::OpenOptionsExt;
        let mut o = OpenOptions::new();
        o.read(true).custom_flags(libc::O_NONBLOCK);
        let f: File = self
            .root
            .open_with(p.relative(), &o)
            .map_err(|e| self.unseen(p, e.into()))?;
        let md = f.metadata()?;
        if md.is_dir() {
            return Err(FsError::IsADirectory);
        }
        if !md.is_file() {
            return Err(FsError::NotAFile);
        }
        let mut f = f.into_std();
        if offset > 0 && offset <= md.len() {
            f.seek(SeekFrom::Start(offset))?;
        }
        Ok((f, md.len()))
    }

    /// The entry at `p` (file or directory) as an open descriptor, for changing its times or
    /// mode in place (futimens/fchmod on what the sandbox resolved, never a path again).
    fn open_entry(&self, p: &VirtualPath) -> Result<std::fs::File, FsError> {
        match self.root.open(p.relative()) {
            Ok(f) => Ok(f.into_std()),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(self
                .root
                .open_dir(p.relative())
                .map_err(|e| self.unseen(p, e.into()))?
                .into_std_file()),
            Err(e) => Err(self.unseen(p, e.into())),
        }
    }

    /// MFMT / SITE UTIME.
    pub fn set_modified(&self, p: &VirtualPath, t: SystemTime) -> Result<(), FsError> {
        let f = self.open_entry(p)?;
        Ok(f.set_times(std::fs::FileTimes::new().set_modified(t))?)
    }

    /// SITE CHMOD: permission bits only (no set-id, no sticky).
    pub fn set_mode(&self, p: &VirtualPath, mode: u32) -> Result<(), FsError> {
        use std::os::unix::fs::PermissionsExt;
        let f = self.open_entry(p)?;
        Ok(f.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))?)
    }

    /// Bytes an unprivileged writer may still put on the filesystem of the sandbox.
    pub fn free_space(&self) -> Result<u64, FsError> {
        use std::os::fd::AsRawFd;
        let dir = self.root.try_clone()?.into_std_file();
        // SAFETY: statvfs is plain data, fstatvfs fills it for a valid descriptor.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstatvfs(dir.as_raw_fd(), &mut st) } != 0 {
            return Err(FsError::Io(std::io::Error::last_os_error()));
        }
        Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }

    pub fn open_write(&self, p: &VirtualPath, mode: WriteMode) -> Result<std::fs::File, FsError> {
        if p.is_root() {
            return Err(FsError::IsADirectory);
        }
        // Only regular files are written: a FIFO or device put in a home by other means is
        // refused before it is opened (opening a FIFO for writing waits for a reader), and the
        // open itself is non-blocking as a backstop.
        if let Ok(md) = self.root.metadata(p.relative())
            && !md.is_file()
            && !md.is_dir()
        {
            return Err(FsError::NotAFile);
        }
        let mut o = OpenOptions::new();
        {
            use cap_std::fs::OpenOptionsExt;
            o.write(true).custom_flags(libc::O_NONBLOCK);
        }
        match mode {
            WriteMode::CreateNew => o.create_new(true),
            // Cut only once the writer holds the file (`position`): a second upload refused
            // by the lock must not have emptied the one running.
            WriteMode::Replace => o.create(true),
            WriteMode::Append => o.create(true).append(true),
            WriteMode::Resume(_) => o.create(true),
        };
        let f = self
            .root
            .open_with(p.relative(), &o)
            .map_err(|e| self.unseen_create(p, e.into()))?;
        let md = f.metadata()?;
        if md.is_dir() {
            return Err(FsError::IsADirectory);
        }
        if !md.is_file() {
            return Err(FsError::NotAFile);
        }
        Ok(f.into_std())
    }

    /// Prepares a file opened for writing in place, once the writer holds its lock: Replace
    /// empties it, Resume cuts it to the offset and writes from there.
    pub fn position(f: &mut std::fs::File, mode: WriteMode) -> Result<(), FsError> {
        match mode {
            WriteMode::Replace => f.set_len(0)?,
            WriteMode::Resume(offset) => {
                let len = f.metadata()?.len();
                if offset > len {
                    return Err(FsError::Io(std::io::Error::other(format!(
                        "restart offset {offset} is beyond the end of the file ({len} bytes)"
                    ))));
                }
                f.set_len(offset)?;
                f.seek(SeekFrom::Start(offset))?;
            }
            WriteMode::CreateNew | WriteMode::Append => {}
        }
        Ok(())
    }
}

pub(crate) fn info(name: String, md: &cap_std::fs::Metadata) -> EntryInfo {
    use cap_std::fs::PermissionsExt;
    EntryInfo {
        name,
        is_dir: md.is_dir(),
        size: if md.is_dir() { 0 } else { md.len() },
        modified: md
            .modified()
            .map(|t| t.into_std())
            .unwrap_or(SystemTime::UNIX_EPOCH),
        mode: md.permissions().mode(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_file_takes_only_the_file_it_was_aimed_at() {
        let home = tempfile::tempdir().unwrap();
        let away = tempfile::tempdir().unwrap();
        let sb = Sandbox::open(home.path()).unwrap();
        let p = VirtualPath::root().resolve("up.exe").unwrap();
        std::fs::write(home.path().join("up.exe"), b"first").unwrap();
        let first = sb.file_identity(&p).unwrap();
        // A newer upload replaces the name (a rename over it, as an upload commit does).
        std::fs::write(home.path().join(".new"), b"second").unwrap();
        std::fs::rename(home.path().join(".new"), home.path().join("up.exe")).unwrap();
        assert!(matches!(
            sb.take_file(&p, first, Some((away.path(), "q"))),
            Err(FsError::Replaced)
        ));
        assert_eq!(
            std::fs::read(home.path().join("up.exe")).unwrap(),
            b"second"
        );
        let second = sb.file_identity(&p).unwrap();
        assert_eq!(
            sb.take_file(&p, second, Some((away.path(), "q"))).unwrap(),
            6
        );
        assert_eq!(std::fs::read(away.path().join("q")).unwrap(), b"second");
        assert!(!home.path().join("up.exe").exists());
        // A symlink planted under the name is not a file to take.
        std::os::unix::fs::symlink("/etc/passwd", home.path().join("up.exe")).unwrap();
        assert!(sb.file_identity(&p).is_err());
        assert!(sb.take_file(&p, second, None).is_err());
        assert!(std::fs::symlink_metadata(home.path().join("up.exe")).is_ok());
        // A name already in the quarantine folder is never replaced: the file stays put.
        let other = VirtualPath::root().resolve("other.exe").unwrap();
        std::fs::write(home.path().join("other.exe"), b"third").unwrap();
        let third = sb.file_identity(&other).unwrap();
        assert!(
            sb.take_file(&other, third, Some((away.path(), "q")))
                .is_err()
        );
        assert_eq!(std::fs::read(away.path().join("q")).unwrap(), b"second");
        assert_eq!(
            std::fs::read(home.path().join("other.exe")).unwrap(),
            b"third"
        );
    }
}
