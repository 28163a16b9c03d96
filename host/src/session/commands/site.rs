//! SITE: server-specific commands. `SITE RATIO` shows the user's transfer counters and what the
//! ratio plugins make of them; `SITE HELP` lists the subcommands.

use std::io;

use crate::protocol::Reply;
use crate::protocol::command::SiteCommand;
use crate::session::Session;

pub async fn handle(s: &mut Session, sub: SiteCommand) -> io::Result<()> {
    match sub {
        SiteCommand::Help => {
            s.send(Reply::multi(
                214,
                vec![
                    "SITE subcommands:".into(),
                    " RATIO  your uploads, downloads and what you may still download".into(),
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
                human_bytes(c.bytes_up),
                files(c.files_down),
                human_bytes(c.bytes_down)
            )];
            if info.is_empty() {
                lines.push("No ratio applies to you.".into());
            }
            lines.extend(info.iter().map(|t| crate::session::hooks::one_line(t)));
            s.send(Reply::multi(200, lines)).await
        }
        SiteCommand::Unsupported(name) => {
            s.reply(
                502,
                format!("SITE {name} is not implemented; try SITE HELP."),
            )
            .await
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

/// Bytes for people: 1536 → "1.5 KiB".
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes() {
        assert_eq!(super::human_bytes(0), "0 bytes");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(5 << 30), "5.0 GiB");
        assert_eq!(super::human_bytes(u64::MAX), "16384.0 PiB");
    }
}
