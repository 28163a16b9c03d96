use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session, offset: u64) -> Handled {
    s.ftp.rest = offset;
    s.reply(
        Code::PENDING,
        format!("Restarting at {offset}. Send RETR or STOR to continue."),
    )
    .await
}
