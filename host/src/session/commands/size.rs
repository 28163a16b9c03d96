use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::fs::FsError;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let p = path.clone();
    match s.fs(move |v| v.stat(&p)).await {
        Ok(e) if e.is_dir => Err(Refusal::fs(&path, FsError::IsADirectory)),
        Ok(e) => s.reply(Code::FILE_STATUS, e.size.to_string()).await,
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
