use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::data::transfer::Job;
use crate::fs::vfs::Readable;
use crate::protocol::command::TransferType;
use crate::session::running::Post;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let offset = std::mem::take(&mut s.ftp.rest);
    let path = s.resolve(&arg)?;
    if !s.rights_at(&path).can_read() {
        return Err(Refusal::right(&path, "downloading"));
    }
    s.data_ready()?;
    let p = path.clone();
    let readable = match s.fs(move |v| v.open_read(&p, offset)).await {
        Ok(r) => r,
        Err(e) => return Err(Refusal::fs(&path, e)),
    };
    // The file opened, not the name: a held upload committed after the look above is
    // caught here.
    if let Readable::File(file, _) = &readable
        && s.ctx.held_files.any()
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(md) = file.metadata() {
            let id = (md.dev(), md.ino());
            s.wait_unheld(&path, |f| f.is_held(id)).await?;
        }
    }
    let size = readable.size();
    if offset > size {
        return Err(Refusal::new(
            Code::BAD_RESTART,
            format!("Restart offset {offset} is beyond the end of {path} ({size} bytes)."),
        ));
    }
    s.ratio_hook(&path, size, offset).await?;
    let ascii = s.ftp.transfer_type == TransferType::Ascii;
    let job = match readable {
        Readable::File(file, _) => Job::Download { file, ascii },
        Readable::Object(object) => Job::DownloadObject {
            object,
            offset,
            ascii,
        },
        Readable::Bytes(b) => Job::Bytes(b[offset as usize..].into()),
    };
    let mode = if ascii { "ASCII" } else { "BINARY" };
    let opening = format!(
        "Opening {mode} mode data connection for {path} ({} bytes).",
        size - offset
    );
    s.start_transfer(
        job,
        opening,
        format!("RETR {path}"),
        "Transfer complete".into(),
        Post::Download,
    )
    .await
}
