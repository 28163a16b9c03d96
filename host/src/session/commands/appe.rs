use crate::session::refusal::Handled;

use crate::fs::upload::UploadKind;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    s.ftp.rest = 0;
    let path = s.resolve(&arg)?;
    s.refuse_held(&path, false).await?;
    super::stor::upload(s, path, UploadKind::Append, "APPE").await
}
