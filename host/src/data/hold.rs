//! Session tickets on a data connection, held back: an upload's until the upload is complete,
//! a download's until its first data, which they then leave with in one write (one packet and
//! one wake-up of the client fewer per transfer).
//!
//! OpenSSL clients (curl, PHP) use each TLS 1.3 ticket once, so every data connection must give
//! them a fresh one. But many clients never read an upload connection (Go's crypto/tls in
//! rclone, GnuTLS in lftp): tickets sent right after the handshake sit unread, and when such a
//! client closes, its kernel resets the connection and drops whatever it had not sent yet — the
//! upload's tail. So on an upload whose handshake follows the transfer command, the TLS 1.3
//! tickets (the only bytes rustls writes after the client's Finished and before application
//! data) are kept here and written only after the client's close_notify: clients that read
//! until the server's close_notify (PHP) get them, the others have closed and lose nothing.
//! (curl starts its handshake before the command and reads tickets when it closes; those are
//! sent at once, see `pending`.) Held bytes and the next records go out in one writev.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::tls::scope::TicketSignal;

/// The TCP stream under a data connection's TLS, able to hold back writes (see module docs).
pub struct HoldIo {
    tcp: TcpStream,
    /// Set by the connection's ticketer when rustls creates a ticket; None: never hold.
    signal: Option<Arc<TicketSignal>>,
    /// Whether the server's first flight said TLS 1.3 (only then are tickets post-handshake).
    tls13: Option<bool>,
    holding: bool,
    held: Vec<u8>,
}

impl HoldIo {
    pub fn new(tcp: TcpStream, signal: Option<Arc<TicketSignal>>) -> HoldIo {
        HoldIo {
            tcp,
            signal,
            tls13: None,
            holding: false,
            held: Vec::new(),
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// The TCP stream, once the TLS layer is gone (CCC); anything still held is dropped, which
    /// cannot happen after a flush.
    pub fn into_tcp(self) -> TcpStream {
        self.tcp
    }

    /// Asks the kernel to send any pending ACK now (TCP_QUICKACK). After a handshake whose
    /// tickets are held the server has nothing to send, so the client's Finished waits for a
    /// delayed ACK, and a client with Nagle's algorithm (Python's ssl, most test clients)
    /// holds its next bytes (the first command, an upload's data) until then: ~40 ms.
    pub fn quick_ack(&self) {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and a c_int option value of the right size.
        unsafe {
            libc::setsockopt(
                self.tcp.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }

    /// Stops holding: what was held goes out before anything written later.
    pub fn release(&mut self) {
        self.holding = false;
        self.signal = None;
    }

    /// Bytes held now (tests, logs).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Before each write: the first one tells the TLS version; once the ticketer fired on a
    /// TLS 1.3 connection, writes are held.
    fn see_write(&mut self, first: &[u8]) {
        if self.tls13.is_none() && self.signal.is_some() {
            self.tls13 = Some(server_hello_is_tls13(first));
        }
        if !self.holding
            && self.tls13 == Some(true)
            && self.signal.as_ref().is_some_and(|s| s.fired())
        {
            self.holding = true;
        }
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() && !self.holding {
            let n = std::task::ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.held))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.held.drain(..n);
        }
        self.let_go_of_held_storage();
        Poll::Ready(Ok(()))
    }

    /// Held bytes are a control connection's tickets or a data connection's first flight, sent
    /// once; keeping their ~1.6 KiB of capacity would cost every idle TLS session that much for
    /// its whole life.
    fn let_go_of_held_storage(&mut self) {
        if self.held.is_empty() && self.held.capacity() > 0 {
            self.held = Vec::new();
        }
    }
}

/// Whether a server's first write (a plaintext ServerHello record) selects TLS 1.3: its
/// `supported_versions` extension (43) says 0x0304. TLS 1.2 ServerHellos have no such
/// extension.
pub fn server_hello_is_tls13(bytes: &[u8]) -> bool {
    let get = |i: usize| bytes.get(i).copied();
    // record header (5), handshake header (4), version (2), random (32), session id
    if get(0) != Some(0x16) || get(5) != Some(0x02) {
        return false;
    }
    let mut i = 5 + 4 + 2 + 32;
    let Some(sid) = get(i) else { return false };
    i += 1 + sid as usize + 2 + 1; // session id, cipher suite, compression
    let (Some(a), Some(b)) = (get(i), get(i + 1)) else {
        return false;
    };
    let end = (i + 2 + u16::from_be_bytes([a, b]) as usize).min(bytes.len());
    i += 2;
    while i + 4 <= end {
        let t = u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let l = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if t == 43 && l == 2 {
            return bytes.get(i + 4..i + 6) == Some(&[0x03, 0x04][..]);
        }
        i += 4 + l;
    }
    false
}

impl AsyncRead for HoldIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for HoldIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    /// rustls hands over every record it has queued at once: a handshake flight (ServerHello,
    /// ChangeCipherSpec, the encrypted rest) or a run of full records goes out in one writev,
    /// not one send each (each send on loopback also wakes the client).
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(first) = bufs.iter().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        this.see_write(first);
        if this.holding {
            let mut n = 0;
            for b in bufs {
                this.held.extend_from_slice(b);
                n += b.len();
            }
            return Poll::Ready(Ok(n));
        }
        // What was held leaves with these records, in one write.
        while !this.held.is_empty() {
            let mut all = Vec::with_capacity(bufs.len() + 1);
            all.push(io::IoSlice::new(&this.held));
            all.extend(bufs.iter().map(|b| io::IoSlice::new(b)));
            let n = std::task::ready!(Pin::new(&mut this.tcp).poll_write_vectored(cx, &all))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n <= this.held.len() {
                this.held.drain(..n);
                continue;
            }
            let past = n - this.held.len();
            this.held.clear();
            this.let_go_of_held_storage();
            return Poll::Ready(Ok(past));
        }
        Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.holding {
            return Poll::Ready(Ok(()));
        }
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.holding {
            std::task::ready!(this.poll_drain(cx))?;
        }
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handshake flight is several records; each send on loopback wakes the client, so they
    /// must leave in one write (the default `poll_write_vectored` takes the first one only).
    #[tokio::test]
    async fn a_vectored_write_goes_out_whole() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let ((server, _), mut client) = tokio::try_join!(listener.accept(), client).unwrap();
        let mut io = HoldIo::new(server, None);
        assert!(io.is_write_vectored());
        let parts = [&b"hello"[..], b"", b", ", b"world"];
        let slices: Vec<io::IoSlice> = parts.iter().map(|p| io::IoSlice::new(p)).collect();
        let n = io.write_vectored(&slices).await.unwrap();
        assert_eq!(n, 12, "all records in one write");
        io.shutdown().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello, world");
    }

