use std::io;

use crate::protocol::command::TransferType;
use crate::session::Session;

pub async fn handle(s: &mut Session, t: TransferType) -> io::Result<()> {
    s.transfer_type = t;
    match t {
        TransferType::Ascii => {
            s.reply(200, "Type set to A (line endings converted).")
                .await
        }
        TransferType::Image => s.reply(200, "Type set to I (binary).").await,
    }
}
