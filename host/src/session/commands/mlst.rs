use std::io;

use crate::fs::listing::mlsx_line;
use crate::protocol::Reply;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> io::Result<()> {
    let path = match arg {
        Some(a) => match s.resolve(&a).await? {
            Some(p) => p,
            None => return Ok(()),
        },
        None => s.user().cwd.clone(),
    };
    if !s.gate("MLST", &path).await? {
        return Ok(());
    }
    let rights = s.rights_at(&path);
    let p = path.clone();
    match s.fs(move |v| v.stat(&p)).await {
        Ok(mut e) => {
            // MLST names the object by its full path (RFC 3659 §7.2).
            e.name = path.as_string();
            let line = format!(" {}", mlsx_line(&e, s.facts, rights, None));
            s.send(Reply::multi(
                250,
                vec![format!("Listing {path}"), line, "End".into()],
            ))
            .await
        }
        Err(e) => s.fs_error(&path, e).await,
    }
}
