use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    s.reply(
        202,
        "ALLO not needed; storage is allocated as data arrives.",
    )
    .await
}
