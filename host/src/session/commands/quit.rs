use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    s.quit = true;
    s.reply(221, "Goodbye.").await
}
