//! Files of the ACME state folder written whole or not at all: a crash mid-write leaves the
//! previous version, never half a key.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::AcmeError;

fn temp_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    path.with_file_name(name)
}

/// Writes `bytes` to `path.new` (mode 0600 when `private`), synced; returns that path.
pub fn write_temp(path: &Path, bytes: &[u8], private: bool) -> Result<PathBuf, AcmeError> {
    let io = |source| AcmeError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = temp_of(path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(tmp)
}

/// Puts a file written by [`write_temp`] in place.
pub fn commit(tmp: &Path, path: &Path) -> Result<(), AcmeError> {
    std::fs::rename(tmp, path).map_err(|source| AcmeError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a private file (mode 0600) atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AcmeError> {
    let tmp = write_temp(path, bytes, true)?;
    commit(&tmp, path)
}
