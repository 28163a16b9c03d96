//! AVBL [path]: the bytes the user may still store there (the mount's quota, else the free
//! space of its filesystem), as `213 <n>` (rclone `about`, draft-peterson-streamlined-ftp).

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    let path = s.resolve(arg.as_deref().unwrap_or("."))?;
    if !s.rights_at(&path).can_create() {
        return Err(Refusal::new(
            Code::FILE_UNAVAILABLE,
            format!("{path}: you cannot store anything here."),
        ));
    }
    let p = path.clone();
    match s.fs(move |v| v.available(&p)).await {
        Ok(n) => s.reply(Code::FILE_STATUS, n.to_string()).await,
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
