use std::io;

use crate::protocol::command::EpsvArg;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: EpsvArg) -> io::Result<()> {
    if !s.cfg.passive.enabled {
        return s
            .reply(
                502,
                "Passive mode is disabled on this server; use PORT or EPRT.",
            )
            .await;
    }
    match arg {
        EpsvArg::All => {
            s.epsv_all = true;
            return s
                .reply(200, "EPSV ALL ok: only EPSV will be accepted from now on.")
                .await;
        }
        EpsvArg::Protocol(p) if (p == 1) != s.local.is_ipv4() => {
            return s
                .reply(
                    522,
                    format!(
                        "Network protocol not supported, use ({}).",
                        if s.local.is_ipv4() { 1 } else { 2 }
                    ),
                )
                .await;
        }
        _ => {}
    }
    let Some(port) = super::pasv::open_listener(s).await? else {
        return Ok(());
    };
    s.reply(229, format!("Entering Extended Passive Mode (|||{port}|)."))
        .await
}
