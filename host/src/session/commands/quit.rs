use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    s.quit = true;
    s.reply_last(Code::CLOSING, "Goodbye.").await
}
