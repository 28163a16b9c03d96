use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::session::state::Session;

pub async fn handle(s: &mut Session, name: String) -> Handled {
    if s.login.is_some() {
        return Err(Refusal::new(
            Code::NOT_LOGGED_IN,
            "Already logged in; reconnect to change user.",
        ));
    }
    s.ftp.pending_user = Some(name);
    s.reply(Code::NEED_PASSWORD, "Password required.").await
}