    /// Every idle TLS control connection once held its tickets: the storage must not stay.
    #[tokio::test]
    async fn held_bytes_leave_with_the_next_write_and_their_storage_with_them() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let ((server, _), mut client) = tokio::try_join!(listener.accept(), client).unwrap();
        let mut io = HoldIo::new(server, None);
        io.holding = true;
        io.write_all(&[9u8; 1500]).await.unwrap();
        io.flush().await.unwrap();
        assert_eq!(io.held(), 1500, "held while holding, even across a flush");
        io.release();
        io.write_all(b"220 reply").await.unwrap();
        assert_eq!((io.held(), io.held.capacity()), (0, 0));
        io.shutdown().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 1509);
        assert!(got.ends_with(b"220 reply"));
    }

    #[test]
    fn tells_tls13_server_hellos_from_tls12_ones() {
        // A minimal ServerHello: record, handshake header, version, random, empty session id,
        // cipher suite, compression, extensions.
        let hello = |exts: &[u8]| {
            let mut body = vec![0x03, 0x03];
            body.extend([7u8; 32]);
            body.push(0);
            body.extend([0x13, 0x01, 0x00]);
            body.extend((exts.len() as u16).to_be_bytes());
            body.extend(exts);
            let mut hs = vec![0x02, 0, 0, body.len() as u8];
            hs.extend(body);
            let mut rec = vec![0x16, 0x03, 0x03, 0, hs.len() as u8];
            rec.extend(hs);
            rec
        };
        assert!(server_hello_is_tls13(&hello(&[0, 43, 0, 2, 3, 4])));
        assert!(server_hello_is_tls13(&hello(&[
            0, 51, 0, 0, 0, 43, 0, 2, 3, 4
        ])));
        assert!(!server_hello_is_tls13(&hello(&[])));
        assert!(!server_hello_is_tls13(&hello(&[0, 43, 0, 2, 3, 3])));
        assert!(!server_hello_is_tls13(b"\x17\x03\x03"));
        assert!(!server_hello_is_tls13(&[]));
    }
}
