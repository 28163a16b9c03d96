//! Plain binary downloads with `sendfile(2)`: the kernel moves page-cache pages to the socket
//! without a copy through user space.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::Interest;

use super::transfer::with_stall;
use super::{DataError, DataStream};

const CHUNK: usize = 1 << 20;

pub async fn send(
    file: &std::fs::File,
    data: &mut DataStream,
    progress: &AtomicU64,
    stall: Duration,
) -> Result<u64, DataError> {
    let DataStream::Plain(tcp) = data else {
        return Err(DataError::Local("sendfile needs a plain connection".into()));
    };
    let lost = |e: io::Error| DataError::Lost(e.to_string());
    let file_fd = file.as_raw_fd();
    let sock_fd = tcp.as_raw_fd();
    let mut total = 0u64;
    loop {
        with_stall(stall, tcp.writable()).await.map_err(lost)?;
        // The file offset advances with each call (offset pointer NULL): REST already seeked.
        let sent = tcp.try_io(Interest::WRITABLE, || {
            let n = unsafe { libc::sendfile(sock_fd, file_fd, std::ptr::null_mut(), CHUNK) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => return Ok(total),
            Ok(n) => {
                total += n as u64;
                progress.store(total, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e)
                if e.raw_os_error() == Some(libc::EINVAL)
                    || e.raw_os_error() == Some(libc::ENOSYS) =>
            {
                return Err(DataError::Local(format!("sendfile unsupported here: {e}")));
            }
            Err(e) => return Err(lost(e)),
        }
    }
}
