use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::protocol::command::TransferType;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, t: TransferType) -> Handled {
    s.ftp.transfer_type = t;
    match t {
        TransferType::Ascii => {
            s.reply(Code::OK, "Type set to A (line endings converted).")
                .await
        }
        TransferType::Image => s.reply(Code::OK, "Type set to I (binary).").await,
    }
}
