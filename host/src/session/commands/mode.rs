use std::io;

use crate::session::Session;

/// Only stream mode exists; the parser already refused the others with 504.
pub async fn handle(s: &mut Session) -> io::Result<()> {
    s.reply(200, "Mode set to S.").await
}
