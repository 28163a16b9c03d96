use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

/// Only file structure exists; the parser already refused the others with 504.
pub async fn handle(s: &mut Session) -> Handled {
    s.reply(Code::OK, "Structure set to F.").await
}
