//! Whether a file range is in the page cache, asked with `cachestat(2)` (Linux 6.5+): one walk
//! of the cache for the whole range. `mincore` looks every page up on its own, which cost 4–5 %
//! of the server's CPU in a plain download; callers fall back to it where `cachestat` is
//! missing (older kernels, seccomp filters that do not know it).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// `cachestat` has the same number on every architecture (it came after the unified table).
const SYS_CACHESTAT: libc::c_long = 451;

#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// `Some(true)` when every page of `offset..offset+len` is cached, `None` when the kernel
/// cannot tell this way.
pub fn fully_cached(file: &File, offset: u64, len: u64, page: u64) -> Option<bool> {
    if len == 0 {
        return Some(true);
    }
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return None;
    }
    let range = CachestatRange { off: offset, len };
    let mut stat = Cachestat::default();
    // SAFETY: both structs match the kernel's layout and live across the call.
    let r = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const CachestatRange,
            &mut stat as *mut Cachestat,
            0u32,
        )
    };
    if r != 0 {
        let err = std::io::Error::last_os_error().raw_os_error();
        if matches!(
            err,
            Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::EOPNOTSUPP)
        ) {
            UNSUPPORTED.store(true, Ordering::Relaxed);
        }
        return None;
    }
    Some(stat.nr_cache >= pages_in(offset, len, page))
}

/// Pages touched by `offset..offset+len` (`len` > 0).
fn pages_in(offset: u64, len: u64, page: u64) -> u64 {
    (offset + len - 1) / page - offset / page + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn pages_touched_by_a_range() {
        assert_eq!(pages_in(0, 1, 4096), 1);
        assert_eq!(pages_in(0, 4096, 4096), 1);
        assert_eq!(pages_in(0, 4097, 4096), 2);
        assert_eq!(pages_in(4095, 2, 4096), 2);
        assert_eq!(pages_in(8192, 1 << 20, 4096), 256);
    }

    #[test]
    fn a_file_just_written_is_cached() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![7u8; 300_000]).unwrap();
        // Where the kernel has no cachestat the answer is None, never a wrong `false`.
        if let Some(cached) = fully_cached(&f, 4096, 200_000, 4096) {
            assert!(cached);
        }
        assert_eq!(fully_cached(&f, 0, 0, 4096), Some(true));
        // A hole past what was written has never been read into memory.
        f.set_len(64 << 20).unwrap();
        if let Some(cached) = fully_cached(&f, 32 << 20, 1 << 20, 4096) {
            assert!(!cached);
        }
    }
}
