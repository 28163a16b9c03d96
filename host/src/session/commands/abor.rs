use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    s.data = None;
    match s.transfer.is_some() {
        true => {
            let bytes = s.cut_transfer("ABOR").await;
            s.reply(
                426,
                format!("Connection closed; transfer aborted after {bytes} bytes."),
            )
            .await?;
            s.reply(226, "Abort successful.").await
        }
        false => s.reply(225, "No transfer to abort.").await,
    }
}
