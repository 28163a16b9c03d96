use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let cwd = s.user().cwd.as_string();
    if path.is_root() || cwd == path.as_string() || cwd.starts_with(&format!("{path}/")) {
        return Err(Refusal::new(
            Code::FILE_UNAVAILABLE,
            format!("{path}: cannot remove the current directory or one above it."),
        ));
    }
    let p = path.clone();
    match s.fs(move |v| v.rmdir(&p)).await {
        Ok(()) => {
            s.reply(Code::FILE_ACTION_OK, format!("{path}: directory removed."))
                .await
        }
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
