//! Admission of a control connection before its session: the access rules, the connection
//! limits, the plugins' `connect` hook and, on the implicit listener, the TLS handshake. A
//! refused connection gets a 421 that says why (after the handshake on the implicit listener,
//! so the client can read it).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::context::{ListenerKind, ServerContext};
use crate::protocol::{Code, Reply};
use crate::session::ControlStream;

/// What a connection that may become a session carries into it.
pub struct Admitted {
    pub stream: ControlStream,
    /// The client: the peer, or the address a trusted proxy's header named.
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub keys: crate::session::state::SessionKeys,
    pub guard: crate::access::limits::ConnectionGuard,
}

/// Admits a connection or refuses it with its reply (421 and why).
pub async fn admit(
    ctx: Arc<ServerContext>,
    kind: ListenerKind,
    mut tcp: TcpStream,
    peer: SocketAddr,
) -> Option<Admitted> {
    let _ = tcp.set_nodelay(true);
    // Urgent data stays in the stream: clients send ABOR (or the Telnet Synch before it) as
    // TCP urgent data, and the kernel would otherwise take that byte out of the command line.
    let _ = socket2::SockRef::from(&tcp).set_out_of_band_inline(true);
    let local = match tcp.local_addr() {
        Ok(a) => a,
        Err(_) => return None,
    };
    let peer = match crate::proxy_protocol::client_of(&ctx.config.proxy_protocol, &mut tcp, peer)
        .await
    {
        Ok(client) => client,
        Err(e) => {
            if let Some(left_out) = crate::access::refusal_log::admit(peer.ip(), "proxy protocol") {
                tracing::warn!(%peer, error = %e, left_out, "connection refused");
            }
            if matches!(e, crate::proxy_protocol::ProxyRefusal::Direct) {
                let reply = Reply::new(Code::SERVICE_CLOSING, format!("Refused: {e}."));
                refuse(ctx, kind, tcp, reply).await;
            }
            return None;
        }
    };
    if !ctx.ip_rules.load().admits(peer.ip()) {
        if let Some(left_out) = crate::access::refusal_log::admit(peer.ip(), "ip rules") {
            tracing::info!(%peer, left_out, "connection refused by the IP access rules");
        }
        refuse(
            ctx,
            kind,
            tcp,
            Reply::new(Code::SERVICE_CLOSING, "Access denied for your address."),
        )
        .await;
        return None;
    }
    let guard = match ctx.limits.try_acquire(peer.ip()) {
        Ok(g) => g,
        Err(e) => {
            if let Some(left_out) = crate::access::refusal_log::admit(peer.ip(), "limits") {
                tracing::info!(%peer, reason = %e, left_out, "connection refused by limits");
            }
            refuse(
                ctx,
                kind,
                tcp,
                Reply::new(Code::SERVICE_CLOSING, e.to_string()),
            )
            .await;
            return None;
        }
    };
    let id = ctx.sessions.next_id();
    if ctx.plugins.has(ftpsd_plugin_sdk::Hook::Connect) {
        let listener = if kind == ListenerKind::Explicit {
            "explicit"
        } else {
            "implicit"
        };
        let ev = ftpsd_plugin_sdk::ConnectEvent {
            ip: peer.ip().to_string(),
            listener: listener.into(),
            session: id,
            // Implicit FTPS shakes hands after this gate: no TLS facts yet at connect.
            tls: None,
        };
        if let crate::plugins::Decision::Deny { message, by, .. } = ctx
            .plugins
            .gate(ftpsd_plugin_sdk::Request::Connect(ev))
            .await
        {
            if let Some(left_out) = crate::access::refusal_log::admit(peer.ip(), "plugin") {
                tracing::info!(%peer, plugin = %by, left_out, "connection refused by a plugin");
            }
            let text = crate::session::refusal::one_line(&message);
            refuse(ctx, kind, tcp, Reply::new(Code::SERVICE_CLOSING, text)).await;
            return None;
        }
    }
    let token: [u8; 16] = rand::random();
    let scope = crate::tls::scope::ResumptionScope::new();
    let stream = match kind {
        ListenerKind::Explicit => ControlStream::Plain(tcp),
        ListenerKind::Implicit => {
            let signal = Arc::new(crate::tls::scope::TicketSignal::default());
            let config = scope.control_config(&ctx.tls.load().control, token, signal.clone());
            let timeout = ctx.live.load().tls_handshake_timeout();
            let accepted =
                crate::session::control::accept_tls(tcp, config, token, timeout, signal).await;
            scope.control_done();
            match accepted {
                Ok(tls) => ControlStream::Tls(Box::new(tls)),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    tracing::info!(%peer, "implicit TLS handshake timed out");
                    return None;
                }
                Err(e) => {
                    tracing::info!(%peer, error = %e, "implicit TLS handshake failed");
                    return None;
                }
            }
        }
    };
    Some(Admitted {
        stream,
        peer,
        local,
        keys: crate::session::state::SessionKeys { id, token, scope },
        guard,
    })
}

/// Sends a 421 before closing; on the implicit listener after a TLS handshake, so the client
/// can read why.
async fn refuse(ctx: Arc<ServerContext>, kind: ListenerKind, tcp: TcpStream, reply: Reply) {
    let text = reply.to_wire();
    ctx.metrics.reply(reply.code);
    let timeout = ctx.live.load().tls_handshake_timeout();
    let _ = tokio::time::timeout(timeout, async {
        match kind {
            ListenerKind::Explicit => {
                let mut tcp = tcp;
                let _ = tcp.write_all(&text).await;
                let _ = tcp.shutdown().await;
            }
            ListenerKind::Implicit => {
                let acceptor = tokio_rustls::TlsAcceptor::from(ctx.tls.load().control.clone());
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(&text).await;
                    let _ = tls.shutdown().await;
                }
            }
        }
    })
    .await;
}
