//! `ftpsd bans list|clear [IP]`: the bans of brute-force protection (any plugin following the
//! SDK's ban convention). Talks to the running server through its admin socket; with no server
//! running, works on the state store directly.

use anyhow::{Context, bail};
use ftpsd::admin::ops::{self, Request, Response};

use super::config_arg::{ConfigArg, load_config};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Active bans: subject (IP or IP|user), plugin, failures, earlier bans, time left.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Lift the bans of one IP, or all bans ("re-initialise BFP"), with the failure history
    /// behind them. Takes effect at once on a running server.
    Clear {
        /// The IP address; omit to lift every ban.
        ip: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let (config, req) = match cmd {
        Command::List { config } => (config, Request::Bans),
        Command::Clear { ip, config } => (config, Request::Unban { ip }),
    };
    let config = load_config(config.config.as_deref())?;
    match send(&config, req)? {
        Response::Bans(bans) => print_bans(&bans),
        Response::Lifted(n) => println!("{n} ban(s) lifted."),
        Response::Error(e) => bail!("{e}"),
        other => bail!("unexpected answer: {other:?}"),
    }
    Ok(())
}

/// Through the running server, or on the store when none runs.
pub(super) fn send(config: &ftpsd::Config, req: Request) -> anyhow::Result<Response> {
    let socket = ftpsd::admin::socket_path(config);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if let Some(resp) = rt.block_on(ftpsd::admin::socket::request(&socket, &req))? {
        return Ok(resp);
    }
    let names: Vec<String> = config.plugins.iter().map(|p| p.name.clone()).collect();
    if config.state.is_shared() {
        let store = config
            .state
            .open(&config.data_dir())
            .with_context(|| format!("state.backend = {}", config.state.backend))?;
        return Ok(ops::handle(store.as_ref(), &names, req));
    }
    let db = config.data_dir().join("state/kv.redb");
    if !db.exists() {
        bail!(
            "no state store at {} and no server answering on {}: is --config right?",
            db.display(),
            socket.display()
        );
    }
    let store = ftpsd::state::RedbStore::open(&db).with_context(|| {
        format!(
            "the server seems to run but does not answer on {}",
            socket.display()
        )
    })?;
    Ok(ops::handle(&store, &names, req))
}

fn print_bans(bans: &[ftpsd::admin::bans::Ban]) {
    if bans.is_empty() {
        println!("No active bans.");
        return;
    }
    let now = ftpsd::state::now_ms();
    println!(
        "{:<40} {:<12} {:>8} {:>7} {:>10}",
        "SUBJECT", "PLUGIN", "FAILURES", "STRIKES", "TIME LEFT"
    );
    for b in bans {
        let (failures, strikes, left) = match &b.record {
            Some(r) => (
                r.failures.to_string(),
                r.strikes.to_string(),
                duration(r.until_ms.saturating_sub(now)),
            ),
            None => ("?".into(), "?".into(), "?".into()),
        };
        println!(
            "{:<40} {:<12} {:>8} {:>7} {:>10}",
            super::log_text::printable(&b.subject),
            b.plugin,
            failures,
            strikes,
            left
        );
    }
}

fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}
