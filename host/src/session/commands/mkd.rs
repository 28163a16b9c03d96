use std::io;

use crate::protocol::reply::quote_path;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let Some(path) = s.resolve(&arg).await? else {
        return Ok(());
    };
    if !s.gate("MKD", &path).await? {
        return Ok(());
    }
    let p = path.clone();
    match s.fs(move |v| v.mkdir(&p)).await {
        Ok(()) => {
            s.reply(257, format!("{} created.", quote_path(&path.as_string())))
                .await
        }
        Err(e) => s.fs_error(&path, e).await,
    }
}
