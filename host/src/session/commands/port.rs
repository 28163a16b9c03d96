//! PORT, and the active-mode checks shared with EPRT: the target must be the control peer's
//! own address and an unprivileged port (no FTP bounce, RFC 2577).

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};
use std::net::SocketAddr;

use crate::config::network::canonical;
use crate::data::DataPlan;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, target: SocketAddr) -> Handled {
    set_active(s, target, "PORT").await
}

pub async fn set_active(s: &mut Session, target: SocketAddr, verb: &str) -> Handled {
    s.data = None;
    if !s.cfg.active.enabled {
        return Err(Refusal::new(
            Code::NOT_IMPLEMENTED,
            format!("{verb}: active mode is disabled on this server; use PASV or EPSV."),
        ));
    }
    if canonical(target.ip()) != canonical(s.link.peer.ip()) {
        tracing::warn!(peer = %s.link.peer, %target, "refused PORT to a foreign address (FTP bounce)");
        return Err(Refusal::new(
            Code::BAD_PARAMETER,
            format!(
                "{verb} refused: the data address must be your own ({}).",
                canonical(s.link.peer.ip())
            ),
        ));
    }
    if target.port() < 1024 {
        return Err(Refusal::new(
            Code::BAD_PARAMETER,
            format!(
                "{verb} refused: port {} is privileged; use 1024 or above.",
                target.port()
            ),
        ));
    }
    let source_port = if s.cfg.active.source_port_minus_one {
        s.link.local.port().saturating_sub(1)
    } else {
        0
    };
    // On a dual-stack listener ([::]) an IPv4 client's addresses arrive IPv4-mapped; the
    // connection to it is made from a plain IPv4 socket, so both ends are named as IPv4.
    let source = SocketAddr::new(canonical(s.link.local.ip()), source_port);
    let target = SocketAddr::new(canonical(target.ip()), target.port());
    s.data = Some(DataPlan::Active { target, source });
    s.reply(Code::OK, format!("{verb} command successful."))
        .await
}
