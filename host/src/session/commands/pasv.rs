use std::io;
use std::net::IpAddr;

use crate::data::{DataPlan, PendingPassive, advertise, passive};
use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    if s.epsv_all {
        return s.reply(501, "PASV refused after EPSV ALL; use EPSV.").await;
    }
    if !s.cfg.passive.enabled {
        return s
            .reply(
                502,
                "Passive mode is disabled on this server; use PORT or EPRT.",
            )
            .await;
    }
    let ip = match advertise::passive_address(&s.cfg.passive, s.peer.ip(), s.local.ip()).await {
        Ok(IpAddr::V4(ip)) => ip,
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(ip) => ip,
            None => {
                return s
                    .reply(425, "PASV cannot describe an IPv6 address; use EPSV.")
                    .await;
            }
        },
        Err(e) => {
            return s
                .reply(425, format!("Cannot determine the passive address: {e}."))
                .await;
        }
    };
    let Some(port) = open_listener(s).await? else {
        return Ok(());
    };
    let [a, b, c, d] = ip.octets();
    s.reply(
        227,
        format!(
            "Entering Passive Mode ({a},{b},{c},{d},{},{}).",
            port >> 8,
            port & 0xff
        ),
    )
    .await
}

/// Binds a passive listener on the control connection's local address; shared with EPSV.
/// Replies 425 and returns None when the port range is exhausted.
pub async fn open_listener(s: &mut Session) -> io::Result<Option<u16>> {
    s.data = None;
    let cfg = &s.cfg.passive;
    let user = s
        .login
        .as_ref()
        .filter(|l| !l.account.anonymous)
        .map(|l| l.account.name.clone());
    let slot = match s.ctx.passive_caps.acquire(
        s.peer.ip(),
        user.as_deref(),
        cfg.max_listeners_per_ip,
        cfg.max_listeners_per_user,
    ) {
        Ok(slot) => slot,
        Err(e) => {
            tracing::info!(peer = %s.peer, reason = %e, "passive listener refused");
            s.reply(425, e.to_string()).await?;
            return Ok(None);
        }
    };
    let (ip, min, max) = (s.local.ip(), cfg.port_min, cfg.port_max);
    let mut bound = passive::bind(ip, min, max);
    if matches!(bound, Err(passive::PassiveError::Exhausted(..)))
        && s.ctx.passive_caps.make_way_for(s.peer.ip())
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
            s.data = Some(DataPlan::Passive(PendingPassive::start(
                listener,
                s.peer.ip(),
                early,
                s.cfg.data_timeout(),
                Some(slot),
            )));
            Ok(Some(port))
        }
        Err(e) => {
            tracing::warn!(error = %e, "passive listener");
            s.reply(425, e.to_string()).await?;
            Ok(None)
        }
    }
}
