use std::io;

use crate::session::Session;

/// Only file structure exists; the parser already refused the others with 504.
pub async fn handle(s: &mut Session) -> io::Result<()> {
    s.reply(200, "Structure set to F.").await
}
