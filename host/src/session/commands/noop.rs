use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    s.reply(200, "NOOP ok.").await
}
