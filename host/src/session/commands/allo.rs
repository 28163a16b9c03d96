//! ALLO: nothing to reserve (storage is allocated as data arrives), but the size the client
//! announces is kept for the next upload's gate (`declared_size` in the upload event).

use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session, size: Option<u64>) -> Handled {
    s.ftp.declared_size = size;
    s.reply(
        Code::SUPERFLUOUS,
        "ALLO not needed; storage is allocated as data arrives.",
    )
    .await
}
