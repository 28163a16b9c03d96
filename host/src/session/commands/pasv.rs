use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};
use std::net::IpAddr;

use crate::data::{DataPlan, PendingPassive, advertise, passive};
use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    if !s.cfg.passive.enabled {
        return Err(Refusal::new(
            Code::NOT_IMPLEMENTED,
            "Passive mode is disabled on this server; use PORT or EPRT.",
        ));
    }
    let ip = match advertise::passive_address(&s.cfg.passive, s.link.peer.ip(), s.link.local.ip())
        .await
    {
        Ok(IpAddr::V4(ip)) => ip,
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(ip) => ip,
            None => {
                return Err(Refusal::new(
                    Code::CANT_OPEN_DATA,
                    "PASV cannot describe an IPv6 address; use EPSV.",
                ));
            }
        },
        Err(e) => {
            return Err(Refusal::new(
                Code::CANT_OPEN_DATA,
                format!("Cannot determine the passive address: {e}."),
            ));
        }
    };
    let port = open_listener(s).await?;
    let [a, b, c, d] = ip.octets();
    s.reply(
        Code::PASSIVE,
        format!(
            "Entering Passive Mode ({a},{b},{c},{d},{},{}).",
            port >> 8,
            port & 0xff
        ),
    )
    .await
}

/// Binds a passive listener on the control connection's local address; shared with EPSV.
pub async fn open_listener(s: &mut Session) -> Result<u16, Refusal> {
    s.data = None;
    let cfg = &s.cfg.passive;
    let user = s
        .login
        .as_ref()
        .filter(|l| !l.account.anonymous)
        .map(|l| l.account.name.clone());
    let slot = match s.ctx.passive_caps.acquire(
        s.link.peer.ip(),
        user.as_deref(),
        cfg.max_listeners_per_ip,
        cfg.max_listeners_per_user,
    ) {
        Ok(slot) => slot,
        Err(e) => {
            tracing::info!(peer = %s.link.peer, reason = %e, "passive listener refused");
            return Err(Refusal::new(Code::CANT_OPEN_DATA, e.to_string()));
        }
    };
    let (ip, min, max) = (s.link.local.ip(), cfg.port_min, cfg.port_max);
    let mut bound = passive::bind(ip, min, max);
    if matches!(bound, Err(passive::PassiveError::Exhausted(..)))
        && s.ctx.passive_caps.make_way_for(s.link.peer.ip())
    {
        // The listener that made way closes as its task ends: a few short tries.
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            bound = passive::bind(ip, min, max);
            if bound.is_ok() {
                break;
            }
        }
    }
    match bound {
        Ok(listener) => {
            let port = listener.local_addr()?.port();
            // Direction unknown: tickets go out at once (curl reads them when it closes).
            let early = s.data_tls(false);
            let acceptor = passive::DataAcceptor::new(
                listener,
                s.link.peer.ip(),
                s.ctx.proxy_protocol.clone(),
            );
            let user = s.login.as_ref().map_or("-", |l| l.account.name.as_str());
            let span = tracing::warn_span!("data", user, peer = %s.link.peer);
            let pending = span.in_scope(|| {
                PendingPassive::start(acceptor, early, s.cfg.data_timeout(), Some(slot))
            });
            s.data = Some(DataPlan::Passive(pending));
            Ok(port)
        }
        Err(e) => {
            tracing::warn!(error = %e, "passive listener");
            Err(Refusal::new(Code::CANT_OPEN_DATA, e.to_string()))
        }
    }
}
