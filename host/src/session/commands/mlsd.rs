use crate::session::refusal::Handled;

use crate::fs::listing::{EntryInfo, mlsx_line};
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    let (path, entries, rights, _) = super::list::entries(s, arg, false, "MLSD").await?;
    let facts = s.ftp.facts;
    let vfs = s.user().vfs.clone();
    let at_root = path.is_root().then(|| path.clone());
    let line = move |e: &EntryInfo, out: &mut String| {
        // Entries of the root that are mount folders carry that mount's rights.
        let r = match &at_root {
            Some(root) => vfs.rights_at(&root.join(&e.name)),
            None => rights,
        };
        let r = if e.mode == 0o444 && !e.is_dir {
            crate::fs::Rights::Read
        } else {
            r
        };
        out.push_str(&mlsx_line(e, facts, r, None));
        out.push_str("\r\n");
    };
    super::list::send_listing(s, path, entries, Box::new(line), "MLSD").await
}
