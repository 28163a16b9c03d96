use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, name: String) -> io::Result<()> {
    if s.require_tls && !s.control.is_tls() && !s.ccc_done {
        return s.reply(530, "TLS required: send AUTH TLS before USER (this server does not accept plaintext logins).").await;
    }
    if s.login.is_some() {
        return s
            .reply(530, "Already logged in; reconnect to change user.")
            .await;
    }
    s.pending_user = Some(name);
    s.reply(331, "Password required.").await
}
