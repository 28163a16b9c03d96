//! An upload into object storage: a multipart upload with parts of `part_size`, so memory
//! stays at the parts in flight whatever the file's size. Nothing is visible until `commit`
//! completes it; `abandon` (or dropping it) aborts it and the store keeps nothing.
//! Quota as for local uploads: every chunk is reserved before it is sent, and a replacement
//! may use the space of the version it replaces.

use std::sync::Arc;

use bytes::Bytes;

use super::{ObjectMount, store_error};
use crate::fs::quota::Quota;
use crate::fs::{FsError, VirtualPath};

pub struct ObjectUpload {
    mount: Arc<ObjectMount>,
    /// Shared with the request in flight, so that a write that fails or times out (and is
    /// dropped with its future) still leaves the writer here to abort the upload.
    writer: Option<Shared>,
    target: VirtualPath,
    quota: Option<Arc<Quota>>,
    reserved: u64,
    /// The old version's size when the upload began (what it may use of the quota).
    replaced: u64,
    may_replace: bool,
    _permit: UploadPermit,
}

type Shared = Arc<tokio::sync::Mutex<opendal::Writer>>;

/// Object uploads in progress, server-wide: each holds up to `upload_concurrency + 1` parts
/// in memory, so their number is bounded (`[s3] max_uploads`).
static UPLOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct UploadPermit;

impl UploadPermit {
    fn take(max: usize) -> Result<UploadPermit, FsError> {
        use std::sync::atomic::Ordering;
        UPLOADS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map(|_| UploadPermit)
            .map_err(|_| {
                FsError::Store(format!(
                    "{max} uploads to object storage are running (s3.max_uploads)"
                ))
            })
    }
}

impl Drop for UploadPermit {
    fn drop(&mut self) {
        UPLOADS.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl ObjectUpload {
    pub fn open(
        mount: &Arc<ObjectMount>,
        quota: Option<Arc<Quota>>,
        target: &VirtualPath,
        existing: Option<u64>,
        may_replace: bool,
    ) -> Result<ObjectUpload, FsError> {
        // As on disk: into an existing folder, and never over a folder's name.
        if let Ok(e) = mount.stat(target)
            && e.is_dir
        {
            return Err(FsError::IsADirectory);
        }
        let parent = target.parent();
        if !parent.is_root() && !mount.stat(&parent)?.is_dir {
            return Err(FsError::NotADirectory);
        }
        let key = ObjectMount::file_key(target)?;
        let op = mount.op.clone();
        let (k, part, n) = (key, mount.part_size, mount.upload_concurrency);
        let permit = UploadPermit::take(mount.max_uploads)?;
        let writer = mount.run(async move {
            op.writer_with(&k)
                .chunk(part)
                .concurrent(n)
                // Without the right to replace (a drop box, STOU), the store itself refuses
                // a name that appeared meanwhile: two uploads never both "win".
                .if_not_exists(!may_replace)
                .await
                .map_err(store_error)
        })?;
        Ok(ObjectUpload {
            mount: mount.clone(),
            writer: Some(Arc::new(tokio::sync::Mutex::new(writer))),
            target: target.clone(),
            quota,
            reserved: 0,
            replaced: existing.unwrap_or(0),
            may_replace,
            _permit: permit,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), FsError> {
        if let Some(q) = &self.quota {
            let n = bytes.len() as u64;
            if !q.try_reserve_over(n, self.replaced) {
                return Err(FsError::QuotaFull(q.describe_without(self.reserved)));
            }
            self.reserved += n;
        }
        // Handed over at once: the writer gathers whole parts itself, so the upload holds one
        // part being filled plus the parts in flight, and no second copy here.
        let chunk = Bytes::copy_from_slice(bytes);
        let w = self
            .writer
            .clone()
            .ok_or(FsError::Store("upload already ended".into()))?;
        self.mount
            .run(async move { w.lock().await.write(chunk).await.map_err(store_error) })
    }

    /// Completes the multipart upload: from now on the object is the file.
    pub fn commit(mut self) -> Result<(), FsError> {
        let guard = self.quota.clone();
        let _g = guard.as_ref().map(|q| q.replacing());
        let now = self.mount.stat(&self.target).ok();
        let current = now.as_ref().filter(|e| !e.is_dir).map(|e| e.size);
        let refused = match (&self.quota, current) {
            // A folder of that name appeared meanwhile: never a file beside it.
            _ if now.is_some_and(|e| e.is_dir) => Some(FsError::IsADirectory),
            (_, Some(_)) if !self.may_replace => Some(FsError::Exists),
            (Some(q), _) if q.used().saturating_sub(current.unwrap_or(0)) > q.limit() => {
                Some(FsError::QuotaFull(q.describe_without(self.reserved)))
            }
            _ => None,
        };
        let checked = match refused {
            Some(e) => Err(e),
            None => Ok(()),
        };
        let closed = checked.and_then(|()| {
            let w = self
                .writer
                .clone()
                .ok_or(FsError::Store("upload already ended".into()))?;
            // Parts still in flight go up, then the store assembles the object: bounded
            // generously, as the store may take minutes to answer for a large file (cutting
            // it short would report a failure for an upload the store then completes).
            let bound = (self.mount.timeout * 10).max(std::time::Duration::from_secs(600));
            self.mount.run_for(bound, async move {
                w.lock().await.close().await.map(drop).map_err(store_error)
            })
        });
        match closed {
            Ok(()) => {
                self.writer = None;
                release(&self.quota, current.unwrap_or(0));
                self.reserved = 0;
                Ok(())
            }
            Err(e) => {
                self.abort_now();
                Err(e)
            }
        }
    }

    pub fn abandon(mut self) {
        self.abort_now();
    }

    fn abort_now(&mut self) {
        release(&self.quota, std::mem::take(&mut self.reserved));
        if let Some(w) = self.writer.take() {
            abort_in_background(&self.mount, w, self.target.to_string());
        }
    }
}

impl Drop for ObjectUpload {
    /// Dropped without commit or abandon (a refused data connection, a cancelled transfer):
    /// the multipart upload is aborted, never left for the store to keep.
    fn drop(&mut self) {
        self.abort_now();
    }
}

/// Aborts a multipart upload off the caller's thread, and again later while the store does
/// not answer (6 tries over about two minutes), so an upload cut while the store was down is
/// not left behind; a last failure is logged with the name.
fn abort_in_background(mount: &Arc<ObjectMount>, w: Shared, name: String) {
    let timeout = mount.timeout;
    mount.rt.spawn(async move {
        let mut wait = std::time::Duration::from_secs(2);
        for attempt in 1..=6 {
            let aborted = tokio::time::timeout(timeout, async { w.lock().await.abort().await });
            match aborted.await {
                Ok(Ok(())) => return,
                Ok(Err(e)) if e.kind() == opendal::ErrorKind::NotFound => return,
                failed => {
                    if attempt == 6 {
                        tracing::warn!(file = %name, error = ?failed.map(|r| r.err()), "could not abort an object upload; the bucket may keep its parts until a lifecycle rule removes them");
                        return;
                    }
                }
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    });
}

fn release(quota: &Option<Arc<Quota>>, n: u64) {
    if let Some(q) = quota {
        q.release(n);
    }
}
