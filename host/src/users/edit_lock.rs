//! One editor of the users file at a time. Every `ftpsd user …` / `ftpsd group …` command
//! reads, changes and writes the whole file; two at once would each write what they read and
//! undo the other's change (a `--disable` reported done, then lost). The lock is an advisory
//! `flock` on `<users file>.lock`, held until the command ends.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a command waits for another one to finish editing.
const WAIT: Duration = Duration::from_secs(10);

/// Held while the users file is being edited; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct EditLock {
    _file: std::fs::File,
}

#[derive(Debug, thiserror::Error)]
pub enum EditLockError {
    #[error("cannot open the lock file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another ftpsd command has been editing {users} for {secs} s (lock {path}); try again when it is done"
    )]
    Busy {
        users: PathBuf,
        path: PathBuf,
        secs: u64,
    },
}

impl EditLock {
    /// Waits (bounded) until no other command edits `users_file`.
    pub fn acquire(users_file: &Path) -> Result<EditLock, EditLockError> {
        let mut name = users_file.as_os_str().to_os_string();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        // Never through a symlink, never blocked on a FIFO, and only a regular file.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .and_then(|f| {
                if f.metadata()?.is_file() {
                    Ok(f)
                } else {
                    Err(std::io::Error::other("not a regular file; remove it"))
                }
            })
            .map_err(|source| EditLockError::Open {
                path: path.clone(),
                source,
            })?;
        let started = Instant::now();
        loop {
            // SAFETY: flock on a file descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(EditLock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(EditLockError::Open { path, source: e });
            }
            if started.elapsed() >= WAIT {
                return Err(EditLockError::Busy {
                    users: users_file.to_path_buf(),
                    path,
                    secs: WAIT.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_is_never_a_symlink_or_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users.toml");
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("users.toml.lock")).unwrap();
        assert!(EditLock::acquire(&users).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        let other = dir.path().join("u2.toml");
        let fifo = std::ffi::CString::new(format!("{}.lock", other.display())).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let e = EditLock::acquire(&other).unwrap_err().to_string();
        assert!(e.contains("u2.toml.lock"), "{e}");
    }

    #[test]
    fn a_second_editor_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users.toml");
        let first = EditLock::acquire(&users).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let u = users.clone();
        let second = std::thread::spawn(move || {
            let lock = EditLock::acquire(&u).unwrap();
            tx.send(()).unwrap();
            lock
        });
        // While the first holds it, the second cannot have it.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        drop(second.join().unwrap());
    }
}
