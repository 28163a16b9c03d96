use crate::session::refusal::Handled;

use crate::fs::listing::EntryInfo;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    let (path, entries, _, glob_dir) = super::list::entries(s, arg, true, "NLST").await?;
    // Names from a wildcard keep the directory as typed (`NLST logs/*.txt` → `logs/a.txt`),
    // so an `mget` can RETR each name as it comes.
    let prefix = glob_dir.unwrap_or_default();
    let line = move |e: &EntryInfo, out: &mut String| {
        out.push_str(&prefix);
        out.push_str(&e.name);
        out.push_str("\r\n");
    };
    super::list::send_listing(s, path, entries, Box::new(line), "NLST").await
}
