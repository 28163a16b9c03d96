//! Reading a file for a download without stalling the async runtime on the disk.
//!
//! A read is first tried with `preadv2(RWF_NOWAIT)`, which copies only what is already in the
//! page cache and never waits for the device; whatever that cannot serve is read on the
//! blocking pool. The usual download (a file that is cached, or being read ahead) is thus read
//! inline by the task that encrypts and sends it: no thread hand-off per chunk, and the bytes
//! are still in this core's cache when rustls seals them and the kernel copies them out.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::Arc;

pub struct ChunkReader {
    file: Arc<File>,
    /// Set once RWF_NOWAIT turned out unsupported here (old kernel, odd filesystem).
    blocking_only: bool,
}

impl ChunkReader {
    /// Reads from the file's current position (so a REST offset already applied holds).
    pub fn new(file: File) -> Self {
        ChunkReader {
            file: Arc::new(file),
            blocking_only: false,
        }
    }

    /// Fills `buf` with the next bytes (fewer at the end of the file; 0 at its end).
    pub async fn read(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        if !self.blocking_only {
            match read_cached(&self.file, buf) {
                Ok(n) if n > 0 => return Ok(n),
                // 0 can mean the end of the file or nothing cached: the file's size tells
                // (two cheap calls, where a blocking read is a thread hand-off and back).
                Ok(_) if self.at_end()? => return Ok(0),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if is_unsupported(&e) => self.blocking_only = true,
                Err(e) => return Err(e),
            }
        }
        let file = self.file.clone();
        let mut owned = std::mem::take(buf);
        let (owned, result) = tokio::task::spawn_blocking(move || {
            let r = (&*file).read(&mut owned);
            (owned, r)
        })
        .await
        .map_err(io::Error::other)?;
        *buf = owned;
        result
    }
}

impl ChunkReader {
    /// Whether the position is at (or past) the end of the file as it is now.
    pub fn at_end(&self) -> io::Result<bool> {
        use std::io::Seek;
        let len = self.file.metadata()?.len();
        Ok((&*self.file).stream_position()? >= len)
    }

    /// Bytes from the position to the end of the file as it is now (a read size for a small
    /// file: no need for a large zeroed buffer).
    pub fn remaining(&self) -> io::Result<u64> {
        use std::io::Seek;
        let len = self.file.metadata()?.len();
        Ok(len.saturating_sub((&*self.file).stream_position()?))
    }
}

/// One `preadv2(RWF_NOWAIT)` at the current position: page-cache bytes only.
fn read_cached(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: the iovec points into `buf`, which outlives the call; offset -1 means "the
    // current file position, then advance it", as read(2) does.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) | Some(libc::EINVAL)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[tokio::test]
    async fn reads_everything_from_the_current_position() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        f.seek(SeekFrom::Start(1000)).unwrap();
        let mut r = ChunkReader::new(f);
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = Vec::new();
        loop {
            let n = r.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, &data[1000..]);
        assert_eq!(buf.len(), 64 * 1024, "the buffer comes back whole");
    }
}
