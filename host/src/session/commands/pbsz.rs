use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::session::state::Session;

pub async fn handle(s: &mut Session, size: u64) -> Handled {
    if !s.link.control.is_tls() && !s.tls.ccc_done {
        return Err(Refusal::new(
            Code::BAD_SEQUENCE,
            "PBSZ needs a TLS control connection (AUTH TLS first).",
        ));
    }
    s.tls.pbsz = true;
    if size == 0 {
        s.reply(Code::OK, "PBSZ=0").await
    } else {
        s.reply(Code::OK, "PBSZ=0 (TLS needs no buffer size).")
            .await
    }
}
