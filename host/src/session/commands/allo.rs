use crate::protocol::Code;
use crate::session::Handled;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> Handled {
    s.reply(
        Code::SUPERFLUOUS,
        "ALLO not needed; storage is allocated as data arrives.",
    )
    .await
}
