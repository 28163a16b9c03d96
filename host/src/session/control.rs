//! The control connection: plaintext or TLS, switched by AUTH TLS and CCC.
//! Reading is cancel-safe (bytes live in `buf`, never in a dropped future) so the session can
//! wait for a line and for a transfer at the same time. Lines are capped at [`MAX_LINE`]:
//! an overlong line is discarded as it arrives, never buffered.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::data::hold::HoldIo;
use crate::tls::scope::TicketSignal;

use crate::protocol::Reply;
use crate::protocol::command::MAX_LINE;

/// Room kept for reading commands (see `read_line`).
const LINE_ROOM: usize = 256;

pub enum ControlStream {
    Plain(TcpStream),
    /// Its tickets are held until the first reply, and leave with it (see `data::hold`).
    Tls(Box<TlsStream<HoldIo>>),
    /// Only while switching between the two.
    Switching,
    /// An in-memory connection, so session rules have unit tests without sockets (no TLS).
    #[cfg(test)]
    Memory(tokio::io::DuplexStream),
}

pub enum Line {
    Complete(Vec<u8>),
    TooLong,
}

pub struct ControlConn {
    stream: ControlStream,
    buf: Vec<u8>,
    discarding: bool,
    /// After CCC the client may still send its TLS close_notify record; it is skipped.
    skip_tls_alert: bool,
    /// A plain read happened since the socket was last found empty (see
    /// `read_past_urgent_mark`).
    maybe_more: bool,
}

impl ControlConn {
    pub fn new(stream: ControlStream) -> Self {
        ControlConn {
            stream,
            buf: Vec::new(),
            discarding: false,
            skip_tls_alert: false,
            maybe_more: false,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, ControlStream::Tls(_))
    }

    /// What plugins learn of this connection's TLS (None while it is plain).
    pub fn tls_info(&self) -> Option<ftpsd_plugin_sdk::TlsInfo> {
        let ControlStream::Tls(tls) = &self.stream else {
            return None;
        };
        let conn = tls.get_ref().1;
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
            Some(v) => format!("{v:?}"),
            None => String::new(),
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_default();
        let cert = conn.peer_certificates().and_then(|c| c.first());
        Some(ftpsd_plugin_sdk::TlsInfo {
            version,
            cipher,
            sni: conn.server_name().map(str::to_string),
            client_cert_sha256: cert.map(|c| crate::tls::fingerprint_sha256(c.as_ref())),
            client_cert_subject: cert.and_then(|c| crate::tls::expiry::subject(c.as_ref())),
        })
    }

