use std::io;

use crate::fs::listing::mlsx_line;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> io::Result<()> {
    let Some((path, entries)) = super::list::entries(s, arg, false).await? else {
        return Ok(());
    };
    let (facts, rights) = (s.facts, s.user().account.rights);
    let mut text = String::new();
    for e in &entries {
        text.push_str(&mlsx_line(e, facts, rights, None));
        text.push_str("\r\n");
    }
    super::list::send_listing(s, path, text.into_bytes(), "MLSD").await
}
