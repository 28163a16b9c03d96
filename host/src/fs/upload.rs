//! Upload plans: where an upload's bytes go and what happens when it ends.
//!
//! Atomic mode writes a hidden temporary file in the target's directory and renames it over
//! the target only after the data is complete and fsynced; failure, abort or disconnect delete
//! it, and a killed server's leftovers are removed at the next start. Resumable mode writes the
//! target in place, so an interrupted upload leaves its partial file for a later REST; in atomic
//! mode REST+STOR starts the temporary as a copy of the file's first bytes. APPE appends in place in both modes and, on
//! failure, cuts the file back to its old length: the previous content is never lost.
//! A file written in place is locked (`flock`) for the whole upload: a second upload into it
//! gets 450 instead of interleaving, and a failed append can never cut back what another
//! session appended meanwhile.
//! Quota: the writer reserves every chunk; failures release what they reserved.

use std::path::Path;
use std::sync::Arc;

use super::quota::Quota;
use super::sandbox::WriteMode;
use super::{FsError, Sandbox, VirtualPath};
use crate::users::file::UploadMode;

use super::temp_name::is_temp_name;

/// An upload into a local folder or into object storage.
pub enum UploadPlan {
    Local(LocalUpload),
    Object(super::object::upload::ObjectUpload),
}

impl UploadPlan {
    /// Opens the upload on `storage` (see [`LocalUpload::open`]). Object storage takes whole
    /// uploads only: APPE and REST+STOR are refused with the reason.
    pub fn open(
        storage: &super::Storage,
        quota: Option<Arc<Quota>>,
        mode: UploadMode,
        target: &VirtualPath,
        kind: UploadKind,
        existing: Option<u64>,
        may_replace: bool,
    ) -> Result<UploadPlan, FsError> {
        match storage {
            super::Storage::Local(s) => {
                LocalUpload::open(s, quota, mode, target, kind, existing, may_replace)
                    .map(UploadPlan::Local)
            }
            super::Storage::Object(o) => {
                let may_replace = match kind {
                    UploadKind::Append => {
                        return Err(FsError::Unsupported(
                            "object storage cannot append to a file (APPE); upload the whole file with STOR",
                        ));
                    }
                    UploadKind::Resume(n) if n > 0 => {
                        return Err(FsError::Unsupported(
                            "object storage cannot resume an upload (REST before STOR); upload the whole file again",
                        ));
                    }
                    UploadKind::Unique => {
                        if existing.is_some() {
                            return Err(FsError::Exists);
                        }
                        false
                    }
                    _ => may_replace,
                };
                super::object::upload::ObjectUpload::open(o, quota, target, existing, may_replace)
                    .map(UploadPlan::Object)
            }
        }
    }

    /// See [`LocalUpload::file_id`]; objects have none.
    pub fn file_id(&self) -> Option<crate::fs::held_files::FileId> {
        match self {
            UploadPlan::Local(l) => l.file_id(),
            UploadPlan::Object(_) => None,
        }
    }

