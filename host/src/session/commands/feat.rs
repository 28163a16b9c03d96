//! FEAT lists exactly the extensions implemented (RFC 2389).

use std::io;

use crate::protocol::Reply;
use crate::session::Session;

pub async fn handle(s: &mut Session) -> io::Result<()> {
    let mut lines = vec!["Features:".to_string()];
    for f in [
        "AUTH TLS",
        "AUTH SSL",
        "PBSZ",
        "PROT",
        "CCC",
        "EPRT",
        "EPSV",
        "MDTM",
        "SIZE",
        "REST STREAM",
        "TVFS",
        "UTF8",
    ] {
        lines.push(format!(" {f}"));
    }
    lines.push(format!(" MLST {}", s.facts.feat_string()));
    lines.push("End".into());
    s.send(Reply::multi(211, lines)).await
}
