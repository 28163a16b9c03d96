//! SITE: server-specific commands. `SITE RATIO` shows the user's transfer counters and what the
//! ratio plugins make of them; `SITE HELP` lists the subcommands.

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::protocol::Reply;
use crate::protocol::command::SiteCommand;
use crate::session::state::Session;
use ftpsd_plugin_sdk::human_bytes;

pub async fn handle(s: &mut Session, sub: SiteCommand) -> Handled {
    match sub {
        SiteCommand::Help => {
            s.answer(Reply::multi(
                Code::HELP,
                vec![
                    "SITE subcommands:".into(),
                    " RATIO  your uploads, downloads and what you may still download".into(),
                    " UTIME  YYYYMMDDHHMMSS path (or path atime mtime ctime UTC): set a modification time".into(),
                    " CHMOD  mode path: set permission bits (octal, up to 777)".into(),
                    " HELP   this list".into(),
                    "End of SITE help.".into(),
                ],
            ))
            .await
        }
        SiteCommand::Ratio => {
            let (c, info) = s.ratio_standing().await;
            let mut lines = vec![format!(
                "Uploaded {} ({}), downloaded {} ({}).",
                files(c.files_up),
                human_bytes(c.bytes_up as u128),
                files(c.files_down),
                human_bytes(c.bytes_down as u128)
            )];
            if info.is_empty() {
                lines.push("No ratio applies to you.".into());
            }
            lines.extend(info.iter().map(|t| crate::session::refusal::one_line(t)));
            s.answer(Reply::multi(Code::OK, lines)).await
        }
        SiteCommand::Utime { time, path } => super::mfmt::set(s, time, path, "SITE UTIME").await,
        SiteCommand::Chmod { mode, path } => super::site_chmod::handle(s, mode, path).await,
        SiteCommand::Unsupported(name) => {
            Err(Refusal::new(Code::NOT_IMPLEMENTED, format!("SITE {name} is not implemented; try SITE HELP."),
            ))
        }
    }
}

fn files(n: u64) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}
