use crate::session::refusal::Handled;

use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    let (path, entries, _, glob_dir) = super::list::entries(s, arg, true, "NLST").await?;
    // Names from a wildcard keep the directory as typed (`NLST logs/*.txt` → `logs/a.txt`),
    // so an `mget` can RETR each name as it comes.
    let prefix = glob_dir.unwrap_or_default();
    let mut text = String::new();
    for e in &entries {
        text.push_str(&prefix);
        text.push_str(&e.name);
        text.push_str("\r\n");
    }
    super::list::send_listing(s, path, text.into_bytes(), "NLST").await
}
