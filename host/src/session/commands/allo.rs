use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    s.reply(
        Code::SUPERFLUOUS,
        "ALLO not needed; storage is allocated as data arrives.",
    )
    .await
}
