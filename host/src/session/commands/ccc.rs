//! CCC (RFC 4217 §6): the control channel goes back to plaintext (for NAT helpers that need
//! to read PORT/PASV), while data connections stay protected.

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    if !s.link.control.is_tls() {
        return Err(Refusal::new(
            Code::PROTECTION_DENIED,
            "CCC needs a TLS control connection.",
        ));
    }
    if s.login.is_none() {
        return Err(Refusal::new(
            Code::PROTECTION_DENIED,
            "Log in before CCC, so the password never travels in plaintext.",
        ));
    }
    s.reply(
        Code::OK,
        "Control connection is plaintext from now on; data connections stay protected.",
    )
    .await?;
    s.link.control.downgrade().await?;
    s.tls.ccc_done = true;
    Ok(())
}
