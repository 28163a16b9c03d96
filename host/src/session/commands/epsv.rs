use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::protocol::command::EpsvArg;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: EpsvArg) -> Handled {
    if !s.cfg.passive.enabled {
        return Err(Refusal::new(
            Code::NOT_IMPLEMENTED,
            "Passive mode is disabled on this server; use PORT or EPRT.",
        ));
    }
    match arg {
        EpsvArg::All => {
            s.ftp.epsv_all = true;
            return s
                .reply(
                    Code::OK,
                    "EPSV ALL ok: only EPSV will be accepted from now on.",
                )
                .await;
        }
        EpsvArg::Protocol(p) if (p == 1) != s.link.local.is_ipv4() => {
            return Err(Refusal::new(
                Code::DATA_NEGOTIATION_FAILED,
                format!(
                    "Network protocol not supported, use ({}).",
                    if s.link.local.is_ipv4() { 1 } else { 2 }
                ),
            ));
        }
        _ => {}
    }
    let port = super::pasv::open_listener(s).await?;
    s.reply(
        Code::EXTENDED_PASSIVE,
        format!("Entering Extended Passive Mode (|||{port}|)."),
    )
    .await
}
