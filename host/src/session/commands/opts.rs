//! OPTS UTF8 (RFC 2640: names are always UTF-8 here) and OPTS MLST (fact selection).

use crate::protocol::Code;
use crate::session::refusal::{Handled, Refusal};

use crate::fs::listing::Facts;
use crate::session::state::Session;

pub async fn handle(s: &mut Session, arg: String) -> Handled {
    let (what, rest) = match arg.split_once(' ') {
        Some((w, r)) => (w.to_ascii_uppercase(), r.trim().to_string()),
        None => (arg.to_ascii_uppercase(), String::new()),
    };
    match what.as_str() {
        "UTF8" | "UTF-8" => match rest.to_ascii_uppercase().as_str() {
            "" | "ON" => s.reply(Code::OK, "UTF8 is always on.").await,
            "OFF" => Err(Refusal::new(
                Code::BAD_PARAMETER,
                "UTF8 cannot be switched off; names are UTF-8.",
            )),
            _ => Err(Refusal::new(
                Code::BAD_ARGUMENTS,
                "OPTS UTF8 takes ON or OFF.",
            )),
        },
        "HASH" => {
            if rest.is_empty() {
                let name = s.ftp.hash_algo.name();
                return s.reply(Code::OK, name).await;
            }
            match crate::protocol::command::HashAlgo::from_name(&rest) {
                Some(a) => {
                    s.ftp.hash_algo = a;
                    s.reply(Code::OK, a.name()).await
                }
                None => Err(Refusal::new(
                    Code::BAD_ARGUMENTS,
                    "Unknown algorithm; this server has SHA-256, SHA-1, MD5 and CRC32.",
                )),
            }
        }
        "MLST" => {
            s.ftp.facts = Facts::select(&rest);
            let selected = s.ftp.facts.selected_string();
            s.reply(Code::OK, format!("MLST OPTS {selected}")).await
        }
        _ => Err(Refusal::new(
            Code::BAD_ARGUMENTS,
            format!(
                "OPTS: unknown option '{}'.",
                what.chars().take(16).collect::<String>()
            ),
        )),
    }
}
