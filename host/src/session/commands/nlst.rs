use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, arg: Option<String>) -> io::Result<()> {
    let Some((path, entries, _)) = super::list::entries(s, arg, true, "NLST").await? else {
        return Ok(());
    };
    let mut text = String::new();
    for e in &entries {
        text.push_str(&e.name);
        text.push_str("\r\n");
    }
    super::list::send_listing(s, path, text.into_bytes(), "NLST").await
}
