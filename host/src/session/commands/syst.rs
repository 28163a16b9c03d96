use crate::protocol::Code;
use crate::session::Handled;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> Handled {
    s.reply(Code::SYSTEM_TYPE, "UNIX Type: L8").await
}
