use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::fs::VirtualPath;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String, from: Option<VirtualPath>) -> Handled {
    let Some(from) = from else {
        return Err(Refusal::new(Code::BAD_SEQUENCE, "Send RNFR first."));
    };
    let to = s.resolve(&arg)?;
    if !s.rights_at(&to).can_delete() {
        return Err(Refusal::right(&to, "renaming"));
    }
    // Neither the name being renamed (or a folder above a held upload) nor the name it
    // would replace may be a file a plugin is still deciding about.
    s.refuse_held(&from, true).await?;
    s.refuse_held(&to, true).await?;
    s.upload_hook(&to, "RNTO", 0).await?;
    let (f, t) = (from.clone(), to.clone());
    match s.fs(move |v| v.rename(&f, &t)).await {
        Ok(()) => {
            s.reply(Code::FILE_ACTION_OK, format!("Renamed {from} to {to}."))
                .await
        }
        Err(e) => Err(Refusal::fs(&to, e)),
    }
}
