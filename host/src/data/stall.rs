//! "The data connection stalled" means no bytes moved on the wire for `data_timeout_secs`.
//! A write can wait much longer than that while data flows: a slow reader (10 KB/s) drains a
//! full kernel send buffer slowly, and the socket turns writable only once a good part of it
//! is free. So when a wait times out, the kernel's own counters decide: if the peer
//! acknowledged or sent bytes since the last look (`TCP_INFO`), the transfer is alive and the
//! wait goes on.

use std::io;
use std::os::fd::RawFd;
use std::task::Poll;
use std::time::Duration;

/// Bytes the peer acknowledged plus bytes received from it, as the kernel counts them.
pub fn wire_bytes(fd: RawFd) -> Option<u64> {
    // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes; a closed or foreign fd returns an error.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0).then(|| info.tcpi_bytes_acked.wrapping_add(info.tcpi_bytes_received))
}

/// Runs `fut` until it completes, or until `stall` passed without any bytes moving on `fd`.
pub async fn with_stall<T>(
    fd: RawFd,
    stall: Duration,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    let mut fut = std::pin::pin!(fut);
    // Most writes complete at once (room in the send buffer): the kernel's counters are read
    // only when the write has to wait, before the wait starts.
    let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    if let Poll::Ready(r) = first {
        return r;
    }
    let mut seen = wire_bytes(fd);
    loop {
        match tokio::time::timeout(stall, &mut fut).await {
            Ok(r) => return r,
            Err(_) => {
                let now = wire_bytes(fd);
                if now.is_some() && now != seen {
                    seen = now;
                    continue;
                }
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "data connection stalled: no bytes moved for {} s",
                        stall.as_secs()
                    ),
                ));
            }
        }
    }
}
