//! STAT: server/session status (211), transfer progress during a transfer (213),
//! or a listing over the control connection (213, RFC 959).

use crate::data::bandwidth::{Direction, describe};
use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::fs::listing::list_line;
use crate::protocol::Reply;
use crate::session::state::{Protection, Session};

pub async fn handle(s: &mut Session, arg: Option<String>) -> Handled {
    if let Some(t) = &s.transfer {
        let limit = t
            .limit
            .map(|l| format!(" (limit {})", describe(l / 1024)))
            .unwrap_or_default();
        let text = format!(
            "Status: {} in progress, {} bytes transferred{limit}.",
            t.what,
            t.bytes()
        );
        return s.reply(Code::FILE_STATUS, text).await;
    }
    match arg {
        None => status(s).await,
        Some(arg) => listing(s, arg).await,
    }
}

async fn status(s: &mut Session) -> Handled {
    let mut lines = vec!["ftpsd status:".to_string()];
    lines.push(format!(" Connected from {}", s.link.peer));
    match &s.login {
        Some(l) => {
            lines.push(format!(" Logged in as {}", l.account.name));
            for m in &l.vfs.mounts {
                let at = &m.at;
                // A share's quota is its owner's business.
                let quota = m
                    .quota
                    .as_ref()
                    .filter(|_| m.origin.is_none())
                    .map(|q| format!(", quota {}", q.describe()))
                    .unwrap_or_default();
                lines.push(format!(" Mount {at}: rights {}{quota}", m.rights.as_str()));
            }
            let who = l.account.bandwidth_subject();
            let server = s.ctx.live.load().bandwidth;
            lines.push(format!(
                " Bandwidth: download {}, upload {}",
                describe(who.strictest(server, Direction::Download)),
                describe(who.strictest(server, Direction::Upload))
            ));
        }
        None => lines.push(" Not logged in".into()),
    }
    lines.push(format!(
        " Control connection: {}",
        if s.link.control.is_tls() {
            "TLS"
        } else {
            "plaintext"
        }
    ));
    lines.push(format!(
        " Data protection: {}",
        if s.tls.prot == Protection::Private {
            "private (TLS)"
        } else {
            "clear"
        }
    ));
    lines.push(format!(
        " TYPE: {:?}; STRUcture: File; MODE: Stream",
        s.ftp.transfer_type
    ));
    lines.push("End of status".into());
    s.answer(Reply::multi(Code::SYSTEM_STATUS, lines)).await
}

async fn listing(s: &mut Session, arg: String) -> Handled {
    let path = s.resolve(&arg)?;
    s.gate(&path).await?;
    let p = path.clone();
    let entries = s
        .fs(move |v| {
            if v.is_dir(&p)? {
                v.list(&p)
            } else {
                v.stat(&p).map(|e| vec![e])
            }
        })
        .await;
    match entries {
        Ok(entries) => {
            let now = std::time::SystemTime::now();
            let mut lines = vec![format!("Status of {path}:")];
            lines.extend(entries.iter().map(|e| format!(" {}", list_line(e, now))));
            lines.push("End of status".into());
            s.answer(Reply::multi(Code::FILE_STATUS, lines)).await
        }
        Err(e) => Err(Refusal::fs(&path, e)),
    }
}
