use std::io;

use crate::protocol::reply::quote_path;
use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    let cwd = quote_path(&s.user().cwd.as_string());
    s.reply(257, format!("{cwd} is the current directory."))
        .await
}
