use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, offset: u64) -> io::Result<()> {
    s.rest = offset;
    s.reply(
        350,
        format!("Restarting at {offset}. Send RETR or STOR to continue."),
    )
    .await
}
