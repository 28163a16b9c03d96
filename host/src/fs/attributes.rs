//! What sync clients ask of a file besides its bytes: set its modification time (MFMT, SITE
//! UTIME) or mode (SITE CHMOD), checksum it (HASH, X*), and how much may still be stored
//! (AVBL). Blocking; the session runs these on the blocking pool.

use std::time::SystemTime;

use super::vfs::{Target, Vfs};
use super::{FsError, VirtualPath};
use crate::protocol::command::HashAlgo;

/// A checksum and the byte range it covers (`end` exclusive).
pub struct Checksum {
    pub hex: String,
    pub start: u64,
    pub end: u64,
}

impl Vfs {
    pub fn set_modified(&self, p: &VirtualPath, t: SystemTime) -> Result<(), FsError> {
        Self::visible(p)?;
        match self.locate(p) {
            Target::Message(_) | Target::Virtual(_) => {
                Err(FsError::Reserved("the message file or a share folder"))
            }
            Target::Absent => Err(FsError::NotFound),
            Target::Real { mount, rel } => mount.storage.set_modified(&rel, t),
        }
    }

    pub fn set_mode(&self, p: &VirtualPath, mode: u32) -> Result<(), FsError> {
        Self::visible(p)?;
        match self.locate(p) {
            Target::Message(_) | Target::Virtual(_) => {
                Err(FsError::Reserved("the message file or a share folder"))
            }
            Target::Absent => Err(FsError::NotFound),
            Target::Real { rel, .. } if rel.is_root() => Err(FsError::Reserved("a mount folder")),
            Target::Real { mount, rel } => mount.storage.set_mode(&rel, mode),
        }
    }

    /// The checksum of `p` from `start` to `end` (exclusive; None: the end of the file).
    pub fn checksum(
        &self,
        p: &VirtualPath,
        algo: HashAlgo,
        start: u64,
        end: Option<u64>,
    ) -> Result<Checksum, FsError> {
        let (file, size): (Box<dyn std::io::Read>, u64) = match self.open_read(p, start)? {
            super::vfs::Readable::File(f, size) => (Box::new(f), size),
            super::vfs::Readable::Object(o) => {
                let size = o.size;
                (Box::new(o.blocking(start)), size)
            }
            super::vfs::Readable::Bytes(b) => {
                let size = b.len() as u64;
                let from = (start as usize).min(b.len());
                (Box::new(std::io::Cursor::new(b[from..].to_vec())), size)
            }
        };
        if start > size {
            return Err(FsError::Io(std::io::Error::other(format!(
                "start {start} is beyond the end of the file ({size} bytes)"
            ))));
        }
        let end = end.unwrap_or(size).min(size);
        let hex = super::checksum::of_reader(algo, file, end.saturating_sub(start))?;
        Ok(Checksum { hex, start, end })
    }

    /// Bytes the user may still store at `p`: what its mount's quota leaves, or else what
    /// the filesystem has free.
    pub fn available(&self, p: &VirtualPath) -> Result<u64, FsError> {
        match self.locate(p) {
            Target::Message(_) | Target::Virtual(_) | Target::Absent => Ok(0),
            Target::Real { mount, .. } => match &mount.quota {
                Some(q) => Ok(q.limit().saturating_sub(q.used())),
                None => mount.storage.free_space(),
            },
        }
    }
}
