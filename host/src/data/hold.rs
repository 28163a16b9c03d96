//! Session tickets on an upload's data connection, held back until the upload is complete.
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
//! sent at once, see `pending`.)

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

    /// Stops holding: what was held goes out before anything written later.
    pub fn release(&mut self) {
        self.holding = false;
        self.signal = None;
    }

    /// Bytes held now (tests, logs).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() && !self.holding {
            let n = std::task::ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.held))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.held.drain(..n);
        }
        Poll::Ready(Ok(()))
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
        let this = self.get_mut();
        if this.tls13.is_none() && this.signal.is_some() {
            this.tls13 = Some(server_hello_is_tls13(buf));
        }
        if !this.holding
            && this.tls13 == Some(true)
            && this.signal.as_ref().is_some_and(|s| s.fired())
        {
            this.holding = true;
        }
        if this.holding {
            this.held.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.tcp).poll_write(cx, buf)
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