    /// The next line, `None` at end of stream.
    pub async fn read_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            if self.skip_tls_alert && !self.skip_alert_record() {
                // need more bytes to decide
            } else if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                if std::mem::take(&mut self.discarding) || line.len() > MAX_LINE {
                    return Ok(Some(Line::TooLong));
                }
                return Ok(Some(Line::Complete(line)));
            } else if self.buf.len() >= MAX_LINE {
                self.buf.clear();
                self.discarding = true;
            }
            // Straight into the line buffer's spare room: no chunk array lives in the session's
            // future while it waits for the client (which is most of its life). The room is
            // what a command needs (most are under 100 bytes), not a KiB per idle session; a
            // long line grows it, and it goes back to that once the line is consumed.
            if self.buf.is_empty() && self.buf.capacity() > LINE_ROOM {
                self.buf = Vec::new();
            }
            self.buf.reserve(LINE_ROOM);
            match self.read_past_urgent_mark() {
                Some(0) => return Ok(None),
                Some(_) => {
                    // These reads bypass tokio, so they must count against the task's budget
                    // themselves: a client sending without pause would otherwise keep this
                    // worker thread (and the session's timeouts) from ever running anything else.
                    tokio::task::coop::consume_budget().await;
                    continue;
                }
                None => {}
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
            self.maybe_more = matches!(self.stream, ControlStream::Plain(_));
        }
    }

    /// Clients send ABOR's last byte (Python's ftplib) or the Telnet Synch before it (lftp) as
    /// TCP urgent data, which stays in the stream (SO_OOBINLINE) but ends a read at its mark.
    /// tokio takes a short read for a drained socket and, readiness being edge-triggered, what
    /// follows the mark would wait for the client's next packet, which never comes while the
    /// client waits for a reply. So after a read, a plain connection is read again without
    /// waiting until nothing is there: Some(bytes read), 0 at end of stream; None when nothing
    /// was waiting (then waiting for readiness is right).
    fn read_past_urgent_mark(&mut self) -> Option<usize> {
        if !std::mem::take(&mut self.maybe_more) {
            return None;
        }
        let ControlStream::Plain(tcp) = &self.stream else {
            return None;
        };
        let before = self.buf.len();
        let got = socket2::SockRef::from(tcp)
            .recv_with_flags(self.buf.spare_capacity_mut(), libc::MSG_DONTWAIT);
        match got {
            Ok(n) => {
                // SAFETY: recv initialised the first `n` bytes of the spare capacity.
                unsafe { self.buf.set_len(before + n) };
                self.maybe_more = n > 0;
                Some(n)
            }
            // Nothing waiting, or an error the next read reports.
            Err(_) => None,
        }
    }

    /// Skips TLS records left over from the closed TLS layer (the client's close_notify: an
    /// alert record in TLS 1.2, an application-data record in TLS 1.3). Returns true once the
    /// buffer starts with something that is not a TLS record (no FTP command starts with
    /// 0x15 or 0x17), false while more bytes are needed to decide.
    fn skip_alert_record(&mut self) -> bool {
        loop {
            if self.buf.is_empty() {
                return false;
            }
            if !(self.buf[0] == 0x15 || self.buf[0] == 0x17) {
                self.skip_tls_alert = false;
                return true;
            }
            if self.buf.len() < 5 {
                return false;
            }
            if self.buf[1] != 0x03 {
                self.skip_tls_alert = false;
                return true;
            }
            let len = 5 + usize::from(u16::from_be_bytes([self.buf[3], self.buf[4]]));
            if self.buf.len() < len {
                return false;
            }
            self.buf.drain(..len);
        }
    }

    pub async fn send(&mut self, reply: &Reply) -> io::Result<()> {
        self.stream.write_all(&reply.to_wire()).await?;
        self.stream.flush().await
    }

    /// [`ControlConn::send`], ended with an error once no byte moved for `stall` (the client
    /// stopped reading its replies; see `data::stall`).
    pub async fn send_within(&mut self, reply: &Reply, stall: Duration) -> io::Result<()> {
        match self.raw_fd() {
            Some(fd) => crate::data::stall::with_stall(fd, stall, self.send(reply)).await,
            None => self.send(reply).await,
        }
    }

    fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        match &self.stream {
            ControlStream::Plain(tcp) => Some(tcp.as_raw_fd()),
            ControlStream::Tls(tls) => Some(tls.get_ref().0.tcp().as_raw_fd()),
            _ => None,
        }
    }

    /// The session's last reply (QUIT's 221): over TLS it is put in the TLS layer unsent, and
    /// [`ControlConn::shutdown`] sends it with the close_notify in one write (one packet and
    /// one wake-up of the client fewer). A plain connection sends it now.
    pub async fn send_last(&mut self, reply: &Reply) -> io::Result<()> {
        let wire = reply.to_wire();
        if let ControlStream::Tls(tls) = &mut self.stream {
            let queued = {
                use std::io::Write;
                tls.get_mut().1.writer().write(&wire)
            };
            if let Ok(n) = queued {
                if n < wire.len() {
                    self.stream.write_all(&wire[n..]).await?;
                    self.stream.flush().await?;
                }
                return Ok(());
            }
        }
        self.send(reply).await
    }

    /// AUTH TLS: handshake on the existing connection. Plaintext the client sent after AUTH is
    /// discarded (it could be injected by a man in the middle, CVE-2011-0411 style).
    pub async fn upgrade(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        token: [u8; 16],
        timeout: Duration,
        signal: Arc<TicketSignal>,
    ) -> io::Result<()> {
        self.buf.clear();
        let ControlStream::Plain(tcp) =
            std::mem::replace(&mut self.stream, ControlStream::Switching)
        else {
            return Err(io::Error::other("control connection is not plaintext"));
        };
        self.stream = ControlStream::Tls(Box::new(
            accept_tls(tcp, config, token, timeout, signal).await?,
        ));
        Ok(())
    }

    /// CCC: send close_notify and go on in plaintext on the same TCP connection.
    pub async fn downgrade(&mut self) -> io::Result<()> {
        let ControlStream::Tls(mut tls) =
            std::mem::replace(&mut self.stream, ControlStream::Switching)
        else {
            return Err(io::Error::other("control connection is not TLS"));
        };
        tls.get_mut().1.send_close_notify();
        tls.flush().await?;
        let (io, _) = tls.into_inner();
        self.stream = ControlStream::Plain(io.into_tcp());
        self.skip_tls_alert = true;
        Ok(())
    }

    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stream.shutdown()).await;
    }
}

