use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
    s.data = None;
    match s.transfer.is_some() {
        true => {
            let Some(bytes) = s.cut_transfer("ABOR").await else {
                // It completed as the ABOR arrived: its 226 went out, nothing is left to abort.
                return s.reply(Code::DATA_OPEN, "No transfer to abort.").await;
            };
            s.reply(
                Code::TRANSFER_ABORTED,
                format!("Connection closed; transfer aborted after {bytes} bytes."),
            )
            .await?;
            s.reply(Code::TRANSFER_COMPLETE, "Abort successful.").await
        }
        false => s.reply(Code::DATA_OPEN, "No transfer to abort.").await,
    }
}
