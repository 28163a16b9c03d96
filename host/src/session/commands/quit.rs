use crate::protocol::Code;
use crate::session::Handled;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> Handled {
    s.quit = true;
    s.reply(Code::CLOSING, "Goodbye.").await
}
