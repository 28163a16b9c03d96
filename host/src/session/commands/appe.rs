use std::io;

use crate::fs::upload::UploadKind;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    s.rest = 0;
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    super::stor::upload(s, path, UploadKind::Append, "APPE").await
}