    pub fn keeps_partial(&self) -> bool {
        match self {
            UploadPlan::Local(l) => l.keeps_partial(),
            UploadPlan::Object(_) => false,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        match self {
            UploadPlan::Local(l) => l.write(bytes),
            UploadPlan::Object(o) => o.write(bytes),
        }
    }

    /// `[server] sync_uploads = false`: no early writeback, and no [`UploadPlan::sync`].
    pub fn without_sync(&mut self) {
        if let UploadPlan::Local(l) = self {
            l.without_sync();
        }
    }

    /// Everything arrived: local data goes to disk (objects are made durable by the commit).
    pub fn sync(&mut self) -> Result<(), FsError> {
        match self {
            UploadPlan::Local(l) => l.sync(),
            UploadPlan::Object(_) => Ok(()),
        }
    }

    pub fn commit(self) -> Result<(), FsError> {
        match self {
            UploadPlan::Local(l) => l.commit(),
            UploadPlan::Object(o) => o.commit(),
        }
    }

    pub fn abandon(self, quota_exceeded: bool) {
        match self {
            UploadPlan::Local(l) => l.abandon(quota_exceeded),
            UploadPlan::Object(o) => o.abandon(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    Store,
    Append,
    Resume(u64),
    /// STOU: the target is a fresh name, never an existing file.
    Unique,
}

pub struct LocalUpload {
    file: std::fs::File,
    quota: Option<Arc<Quota>>,
    sandbox: Arc<Sandbox>,
    finish: Finish,
    /// Bytes reserved against the quota so far.
    reserved: u64,
    /// Committed or abandoned: nothing left for Drop to clean up.
    done: bool,
    /// Starts writing to disk while the upload still arrives (see `writeback`); None when
    /// the upload is not synced (`[server] sync_uploads = false`): then neither its data nor
    /// its name is fsynced.
    writeback: Option<super::writeback::Writeback>,
    /// Large synced uploads bypass the page cache (see `direct_write`).
    direct: super::direct_write::DirectWrites,
}

impl LocalUpload {
    /// Device and inode of the file being written: the committed upload keeps them (a
    /// commit renames or links, it does not copy), so a hold taken now covers the file from
    /// the moment it appears under its name.
    pub fn file_id(&self) -> Option<crate::fs::held_files::FileId> {
        use std::os::unix::fs::MetadataExt;
        self.file.metadata().ok().map(|m| (m.dev(), m.ino()))
    }
}

impl Drop for LocalUpload {
    /// A plan dropped without `commit` or `abandon` (a refused data connection, a cancelled
    /// transfer) is abandoned: its temporary goes at once, never left for the next start.
    fn drop(&mut self) {
        if !self.done {
            self.cleanup(false);
        }
    }
}

enum Finish {
    /// Rename `temp` over `target`. `replaced` is the old version's size when the upload
    /// began (what it may use of the quota while it runs); at commit the version actually
    /// replaced is measured again, as another session may have changed or removed it.
    /// Without `may_replace` (a drop box) the commit never replaces a file that appeared
    /// meanwhile.
    Atomic {
        temp: VirtualPath,
        target: VirtualPath,
        replaced: u64,
        may_replace: bool,
    },
    /// Written in place. On failure: cut back to `keep` bytes (None = remove the file) when
    /// `restore` is set, else keep the partial file for a later REST.
    InPlace {
        target: VirtualPath,
        keep: Option<u64>,
        restore: bool,
    },
}

impl LocalUpload {
    /// Whether a failed upload leaves what it wrote (resumable mode, for a later REST); a
    /// refused one (quota, a gate's limit) never does.
    pub fn keeps_partial(&self) -> bool {
        matches!(self.finish, Finish::InPlace { restore: false, .. })
    }

    /// Opens the upload. `existing` is the current size of the target, if it exists.
    pub fn open(
        sandbox: &Arc<Sandbox>,
        quota: Option<Arc<Quota>>,
        mode: UploadMode,
        target: &VirtualPath,
        kind: UploadKind,
        existing: Option<u64>,
        may_replace: bool,
    ) -> Result<LocalUpload, FsError> {
        sandbox.refuse_hidden_target(target)?;
        let in_place =
            |wm: WriteMode, keep: Option<u64>, restore: bool| -> Result<LocalUpload, FsError> {
                let mut file = sandbox.open_write(target, wm)?;
                lock_for_writing(&file)?;
                Sandbox::position(&mut file, wm)?;
                // What a failed append cuts back to: the length now that this upload holds
                // the file, not the one measured before (another append may have ended since).
                let keep = match wm {
                    WriteMode::Append => {
                        let len = file.metadata()?.len();
                        (keep.is_some() || len > 0).then_some(len)
                    }
                    _ => keep,
                };
                Ok(LocalUpload {
                    file,
                    quota: quota.clone(),
                    sandbox: sandbox.clone(),
                    finish: Finish::InPlace {
                        target: target.clone(),
                        keep,
                        restore,
                    },
                    reserved: 0,
                    done: false,
                    writeback: Some(Default::default()),
                    direct: Default::default(),
                })
            };
        let atomic = |file: std::fs::File, temp: VirtualPath, replaced: u64| LocalUpload {
            file,
            quota: quota.clone(),
            sandbox: sandbox.clone(),
            finish: Finish::Atomic {
                temp,
                target: target.clone(),
                replaced,
                may_replace,
            },
            reserved: 0,
            done: false,
            writeback: Some(Default::default()),
            direct: Default::default(),
        };
        let plan = match (kind, mode) {
            // A resumable account's cut APPE keeps what arrived, as its cut STOR does: curl's
            // `-C -` resumes an upload with APPE, and cutting each attempt back would never
            // let a flaky link finish the file.
            (UploadKind::Append, UploadMode::Atomic) => {
                in_place(WriteMode::Append, existing, true)?
            }
            (UploadKind::Append, UploadMode::Resumable) => {
                in_place(WriteMode::Append, existing, false)?
            }
            (UploadKind::Unique, UploadMode::Atomic) => in_place(WriteMode::CreateNew, None, true)?,
            (UploadKind::Unique, UploadMode::Resumable) => {
                in_place(WriteMode::CreateNew, None, false)?
            }
            (UploadKind::Resume(offset), UploadMode::Atomic) => {
                // Resume without giving up atomicity: the temporary starts as a copy of the
                // first `offset` bytes of the current file; the old version stays until rename.
                let have = existing.unwrap_or(0);
                if offset > have {
                    return Err(FsError::Io(std::io::Error::other(format!(
                        "restart offset {offset} is beyond the end of the file ({have} bytes)"
                    ))));
                }
                let (mut file, temp) = create_temp(sandbox, &target.parent())?;
                let copied = sandbox.open_read(target, 0).and_then(|(src, _)| {
                    std::io::copy(&mut std::io::Read::take(src, offset), &mut file)
                        .map_err(FsError::from)
                });
                if let Err(e) = copied {
                    let _ = sandbox.remove_file(&temp);
                    return Err(e);
                }
                // The copied prefix counts like uploaded bytes: the whole old version is what
                // the commit frees (a dropped plan removes the temporary).
                let mut plan = atomic(file, temp, have);
                plan.reserve(offset)?;
                plan
            }
            (UploadKind::Resume(offset), UploadMode::Resumable) => {
                let plan = in_place(WriteMode::Resume(offset), Some(offset), false)?;
                release(&quota, existing.unwrap_or(0).saturating_sub(offset));
                plan
            }
            (UploadKind::Store, UploadMode::Resumable) => {
                let plan = in_place(WriteMode::Replace, None, false)?;
                release(&quota, existing.unwrap_or(0));
                plan
            }
            (UploadKind::Store, UploadMode::Atomic) => {
                let (file, temp) = create_temp(sandbox, &target.parent())?;
                atomic(file, temp, existing.unwrap_or(0))
            }
        };
        Ok(plan)
    }

    /// Writes the next bytes of the upload after reserving them against the mount's quota
    /// (a full quota refuses them: [`FsError::QuotaFull`], and the upload is abandoned).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        self.reserve(bytes.len() as u64)?;
        let path = self.direct.write(&mut self.file, bytes)?;
        match &mut self.writeback {
            Some(w) if path == super::direct_write::Path::Cache => w
                .after_write(&mut self.file, bytes.len())
                .map_err(FsError::Io),
            _ => Ok(()),
        }
    }

    /// The upload will not be synced: the kernel writes it back when it likes.
    pub fn without_sync(&mut self) {
        self.writeback = None;
        self.direct.disable();
    }

    /// Everything arrived: the data goes to disk before the commit makes it the file.
    pub fn sync(&mut self) -> Result<(), FsError> {
        self.direct.finish(&mut self.file)?;
        self.file.sync_all().map_err(FsError::Io)
    }

    /// Reserves `n` more bytes against the mount's quota. An atomic replacement may use the
    /// space of the version it replaces (README: "replacing a file frees the old version's
    /// space"); the old version leaves the quota when the new one commits.
    fn reserve(&mut self, n: u64) -> Result<(), FsError> {
        let Some(q) = &self.quota else {
            return Ok(());
        };
        let allowance = match &self.finish {
            Finish::Atomic { replaced, .. } => *replaced,
            Finish::InPlace { .. } => 0,
        };
        if !q.try_reserve_over(n, allowance) {
            return Err(FsError::QuotaFull(q.describe_without(self.reserved)));
        }
        self.reserved += n;
        Ok(())
    }

    /// The data is complete and fsynced: make it the file.
    pub fn commit(mut self) -> Result<(), FsError> {
        self.done = true;
        if let Err(e) = self.direct.finish(&mut self.file) {
            self.cleanup(false);
            return Err(FsError::Io(e));
        }
        match &self.finish {
            Finish::Atomic {
                temp,
                target,
                may_replace,
                ..
            } => {
                let guard = self.quota.as_ref().map(|q| q.replacing());
                // The version replaced now, not when the upload began.
                let current = self
                    .sandbox
                    .stat(target)
                    .ok()
                    .filter(|e| !e.is_dir)
                    .map(|e| e.size);
                let refused = match (&self.quota, current) {
                    (_, Some(_)) if !*may_replace => Some(FsError::Exists),
                    (Some(q), _) if q.used().saturating_sub(current.unwrap_or(0)) > q.limit() => {
                        Some(FsError::QuotaFull(q.describe_without(self.reserved)))
                    }
                    _ => None,
                };
                let moved = match refused {
                    Some(e) => Err(e),
                    None if *may_replace => self.sandbox.rename(temp, target),
                    // Never over a file that appears between the check and the move.
                    None => self.sandbox.link_new(temp, target).map(|()| {
                        let _ = self.sandbox.remove_file(temp);
                    }),
                };
                if let Err(e) = moved {
                    let _ = self.sandbox.remove_file(temp);
                    release(&self.quota, self.reserved);
                    return Err(e);
                }
                release(&self.quota, current.unwrap_or(0));
                drop(guard);
                self.sync_name(target)
            }
            Finish::InPlace { target, .. } => self.sync_name(target),
        }
    }

    /// A synced upload's name is made durable with its data: without the folder's fsync, a
    /// power cut after the 226 could leave the renamed upload only as its temporary (removed
    /// at the next start) or the old version under the name.
    fn sync_name(&self, target: &VirtualPath) -> Result<(), FsError> {
        if self.writeback.is_some() {
            self.sandbox.sync_dir(&target.parent())
        } else {
            Ok(())
        }
    }

    /// The upload failed or was aborted. A quota failure always removes what this upload wrote.
    pub fn abandon(mut self, quota_exceeded: bool) {
        self.done = true;
        self.cleanup(quota_exceeded);
    }

    fn cleanup(&mut self, quota_exceeded: bool) {
        let reserved = std::mem::take(&mut self.reserved);
        // What a resumable upload keeps stays on disk, so it stays counted.
        if quota_exceeded || !self.keeps_partial() {
            release(&self.quota, reserved);
        }
        match &self.finish {
            Finish::Atomic { temp, .. } => {
                let _ = self.sandbox.remove_file(temp);
            }
            Finish::InPlace {
                target,
                keep,
                restore,
            } => {
                if *restore || quota_exceeded {
                    match keep {
                        Some(len) => {
                            let _ = self.file.set_len(*len);
                            // A synced account's cut-back is durable too: after a power cut
                            // the file is its old self, not the old length padded or extended.
                            if self.writeback.is_some() {
                                let _ = self.file.sync_all();
                            }
                        }
                        None => {
                            let _ = self.sandbox.remove_file(target);
                        }
                    }
                } else {
                    // Kept for a REST: all that arrived, including what waits for a direct write.
                    let _ = self.direct.finish(&mut self.file);
                }
            }
        }
    }
}

/// An exclusive lock on a file written in place, held until the upload's file is closed.
fn lock_for_writing(file: &std::fs::File) -> Result<(), FsError> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function borrows; no memory is involved.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Err(FsError::Busy)
    } else {
        Err(FsError::Io(e))
    }
}

fn release(quota: &Option<Arc<Quota>>, n: u64) {
    if let Some(q) = quota {
        q.release(n);
    }
}

fn create_temp(
    sandbox: &Sandbox,
    dir: &VirtualPath,
) -> Result<(std::fs::File, VirtualPath), FsError> {
    for _ in 0..16 {
        let name = super::temp_name::random_temp_name();
        let temp = dir.join(&name);
        match sandbox.open_write(&temp, WriteMode::CreateNew) {
            Ok(f) => return Ok((f, temp)),
            Err(FsError::Exists) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(FsError::Exists)
}

/// Removes atomic-upload leftovers below `dir` (a server killed mid-upload); bounded walk.
/// Returns how many were removed.
pub fn clean_temporaries(dir: &Path) -> usize {
    let mut removed = 0;
    super::walk::files_below(dir, |e| {
        if is_temp_name(&e.file_name().to_string_lossy()) && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    });
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(limit: u64) -> (tempfile::TempDir, Arc<Sandbox>, Arc<Quota>) {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Arc::new(Sandbox::open(dir.path()).unwrap());
        (dir, sandbox, Arc::new(Quota::new(limit, 0)))
    }

    fn path(p: &str) -> VirtualPath {
        VirtualPath::root().resolve(p).unwrap()
    }

    #[test]
    fn writes_are_reserved_and_a_full_quota_refuses_the_write() {
        let (dir, sandbox, quota) = setup(10);
        let target = path("a.bin");
        let mut plan = LocalUpload::open(
            &sandbox,
            Some(quota.clone()),
            UploadMode::Atomic,
            &target,
            UploadKind::Store,
            None,
            true,
        )
        .unwrap();
        plan.write(b"123456").unwrap();
        assert_eq!(quota.used(), 6);
        assert!(matches!(plan.write(b"12345"), Err(FsError::QuotaFull(_))));
        assert_eq!(quota.used(), 6, "a refused write reserves nothing");
        plan.abandon(true);
        assert_eq!(
            quota.used(),
            0,
            "an abandoned upload releases what it reserved"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "nothing left behind: {left:?}");
    }

    #[test]
    fn a_committed_replacement_counts_only_the_new_version() {
        let (dir, sandbox, _) = setup(10);
        std::fs::write(dir.path().join("a.bin"), b"12345678").unwrap();
        let quota = Arc::new(Quota::new(10, 8));
        let target = path("a.bin");
        let mut plan = LocalUpload::open(
            &sandbox,
            Some(quota.clone()),
            UploadMode::Atomic,
            &target,
            UploadKind::Store,
            Some(8),
            true,
        )
        .unwrap();
        // The old version's 8 bytes may be used by its replacement.
        plan.write(b"123456789").unwrap();
        plan.sync().unwrap();
        plan.commit().unwrap();
        assert_eq!(quota.used(), 9);
        assert_eq!(
            std::fs::read(dir.path().join("a.bin")).unwrap(),
            b"123456789"
        );
    }

    #[test]
    fn an_atomic_resume_counts_the_copied_prefix() {
        let (dir, sandbox, _) = setup(100);
        std::fs::write(dir.path().join("a.bin"), [1u8; 60]).unwrap();
        let quota = Arc::new(Quota::new(100, 60));
        let mut plan = LocalUpload::open(
            &sandbox,
            Some(quota.clone()),
            UploadMode::Atomic,
            &path("a.bin"),
            UploadKind::Resume(50),
            Some(60),
            true,
        )
        .unwrap();
        plan.write(&[2u8; 5]).unwrap();
        plan.sync().unwrap();
        plan.commit().unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("a.bin")).unwrap().len(),
            55
        );
        assert_eq!(quota.used(), 55, "the kept 50 bytes and the 5 new ones");
    }

    #[test]
    fn a_resumable_upload_cut_short_keeps_its_bytes_counted() {
        let (dir, sandbox, quota) = setup(100);
        let mut plan = LocalUpload::open(
            &sandbox,
            Some(quota.clone()),
            UploadMode::Resumable,
            &path("r.bin"),
            UploadKind::Store,
            None,
            true,
        )
        .unwrap();
        plan.write(b"1234567").unwrap();
        plan.abandon(false);
        assert_eq!(std::fs::read(dir.path().join("r.bin")).unwrap(), b"1234567");
        assert_eq!(quota.used(), 7, "what is kept on disk stays counted");
    }

    fn append(dir: &tempfile::TempDir, mode: UploadMode, quota: &Arc<Quota>) -> LocalUpload {
        let sandbox = Arc::new(Sandbox::open(dir.path()).unwrap());
        std::fs::write(dir.path().join("a.bin"), b"old").unwrap();
        LocalUpload::open(
            &sandbox,
            Some(quota.clone()),
            mode,
            &path("a.bin"),
            UploadKind::Append,
            Some(3),
            true,
        )
        .unwrap()
    }

    #[test]
    fn a_cut_append_keeps_what_arrived_only_in_resumable_mode() {
        let (dir, _, quota) = setup(100);
        let mut plan = append(&dir, UploadMode::Resumable, &quota);
        assert!(plan.keeps_partial());
        plan.write(b"-more").unwrap();
        plan.abandon(false);
        assert_eq!(
            std::fs::read(dir.path().join("a.bin")).unwrap(),
            b"old-more"
        );

        let mut plan = append(&dir, UploadMode::Atomic, &quota);
        assert!(!plan.keeps_partial());
        plan.write(b"-more").unwrap();
        plan.abandon(false);
        assert_eq!(std::fs::read(dir.path().join("a.bin")).unwrap(), b"old");
    }

    #[test]
    fn an_append_over_quota_is_cut_back_in_resumable_mode_too() {
        let (dir, _, quota) = setup(100);
        let mut plan = append(&dir, UploadMode::Resumable, &quota);
        plan.write(b"-more").unwrap();
        plan.abandon(true);
        assert_eq!(std::fs::read(dir.path().join("a.bin")).unwrap(), b"old");
    }
}
