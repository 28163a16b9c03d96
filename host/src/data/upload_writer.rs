//! The file side of an upload, run one write at a time on the blocking pool while the next
//! chunk is received. No thread waits for the client: an upload that trickles holds buffers,
//! not one of the pool's threads (which logins and every session's file operations share).
//! Before, each upload's writer held a pool thread for its whole life, and 512 slow uploads
//! of one account froze every login.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::task::JoinHandle;

use super::{DataError, ascii};
use crate::fs::upload::UploadPlan;

/// Whether an upload commits or is aborted, decided once. The last write and the commit run
/// on the blocking pool and outlive an aborted task, so an ABOR (or a vanished client) that
/// arrives while the last bytes are written must not answer 426 for a file that is then
/// committed: the commit claims it, the session claims the abort, and whoever comes second
/// yields.
#[derive(Debug, Default)]
pub struct Fate(std::sync::atomic::AtomicU8);

const OPEN: u8 = 0;
const COMMITTING: u8 = 1;
const ABORTED: u8 = 2;

impl Fate {
    /// The writer is about to commit; false if the upload was aborted first.
    pub fn commit(&self) -> bool {
        self.0
            .compare_exchange(OPEN, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            || self.0.load(Ordering::Acquire) == COMMITTING
    }

    /// The session aborts the upload; false if the writer is already committing it.
    pub fn abort(&self) -> bool {
        self.0
            .compare_exchange(OPEN, ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            || self.0.load(Ordering::Acquire) == ABORTED
    }
}

/// An upload's plan with its ASCII conversion state.
pub struct FileWriter {
    plan: UploadPlan,
    ascii: bool,
    sync: bool,
    converted: Vec<u8>,
    pending_cr: bool,
}

impl FileWriter {
    pub fn new(mut plan: UploadPlan, ascii: bool, sync: bool) -> FileWriter {
        if !sync {
            plan.without_sync();
        }
        FileWriter {
            plan,
            ascii,
            sync,
            converted: Vec::new(),
            pending_cr: false,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), DataError> {
        if self.ascii {
            ascii::from_wire(bytes, &mut self.converted, &mut self.pending_cr);
            self.plan.write(&self.converted).map_err(upload_error)
        } else {
            self.plan.write(bytes).map_err(upload_error)
        }
    }

    /// Everything arrived: sync and commit, unless the upload was aborted first.
    fn commit(mut self, fate: &Fate) -> Result<(), DataError> {
        let finished = (|| {
            if self.ascii {
                ascii::finish_from_wire(&mut self.converted, &mut self.pending_cr);
                self.plan.write(&self.converted).map_err(upload_error)?;
            }
            if self.sync {
                self.plan.sync().map_err(upload_error)?;
            }
            Ok(())
        })();
        if let Err(e) = finished {
            self.plan.abandon(matches!(e, DataError::Quota(_)));
            return Err(e);
        }
        if !fate.commit() {
            self.plan.abandon(false);
            return Err(DataError::Lost("aborted before it was committed".into()));
        }
        self.plan.commit().map_err(|e| match e {
            crate::fs::FsError::Exists => DataError::Refused(
                "the file was created by someone else meanwhile; nothing replaced (no overwrite right)".into(),
            ),
            e => upload_error(e),
        })
    }
}

type Written = (FileWriter, Vec<u8>, Result<(), DataError>);

/// The writer between its steps: here, or in a write on the blocking pool.
pub struct WriterSlot {
    writer: Option<FileWriter>,
    in_flight: Option<JoinHandle<Written>>,
}

impl WriterSlot {
    pub fn new(writer: FileWriter) -> WriterSlot {
        WriterSlot {
            writer: Some(writer),
            in_flight: None,
        }
    }

    /// Waits for the write in flight; its buffer comes back for reuse, and its error (a full
    /// quota or disk) ends the upload.
    pub async fn settle(&mut self) -> Result<Option<Vec<u8>>, DataError> {
        let Some(handle) = self.in_flight.take() else {
            return Ok(None);
        };
        let (writer, buf, result) = handle.await.map_err(joined)?;
        self.writer = Some(writer);
        result.map(|()| Some(buf))
    }

    /// Starts writing `buf[..n]` (after the previous write is settled by the caller).
    pub fn start(&mut self, buf: Vec<u8>, n: usize) -> Result<(), DataError> {
        let mut writer = self.writer.take().ok_or_else(gone)?;
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            let result = writer.write(&buf[..n]);
            (writer, buf, result)
        }));
        Ok(())
    }

    /// Syncs and commits (see [`Fate`]).
    pub async fn commit(mut self, fate: Arc<Fate>) -> Result<(), DataError> {
        if let Err(e) = self.settle().await {
            self.abandon(matches!(e, DataError::Quota(_))).await;
            return Err(e);
        }
        let writer = self.writer.take().ok_or_else(gone)?;
        tokio::task::spawn_blocking(move || writer.commit(&fate))
            .await
            .map_err(joined)?
    }

    /// Abandons the upload (the temporary removed or the partial file kept, the quota
    /// settled); `quota` removes what it wrote whatever the mode.
    pub async fn abandon(mut self, quota: bool) {
        let _ = self.settle().await;
        if let Some(w) = self.writer.take() {
            let _ = tokio::task::spawn_blocking(move || w.plan.abandon(quota)).await;
        }
    }
}

impl Drop for WriterSlot {
    /// A cancelled transfer (ABOR, a vanished client): the plan is dropped, and so abandoned,
    /// on the blocking pool, where its clean-up may block; a write in flight drops its own.
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(h) => drop(h.spawn_blocking(move || drop(w))),
                Err(_) => drop(w),
            }
        }
    }
}

fn joined(e: tokio::task::JoinError) -> DataError {
    DataError::Local(format!("file writer failed: {e}"))
}

fn gone() -> DataError {
    DataError::Local("file writer stopped".into())
}

/// Why writing an upload failed, as the transfer says it: a full quota removes the upload, a
/// full disk is 452.
pub fn upload_error(e: crate::fs::FsError) -> DataError {
    match e {
        crate::fs::FsError::QuotaFull(q) => DataError::Quota(format!(
            "Quota exceeded ({q}); what this upload wrote was removed."
        )),
        crate::fs::FsError::Io(e)
            if e.kind() == std::io::ErrorKind::StorageFull
                || e.raw_os_error() == Some(libc::ENOSPC)
                || e.raw_os_error() == Some(libc::EDQUOT) =>
        {
            DataError::NoSpace(e.to_string())
        }
        crate::fs::FsError::Io(e) => DataError::Local(e.to_string()),
        other => DataError::Local(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Code;

    #[test]
    fn a_full_disk_is_452_and_a_full_quota_552() {
        let io = |errno| crate::fs::FsError::Io(std::io::Error::from_raw_os_error(errno));
        assert_eq!(upload_error(io(libc::ENOSPC)).code(), Code::NO_SPACE);
        assert_eq!(upload_error(io(libc::EDQUOT)).code(), Code::NO_SPACE);
        assert_eq!(upload_error(io(libc::EIO)).code(), Code::LOCAL_ERROR);
        let quota = crate::fs::FsError::QuotaFull("1 MB".into());
        assert_eq!(upload_error(quota).code(), Code::STORAGE_EXCEEDED);
    }
}
