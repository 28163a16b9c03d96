use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    s.reply(Code::OK, "NOOP ok.").await
}
