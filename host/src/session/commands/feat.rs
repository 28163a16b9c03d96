//! FEAT lists exactly the extensions implemented (RFC 2389).

use crate::protocol::Code;
use crate::session::refusal::Handled;

use crate::protocol::Reply;
use crate::session::state::Session;

pub async fn handle(s: &mut Session) -> Handled {
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
        "MFMT",
        "AVBL",
        "XCRC",
        "XMD5",
        "XSHA1",
        "XSHA256",
    ] {
        lines.push(format!(" {f}"));
    }
    let algos: Vec<String> = crate::protocol::command::HashAlgo::ALL
        .iter()
        .map(|a| {
            let star = if *a == s.ftp.hash_algo { "*" } else { "" };
            format!("{}{star}", a.name())
        })
        .collect();
    lines.push(format!(" HASH {}", algos.join(";")));
    lines.push(format!(" MLST {}", s.ftp.facts.feat_string()));
    lines.push("End".into());
    s.answer(Reply::multi(Code::SYSTEM_STATUS, lines)).await
}
