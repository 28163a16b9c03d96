use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let p = path.clone();
    match s.fs(move |v| v.remove_file(&p)).await {
        Ok(()) => {
            s.reply(Code::FILE_ACTION_OK, format!("{path}: deleted."))
                .await
        }
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