/// The TLS handshake of a control connection (AUTH TLS, or an implicit listener's first
/// bytes). `config` must fire `signal` when it creates a ticket: a TLS 1.3 connection's tickets
/// are then held, and leave with the first reply instead of in a packet of their own.
pub async fn accept_tls(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    token: [u8; 16],
    timeout: Duration,
    signal: Arc<TicketSignal>,
) -> io::Result<TlsStream<HoldIo>> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let io = HoldIo::new(tcp, Some(signal));
    let accept = acceptor.accept_with(io, |conn| conn.set_resumption_data(&token));
    let mut tls = tokio::time::timeout(timeout, accept)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    tls.get_mut().0.release();
    if tls.get_ref().0.held() > 0 {
        tls.get_ref().0.quick_ack();
    }
    Ok(tls)
}

impl AsyncRead for ControlStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ControlStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(test)]
            ControlStream::Memory(s) => Pin::new(s).poll_read(cx, buf),
            ControlStream::Switching => {
                Poll::Ready(Err(io::Error::from(io::ErrorKind::NotConnected)))
            }
        }
    }
}

impl AsyncWrite for ControlStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ControlStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(test)]
            ControlStream::Memory(s) => Pin::new(s).poll_write(cx, buf),
            ControlStream::Switching => {
                Poll::Ready(Err(io::Error::from(io::ErrorKind::NotConnected)))
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ControlStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(test)]
            ControlStream::Memory(s) => Pin::new(s).poll_flush(cx),
            ControlStream::Switching => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ControlStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ControlStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            #[cfg(test)]
            ControlStream::Memory(s) => Pin::new(s).poll_shutdown(cx),
            ControlStream::Switching => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's urgent byte in the middle of a command, right after a whole one, all in one
    /// segment: the read stops at the urgent mark, and the second command must still be read
    /// at once, not when the client next sends something (it is waiting for the reply).
    #[tokio::test]
    async fn a_command_after_the_urgent_mark_is_read_without_more_packets() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        socket2::SockRef::from(&server)
            .set_out_of_band_inline(true)
            .unwrap();
        let c = socket2::SockRef::from(&client);
        let mut conn = ControlConn::new(ControlStream::Plain(server));
        // First a command as usual, so the connection is in its steady state.
        c.send(b"USER x\r\n").unwrap();
        let line = conn.read_line().await.unwrap();
        assert!(matches!(line, Some(Line::Complete(l)) if l == b"USER x\r\n"));
        let cork = |on: libc::c_int| {
            use std::os::fd::AsRawFd;
            // SAFETY: setsockopt on an open socket with an int-sized option value.
            let r = unsafe {
                libc::setsockopt(
                    client.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_CORK,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(r, 0);
        };
        cork(1);
        c.send(b"NOOP\r\nSY").unwrap();
        c.send_with_flags(b"S", libc::MSG_OOB).unwrap();
        c.send(b"T\r\n").unwrap();
        cork(0);
        for want in [&b"NOOP\r\n"[..], b"SYST\r\n"] {
            let line = tokio::time::timeout(Duration::from_secs(5), conn.read_line())
                .await
                .expect("the line is read without the client sending more")
                .unwrap();
            assert!(matches!(line, Some(Line::Complete(l)) if l == want));
        }
    }
}
