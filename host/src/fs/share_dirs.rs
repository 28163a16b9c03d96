//! Open folders of mounts and shares, one per folder for the whole server: a home, or a folder
//! shared with everyone, costs one descriptor however many sessions have it (a descriptor per
//! session and folder would let one user with many sessions exhaust the process's
//! descriptors, and 10,000 sessions would need 20,000).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use super::vfs::ShareOrigin;
use super::{FsError, Sandbox, VirtualPath};

/// Entries kept before the dead ones are swept.
const SWEEP_AT: usize = 4096;

#[derive(Default)]
pub struct ShareDirs {
    open: Mutex<HashMap<PathBuf, Weak<Sandbox>>>,
}

impl ShareDirs {
    /// Shared folders open now (each one descriptor).
    pub fn open_now(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.values().filter(|w| w.strong_count() > 0).count()
    }

    /// The folder `inside` the owner's mount `mount_real`, opened through that mount (so no
    /// symlink leads out of it), shared with every session that has it open already if it is
    /// still the folder at that path.
    pub fn open(
        &self,
        mount_real: &Path,
        inside: &VirtualPath,
    ) -> Result<(Arc<Sandbox>, ShareOrigin), FsError> {
        use std::os::unix::fs::MetadataExt;
        let path = mount_real.join(inside.relative());
        let now = std::fs::metadata(&path).map(|m| (m.dev(), m.ino()))?;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = open.get(&path).and_then(Weak::upgrade)
            && s.identity() == Some(now)
        {
            return Ok((
                s,
                ShareOrigin {
                    path,
                    identity: now,
                },
            ));
        }
        let s = Arc::new(Sandbox::open_within(mount_real, inside)?);
        let identity = s.identity().ok_or(FsError::NotFound)?;
        if open.len() >= SWEEP_AT {
            open.retain(|_, w| w.strong_count() > 0);
        }
        open.insert(path.clone(), Arc::downgrade(&s));
        Ok((s, ShareOrigin { path, identity }))
    }
}
