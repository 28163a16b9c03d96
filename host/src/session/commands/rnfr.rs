use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    s.fs_at(&path, |v, p| v.renamable(p).and_then(|_| v.stat(p)))
        .await?;
    // Again now that the file surely exists: an upload committed between the gate's look
    // and the stat was held before it appeared.
    s.refuse_held(&path, true).await?;
    s.ftp.rename_from = Some(path);
    s.reply(Code::PENDING, "Ready for RNTO.").await
}
