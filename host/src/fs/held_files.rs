//! Uploaded files a plugin may still take away: from the upload's commit until its
//! `upload-complete` actions are done (a scanning plugin may wait seconds for an HTTP
//! answer), the file is held — downloads, renames, appends and the other path commands on it
//! get `450` (busy, try again) — so a client cannot rename or fetch a file the site is about
//! to quarantine. Files are named by device and inode, so a rename does not let go of one.
//! Held only while some plugin subscribed to `upload-complete` may take files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Device and inode.
pub type FileId = (u64, u64);

#[derive(Default)]
pub struct HeldFiles {
    /// Holds per file, and where the file lives (a folder above it is held too: renaming
    /// the folder would carry the file out of the action's reach).
    held: Mutex<HashMap<FileId, (u32, PathBuf)>>,
    /// Files held now: the common case (none) costs an atomic load, no lock and no stat.
    count: AtomicUsize,
    released: tokio::sync::Notify,
}

/// Releases its file when dropped.
pub struct HeldFile {
    files: Arc<HeldFiles>,
    id: FileId,
}

impl HeldFiles {
    pub fn hold(self: &Arc<Self>, id: FileId, real: &Path) -> HeldFile {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.entry(id).or_insert((0, real.to_path_buf())).0 += 1;
        self.count.fetch_add(1, Ordering::SeqCst);
        HeldFile {
            files: self.clone(),
            id,
        }
    }

    pub fn any(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }

    pub fn is_held(&self, id: FileId) -> bool {
        self.any()
            && self
                .held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&id)
    }

    /// Whether a held file is `real` or lies below it.
    pub fn holds_at_or_under(&self, real: &Path) -> bool {
        self.any()
            && self
                .held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .any(|(_, p)| p.starts_with(real))
    }

    /// Waits until `still_held` is false (rechecked at each release) or `max` has passed;
    /// returns whether it is free. A plugin usually decides within a millisecond, so a
    /// client's next command waits that long instead of being refused.
    pub async fn wait_until(&self, max: Duration, still_held: impl Fn(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let released = self.released.notified();
            if !still_held(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return !still_held(self);
            }
        }
    }
}

impl Drop for HeldFile {
    fn drop(&mut self) {
        {
            let mut held = self.files.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((n, _)) = held.get_mut(&self.id) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&self.id);
                }
            }
            self.files.count.fetch_sub(1, Ordering::SeqCst);
        }
        self.files.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_held_until_its_last_hold_is_dropped() {
        let files = Arc::new(HeldFiles::default());
        assert!(!files.any());
        let a = files.hold((1, 7), Path::new("/srv/u/d/x.exe"));
        let b = files.hold((1, 7), Path::new("/srv/u/d/x.exe"));
        assert!(files.holds_at_or_under(Path::new("/srv/u/d")));
        assert!(!files.holds_at_or_under(Path::new("/srv/u/e")));
        assert!(files.is_held((1, 7)));
        assert!(!files.is_held((1, 8)));
        drop(a);
        assert!(files.is_held((1, 7)));
        drop(b);
        assert!(!files.is_held((1, 7)));
        assert!(!files.any());
    }
}
