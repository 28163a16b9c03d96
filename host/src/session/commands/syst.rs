use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    s.reply(Code::SYSTEM_TYPE, "UNIX Type: L8").await
}
