//! Quotas per mount: usage is scanned once (bounded) and then kept incrementally as uploads
//! reserve bytes and deletions release them. Shared by every session using the same directory.
//! A folder counts as [`FOLDER_BYTES`] (the block it takes on disk, as `du` counts it), so a
//! quota also bounds how many folders a user can make, not only how many bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What one folder counts against a quota.
pub const FOLDER_BYTES: u64 = 4096;

#[derive(Debug)]
pub struct Quota {
    limit: AtomicU64,
    used: AtomicU64,
    /// Held while a file is measured and then replaced or removed (an upload's commit, DELE),
    /// so two sessions never both count the same old version as freed.
    replacing: Mutex<()>,
}

impl Quota {
    pub fn new(limit: u64, used: u64) -> Quota {
        Quota {
            limit: AtomicU64::new(limit),
            used: AtomicU64::new(used),
            replacing: Mutex::new(()),
        }
    }

    /// See `replacing`: measure the file to be replaced or removed under this guard.
    pub fn replacing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.replacing.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `n` bytes if they fit under the limit (exact under concurrency).
    pub fn try_reserve(&self, n: u64) -> bool {
        let limit = self.limit();
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|t| *t <= limit)
            })
            .is_ok()
    }

    /// Reserves `n` bytes if they fit under the limit plus `allowance`: the bytes of an old
    /// version this upload will replace, which leave the quota when it commits.
    pub fn try_reserve_over(&self, n: u64, allowance: u64) -> bool {
        let limit = self.limit().saturating_add(allowance);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|t| *t <= limit)
            })
            .is_ok()
    }

    pub fn release(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(n))
            });
    }

    /// As [`Quota::describe`], leaving out `own` bytes (an upload's reservation that goes).
    pub fn describe_without(&self, own: u64) -> String {
        format!(
            "{:.1} of {:.1} MB used",
            self.used().saturating_sub(own) as f64 / 1048576.0,
            self.limit() as f64 / 1048576.0
        )
    }

    pub fn describe(&self) -> String {
        format!(
            "{:.1} of {:.1} MB used",
            self.used() as f64 / 1048576.0,
            self.limit() as f64 / 1048576.0
        )
    }
}

/// One [`Quota`] per real directory.
#[derive(Default)]
pub struct QuotaRegistry {
    map: Mutex<HashMap<PathBuf, Arc<Quota>>>,
}

impl QuotaRegistry {
    /// The quota of `dir` with `limit`; the first call scans the directory (blocking).
    pub fn get(&self, dir: &Path, limit: u64) -> Arc<Quota> {
        let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        match self.try_get_with(key.clone(), limit, || {
            Ok::<u64, std::convert::Infallible>(disk_usage(&key))
        }) {
            Ok(q) => q,
            Err(never) => match never {},
        }
    }

    /// The quota kept under `key` with `limit`, measured by `scan` at the first call (an
    /// object-storage mount lists its objects): a failed scan is not kept, the next call measures again.
    pub fn try_get_with<E>(
        &self,
        key: PathBuf,
        limit: u64,
        scan: impl FnOnce() -> Result<u64, E>,
    ) -> Result<Arc<Quota>, E> {
        if let Some(q) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            q.limit.store(limit, Ordering::Relaxed);
            return Ok(q.clone());
        }
        let used = scan()?;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let q = map
            .entry(key)
            .or_insert_with(|| Arc::new(Quota::new(limit, used)));
        q.limit.store(limit, Ordering::Relaxed);
        Ok(q.clone())
    }
}

/// Bytes of regular files below `dir` plus [`FOLDER_BYTES`] per folder (symlinks not
/// followed), bounded by the walk limit.
pub fn disk_usage(dir: &Path) -> u64 {
    let mut files = 0u64;
    let mut folders = 0u64;
    let complete = super::walk::entries_below(
        dir,
        |e| files += e.metadata().map(|m| m.len()).unwrap_or(0),
        |_| folders += 1,
    );
    let total = files.saturating_add(folders.saturating_mul(FOLDER_BYTES));
    if !complete {
        tracing::warn!(dir = %dir.display(), "quota scan stopped after {} entries; usage is a lower bound", super::walk::WALK_LIMIT);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_release_exact() {
        let q = Quota::new(100, 40);
        assert!(q.try_reserve(60));
        assert!(!q.try_reserve(1));
        q.release(10);
        assert!(q.try_reserve(10));
        assert!(!q.try_reserve(u64::MAX));
        q.release(1000);
        assert_eq!(q.used(), 0);
    }

    #[test]
    fn a_replacement_may_use_the_space_of_what_it_replaces() {
        // 1000-byte quota holding a 700-byte file, replaced by 700 bytes.
        let q = Quota::new(1000, 700);
        assert!(!q.try_reserve(700));
        assert!(q.try_reserve_over(700, 700));
        assert!(!q.try_reserve_over(301, 700));
        q.release(700); // the commit frees the old version
        assert_eq!(q.used(), 700);
    }

    #[test]
    fn concurrent_reservations_never_exceed() {
        let q = Arc::new(Quota::new(1000, 0));
        let ok: usize = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..1000).filter(|_| q.try_reserve(1)).count()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(ok, 1000);
        assert_eq!(q.used(), 1000);
    }
}
