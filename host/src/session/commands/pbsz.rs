use std::io;

use crate::session::Session;

pub async fn handle(s: &mut Session, size: u64) -> io::Result<()> {
    if !s.control.is_tls() && !s.ccc_done {
        return s
            .reply(503, "PBSZ needs a TLS control connection (AUTH TLS first).")
            .await;
    }
    s.pbsz = true;
    if size == 0 {
        s.reply(200, "PBSZ=0").await
    } else {
        s.reply(200, "PBSZ=0 (TLS needs no buffer size).").await
    }
}
