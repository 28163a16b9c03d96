//! OPTS UTF8 (RFC 2640: names are always UTF-8 here) and OPTS MLST (fact selection).

use std::io;

use crate::fs::listing::Facts;
use crate::session::Session;

pub async fn handle(s: &mut Session, arg: String) -> io::Result<()> {
    let (what, rest) = match arg.split_once(' ') {
        Some((w, r)) => (w.to_ascii_uppercase(), r.trim().to_string()),
        None => (arg.to_ascii_uppercase(), String::new()),
    };
    match what.as_str() {
        "UTF8" | "UTF-8" => match rest.to_ascii_uppercase().as_str() {
            "" | "ON" => s.reply(200, "UTF8 is always on.").await,
            "OFF" => {
                s.reply(504, "UTF8 cannot be switched off; names are UTF-8.")
                    .await
            }
            _ => s.reply(501, "OPTS UTF8 takes ON or OFF.").await,
        },
        "HASH" => {
            if rest.is_empty() {
                let name = s.hash_algo.name();
                return s.reply(200, name).await;
            }
            match crate::protocol::command::HashAlgo::from_name(&rest) {
                Some(a) => {
                    s.hash_algo = a;
                    s.reply(200, a.name()).await
                }
                None => {
                    s.reply(
                        501,
                        "Unknown algorithm; this server has SHA-256, SHA-1, MD5 and CRC32.",
                    )
                    .await
                }
            }
        }
        "MLST" => {
            s.facts = Facts::select(&rest);
            let selected = s.facts.selected_string();
            s.reply(200, format!("MLST OPTS {selected}")).await
        }
        _ => {
            s.reply(
                501,
                format!(
                    "OPTS: unknown option '{}'.",
                    what.chars().take(16).collect::<String>()
                ),
            )
            .await
        }
    }
}
