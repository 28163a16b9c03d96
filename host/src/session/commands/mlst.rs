use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::fs::listing::mlsx_line;
use crate::protocol::Reply;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    let path = match arg {
        Some(a) => s.resolve(&a)?,
        None => s.user().cwd.clone(),
    };
    s.gate(&path).await?;
    let rights = s.rights_at(&path);
    let p = path.clone();
    match s.fs(move |v| v.stat(&p)).await {
        Ok(mut e) => {
            // MLST names the object by its full path (RFC 3659 §7.2).
            e.name = path.as_string();
            let line = format!(" {}", mlsx_line(&e, s.ftp.facts, rights, None));
            s.answer(Reply::multi(
                Code::FILE_ACTION_OK,
                vec![format!("Listing {path}"), line, "End".into()],
            ))
            .await
        }
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
