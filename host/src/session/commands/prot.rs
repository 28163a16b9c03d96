use std::io;

use crate::protocol::command::ProtectionLevel;
use crate::session::{Protection, Session};

pub async fn handle(s: &mut Session, level: ProtectionLevel) -> io::Result<()> {
    if !s.control.is_tls() && !s.ccc_done {
        return s
            .reply(503, "PROT needs a TLS control connection (AUTH TLS first).")
            .await;
    }
    if !s.pbsz {
        return s.reply(503, "Send PBSZ 0 before PROT.").await;
    }
    match level {
        ProtectionLevel::Private => {
            s.prot = Protection::Private;
            s.reply(200, "Data channel protection level set to P (TLS).")
                .await
        }
        ProtectionLevel::Clear if s.require_tls => {
            s.reply(
                534,
                "PROT C refused: this server requires protected data connections.",
            )
            .await
        }
        ProtectionLevel::Clear => {
            s.prot = Protection::Clear;
            s.reply(200, "Data channel protection level set to C (clear).")
                .await
        }
        ProtectionLevel::Unsupported(c) => {
            s.reply(536, format!("PROT {c} is not supported with TLS; use P."))
                .await
        }
    }
}
