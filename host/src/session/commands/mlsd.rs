use crate::session::refusal::Handled;

use crate::fs::listing::mlsx_line;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    let (path, entries, rights, _) = super::list::entries(s, arg, false, "MLSD").await?;
    let facts = s.ftp.facts;
    let mut text = String::new();
    for e in &entries {
        // Entries of the root that are mount folders carry that mount's rights.
        let r = if path.is_root() {
            s.rights_at(&path.join(&e.name))
        } else {
            rights
        };
        let r = if e.mode == 0o444 && !e.is_dir {
            crate::fs::Rights::Read
        } else {
            r
        };
        text.push_str(&mlsx_line(e, facts, r, None));
        text.push_str("\r\n");
    }
    super::list::send_listing(s, path, text.into_bytes(), "MLSD").await
}
