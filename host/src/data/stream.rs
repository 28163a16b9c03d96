//! A data connection, plain or TLS, and the TLS accept with the session-reuse check.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::error::DataError;
use super::protection::DataTls;

pub enum DataStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<super::hold::HoldIo>>),
}

impl DataStream {
    /// The socket, for the kernel's view of the transfer (see `stall`).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            DataStream::Plain(s) => s.as_raw_fd(),
            DataStream::Tls(s) => s.get_ref().0.tcp().as_raw_fd(),
        }
    }

    /// Puts a transfer's last bytes in the TLS layer without sending them, so that they leave
    /// with the close_notify that `shutdown` adds, in one write (one packet and one wake-up of
    /// the client fewer). Returns how many bytes were taken: 0 on a plain connection, fewer
    /// than all when the TLS layer's buffer is full (the rest is then written as usual).
    pub fn queue_final(&mut self, bytes: &[u8]) -> usize {
        match self {
            DataStream::Plain(_) => 0,
            DataStream::Tls(s) => {
                use std::io::Write;
                s.get_mut().1.writer().write(bytes).unwrap_or(0)
            }
        }
    }

    /// Lets held session tickets go out with what is written next (see `hold`).
    pub fn release_held(&mut self) {
        if let DataStream::Tls(s) = self {
            s.get_mut().0.release();
        }
    }
}

pub async fn accept_tls(tcp: TcpStream, t: DataTls) -> Result<DataStream, DataError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(t.config);
    let token = t.token;
    let io = super::hold::HoldIo::new(tcp, t.hold.clone());
    let accept = acceptor.accept_with(io, |c| c.set_resumption_data(&token));
    let tls = tokio::time::timeout(t.handshake_timeout, accept)
        .await
        .map_err(|_| DataError::Tls("handshake timed out".into()))?
        .map_err(|e| DataError::Tls(e.to_string()))?;
    // The client's Finished may wait for our ACK: on an upload the server has nothing to send
    // after the handshake, and a client with Nagle's algorithm (Python's ssl) would hold its
    // first data back until the delayed ACK, ~40 ms per transfer. Acknowledge at once.
    tls.get_ref().0.quick_ack();
    if t.require_reuse {
        // A resumption of keys a control connection received before it logged in counts once
        // that connection has logged in as this session's user (see `tls::scope`).
        if let Some((tentative, user)) = &t.tentative
            && let Some(pending) = tentative.used()
            && !pending.owned_by(user, t.handshake_timeout).await
        {
            tracing::warn!(
                "data connection resumed keys of a control connection that did not log in as this user; refused"
            );
            return Err(DataError::ReuseRequired);
        }
        let conn = tls.get_ref().1;
        // The config's resumption scope finds only the scope's TLS sessions, so any
        // resumption is of ours; TLS 1.3 tickets must also carry one of the scope's tokens.
        let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let resumed_ours = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => {
                resumed
                    && conn
                        .received_resumption_data()
                        .is_some_and(|d| t.scope.knows_token(d))
            }
            _ => resumed,
        };
        if !resumed_ours {
            tracing::warn!(
                resumed_other_session = resumed,
                "data connection did not resume the control session; refused"
            );
            return Err(DataError::ReuseRequired);
        }
    }
    Ok(DataStream::Tls(Box::new(tls)))
}

impl AsyncRead for DataStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            DataStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            DataStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for DataStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            DataStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            DataStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            DataStream::Plain(s) => Pin::new(s).poll_flush(cx),
            DataStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            DataStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            DataStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
