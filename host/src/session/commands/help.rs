use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::protocol::Reply;
use crate::session::state::Session;

const VERBS: &str = "ABOR ALLO APPE AUTH AVBL CCC CDUP CWD DELE EPRT EPSV FEAT HASH HELP LIST MDTM MFMT MKD MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD QUIT RANG REST RETR RMD RNFR RNTO SITE SIZE STAT STOR STOU STRU SYST TYPE USER XCRC XMD5 XSHA1 XSHA256";

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    if let Some(verb) = arg {
        let verb = verb.to_ascii_uppercase();
        return if VERBS.split(' ').any(|v| v == verb) {
            s.reply(
                Code::HELP,
                format!("{verb} is implemented; see RFC 959, 2228, 2389, 2428, 3659, 4217."),
            )
            .await
        } else {
            Err(Refusal::new(
                Code::NOT_IMPLEMENTED,
                format!(
                    "{} is not implemented.",
                    verb.chars().take(16).collect::<String>()
                ),
            ))
        };
    }
    let mut lines = vec!["The following commands are recognized:".to_string()];
    let verbs: Vec<&str> = VERBS.split(' ').collect();
    for chunk in verbs.chunks(10) {
        lines.push(format!(" {}", chunk.join(" ")));
    }
    lines.push("Help OK.".into());
    s.answer(Reply::multi(Code::HELP, lines)).await
}
