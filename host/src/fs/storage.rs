//! Where a mount's files live: a local folder (cap-std sandbox) or an S3-compatible bucket.
//! The view (`Vfs`) asks both the same questions through this one type; what only a local
//! folder can do (set a time or mode, identify a file by inode, report free disk space)
//! answers [`FsError::Unsupported`] on object storage with the reason, so each refusal is a
//! clear reply rather than a surprise.

use std::sync::Arc;
use std::time::SystemTime;

use super::entry_stream::EntryStream;
use super::listing::EntryInfo;
use super::object::ObjectMount;
use super::{FsError, Sandbox, VirtualPath};

#[derive(Clone)]
pub enum Storage {
    Local(Arc<Sandbox>),
    Object(Arc<ObjectMount>),
}

/// What RETR and HASH read: a local file, an object, or the message file's bytes.
pub enum Readable {
    File(std::fs::File, u64),
    Object(super::object::read::ObjectRead),
    Bytes(Arc<[u8]>),
}

impl Readable {
    pub fn size(&self) -> u64 {
        match self {
            Readable::File(_, size) => *size,
            Readable::Object(o) => o.size,
            Readable::Bytes(b) => b.len() as u64,
        }
    }
}

impl Storage {
    pub fn stat(&self, p: &VirtualPath) -> Result<EntryInfo, FsError> {
        match self {
            Storage::Local(s) => s.stat(p),
            Storage::Object(o) => o.stat(p),
        }
    }

    pub fn is_dir(&self, p: &VirtualPath) -> Result<bool, FsError> {
        match self {
            Storage::Local(s) => s.is_dir(p),
            Storage::Object(o) => o.is_dir(p),
        }
    }

    pub fn list(&self, p: &VirtualPath) -> Result<Vec<EntryInfo>, FsError> {
        match self {
            Storage::Local(s) => s.list(p),
            Storage::Object(o) => o.list(p),
        }
    }

    /// As [`Storage::list`], read as it is consumed where the storage can (a local directory;
    /// a bucket's listing is collected first).
    pub fn list_stream(&self, p: &VirtualPath) -> Result<EntryStream, FsError> {
        match self {
            Storage::Local(s) => s.list_stream(p),
            Storage::Object(o) => o.list(p).map(EntryStream::known),
        }
    }

    pub fn mkdir(&self, p: &VirtualPath) -> Result<(), FsError> {
        match self {
            Storage::Local(s) => s.mkdir(p),
            Storage::Object(o) => o.mkdir(p),
        }
    }

    pub fn rmdir(&self, p: &VirtualPath) -> Result<(), FsError> {
        match self {
            Storage::Local(s) => s.rmdir(p),
            Storage::Object(o) => o.rmdir(p),
        }
    }

    pub fn remove_file(&self, p: &VirtualPath) -> Result<(), FsError> {
        match self {
            Storage::Local(s) => s.remove_file(p),
            Storage::Object(o) => o.remove_file(p),
        }
    }

    pub fn rename(&self, from: &VirtualPath, to: &VirtualPath) -> Result<(), FsError> {
        match self {
            Storage::Local(s) => s.rename(from, to),
            Storage::Object(o) => o.rename(from, to),
        }
    }

    pub fn open_read(&self, p: &VirtualPath, offset: u64) -> Result<Readable, FsError> {
        match self {
            Storage::Local(s) => s.open_read(p, offset).map(|(f, n)| Readable::File(f, n)),
            Storage::Object(o) => o.open_read(p).map(Readable::Object),
        }
    }

    pub fn set_modified(&self, p: &VirtualPath, t: SystemTime) -> Result<(), FsError> {
        match self {
            Storage::Local(s) => s.set_modified(p, t),
            // The time stays the upload's; MFMT's reply names it (the time the store
            // keeps), so sync clients see what was kept and go on instead of failing.
            Storage::Object(o) => o.stat(p).map(|_| ()),
        }
    }

    pub fn set_mode(&self, p: &VirtualPath, mode: u32) -> Result<(), FsError> {
        match self {
            Storage::Local(s) => s.set_mode(p, mode),
            Storage::Object(_) => Err(FsError::Unsupported("objects have no permission bits")),
        }
    }

    /// Free bytes for AVBL; object storage has no such figure (without a quota).
    pub fn free_space(&self) -> Result<u64, FsError> {
        match self {
            Storage::Local(s) => s.free_space(),
            Storage::Object(_) => Err(FsError::Unsupported(
                "object storage reports no free space; ask the operator for a quota",
            )),
        }
    }

    /// Device and inode (plugin actions on an uploaded file are tied to them).
    pub fn file_identity(&self, p: &VirtualPath) -> Result<(u64, u64), FsError> {
        match self {
            Storage::Local(s) => s.file_identity(p),
            Storage::Object(_) => Err(FsError::Unsupported(
                "objects have no inode; plugin file actions act on local folders only",
            )),
        }
    }

    pub fn local(&self) -> Option<&Arc<Sandbox>> {
        match self {
            Storage::Local(s) => Some(s),
            Storage::Object(_) => None,
        }
    }
}
