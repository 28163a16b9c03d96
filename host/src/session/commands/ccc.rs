//! CCC (RFC 4217 §6): the control channel goes back to plaintext (for NAT helpers that need
//! to read PORT/PASV), while data connections stay protected.

use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    if !s.control.is_tls() {
        return s.reply(533, "CCC needs a TLS control connection.").await;
    }
    if s.login.is_none() {
        return s
            .reply(
                533,
                "Log in before CCC, so the password never travels in plaintext.",
            )
            .await;
    }
    s.reply(
        200,
        "Control connection is plaintext from now on; data connections stay protected.",
    )
    .await?;
    s.control.downgrade().await?;
    s.ccc_done = true;
    Ok(())
}
