use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::protocol::command::ProtectionLevel;
use crate::session::state::{Protection, Session};

pub async fn handle(s: &mut Session, level: ProtectionLevel) -> Handled {
    if !s.link.control.is_tls() && !s.tls.ccc_done {
        return Err(Refusal::new(
            Code::BAD_SEQUENCE,
            "PROT needs a TLS control connection (AUTH TLS first).",
        ));
    }
    if !s.tls.pbsz {
        return Err(Refusal::new(Code::BAD_SEQUENCE, "Send PBSZ 0 before PROT."));
    }
    match level {
        ProtectionLevel::Private => {
            s.tls.prot = Protection::Private;
            s.reply(Code::OK, "Data channel protection level set to P (TLS).")
                .await
        }
        ProtectionLevel::Clear if s.tls.required => Err(Refusal::new(
            Code::POLICY_DENIED,
            "PROT C refused: this server requires protected data connections.",
        )),
        ProtectionLevel::Clear => {
            s.tls.prot = Protection::Clear;
            s.reply(Code::OK, "Data channel protection level set to C (clear).")
                .await
        }
        ProtectionLevel::Unsupported(c) => Err(Refusal::new(
            Code::PROT_NOT_SUPPORTED,
            format!("PROT {c} is not supported with TLS; use P."),
        )),
    }
}
