//! `ftpsd kv list|get|del --plugin NAME`: a plugin's stored state (what its counters and
//! records hold), through the running server's admin socket, or on the state store when no
//! server runs. Keys and values are printed with control characters escaped.

use anyhow::bail;
use ftpsd::admin::ops::{Request, Response};
use ftpsd::admin::plugin_state::{KvRequest, KvTarget};

use super::config_arg::{ConfigArg, load_config};
use super::log_text::printable;

#[derive(clap::Subcommand)]
pub enum Command {
    /// The plugin's live keys and values, sorted (long values cut; `get` shows one whole).
    List {
        #[arg(long)]
        plugin: String,
        /// Only keys starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// One key's value, exactly as stored.
    Get {
        #[arg(long)]
        plugin: String,
        key: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Delete one key, every key with a prefix, or (--all) the plugin's whole state.
    Del {
        #[arg(long)]
        plugin: String,
        #[arg(required_unless_present_any = ["prefix", "all"], conflicts_with_all = ["prefix", "all"])]
        key: Option<String>,
        #[arg(long, conflicts_with = "all")]
        prefix: Option<String>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Values longer than this are cut in listings.
const SHOWN: usize = 120;

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let (config, req, whole) = match cmd {
        Command::List {
            plugin,
            prefix,
            config,
        } => (config, KvRequest::List { plugin, prefix }, false),
        Command::Get {
            plugin,
            key,
            config,
        } => (config, KvRequest::Get { plugin, key }, true),
        Command::Del {
            plugin,
            key,
            prefix,
            all,
            config,
        } => {
            let target = match (key, prefix) {
                (Some(k), _) => KvTarget::Key(k),
                (None, Some(p)) => KvTarget::Prefix(p),
                (None, None) if all => KvTarget::Prefix(String::new()),
                (None, None) => bail!("say what to delete: KEY, --prefix P or --all"),
            };
            (config, KvRequest::Delete { plugin, target }, false)
        }
    };
    let config = load_config(config.config.as_deref())?;
    print(super::bans::send(&config, Request::Kv(req))?, whole)
}

/// Prints a state answer: `whole` values exactly (get), else one cut line per key.
pub(super) fn print(resp: Response, whole: bool) -> anyhow::Result<()> {
    match resp {
        Response::KvEntries(entries) if whole => {
            for e in entries {
                println!("{}", printable(&e.value));
            }
        }
        Response::KvEntries(entries) => {
            if entries.is_empty() {
                println!("No keys.");
            }
            let cut = entries.len() >= ftpsd::admin::plugin_state::MAX_LISTED;
            for e in entries {
                let mut value = printable(&e.value);
                if value.chars().count() > SHOWN {
                    value = value.chars().take(SHOWN).collect::<String>() + "…";
                }
                println!("{} = {value}", printable(&e.key));
            }
            if cut {
                eprintln!(
                    "(the first {} keys only; narrow the listing with --prefix)",
                    ftpsd::admin::plugin_state::MAX_LISTED
                );
            }
        }
        Response::KvDeleted(n) => println!("{n} key(s) deleted."),
        Response::Failed { error, .. } | Response::Error(error) => bail!("{error}"),
        other => bail!("unexpected answer: {other:?}"),
    }
    Ok(())
}
