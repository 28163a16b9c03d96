//! AUTH TLS/SSL/TLS-C/TLS-P (RFC 4217): reply 234 in plaintext, then the TLS handshake.

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::protocol::command::AuthMechanism;
use crate::session::state::{Protection, Session};

pub async fn handle(s: &mut Session, mech: AuthMechanism) -> Handled {
    if s.link.control.is_tls() {
        return Err(Refusal::new(Code::BAD_SEQUENCE, "Already using TLS."));
    }
    if s.tls.ccc_done || s.login.is_some() {
        return Err(Refusal::new(
            Code::BAD_SEQUENCE,
            "AUTH is only accepted before login.",
        ));
    }
    s.reply(
        Code::SECURITY_EXCHANGE_DONE,
        "Proceed with TLS negotiation.",
    )
    .await?;
    let signal = std::sync::Arc::new(crate::tls::scope::TicketSignal::default());
    let config = s
        .tls
        .scope
        .control_config(&s.ctx.tls.load().control, s.tls.token, signal.clone());
    let timeout = s.cfg.tls_handshake_timeout();
    let upgraded = s
        .link
        .control
        .upgrade(config, s.tls.token, timeout, signal)
        .await;
    s.tls.scope.control_done();
    if let Err(e) = upgraded {
        tracing::info!(peer = %s.link.peer, error = %e, "TLS handshake on control connection failed");
        return Err(e.into());
    }
    // Historic mechanisms SSL and TLS-P imply a protected data channel.
    if matches!(mech, AuthMechanism::Ssl | AuthMechanism::TlsP) {
        s.tls.pbsz = true;
        s.tls.prot = Protection::Private;
    }
    s.ftp.pending_user = None;
    Ok(())
}
