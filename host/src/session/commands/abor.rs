use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    s.data = None;
    s.note_transfer(None);
    match s.transfer.take() {
        Some(t) => {
            let bytes = t.bytes();
            t.abort().await;
            s.reply(
                426,
                format!("Connection closed; transfer aborted after {bytes} bytes."),
            )
            .await?;
            s.reply(226, "Abort successful.").await
        }
        None => s.reply(225, "No transfer to abort.").await,
    }
}
