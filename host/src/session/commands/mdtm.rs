use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::fs::listing::mdtm;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let p = path.clone();
    match s.fs(move |v| v.stat(&p)).await {
        Ok(e) => s.reply(Code::FILE_STATUS, mdtm(e.modified)).await,
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
