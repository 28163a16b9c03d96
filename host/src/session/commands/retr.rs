use std::io;

use crate::data::transfer::Job;
use crate::protocol::command::TransferType;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let offset = std::mem::take(&mut s.rest);
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.user().account.rights.can_read() {
        return s.denied(&path, "downloading").await;
    }
    if !s.data_ready().await? {
        return Ok(());
    }
    let p = path.clone();
    let (file, size) = match s.fs(move |sb| sb.open_read(&p, offset)).await {
        Ok(r) => r,
        Err(e) => {
            s.data = None;
            return s.fs_error(&path, e).await;
        }
    };
    if offset > size {
        s.data = None;
        return s
            .reply(
                554,
                format!("Restart offset {offset} is beyond the end of {path} ({size} bytes)."),
            )
            .await;
    }
    let ascii = s.transfer_type == TransferType::Ascii;
    let mode = if ascii { "ASCII" } else { "BINARY" };
    let opening = format!(
        "Opening {mode} mode data connection for {path} ({} bytes).",
        size - offset
    );
    s.start_transfer(
        Job::Download { file, ascii },
        opening,
        format!("RETR {path}"),
        "Transfer complete".into(),
    )
    .await
}
