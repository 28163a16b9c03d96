//! `ftpsd admin …`: the running server's sessions, bans and plugins, through its admin socket
//! (`<data_dir>/admin.sock`, mode 0600: whoever may read the data directory is an operator).

use anyhow::{Context, bail};
use ftpsd::admin::ops::{Request, Response};
use ftpsd::data::bandwidth::describe;

use super::config_arg::load_config;

#[derive(clap::Args)]
pub struct Args {
    /// Server config file (finds the admin socket in its data directory).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Talk to the HTTP admin API at this URL (e.g. http://10.0.0.5:8021) instead of the
    /// local admin socket.
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// The API token file (with --url); default `<data_dir>/admin.token`.
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Logged-in sessions: ID, user, IP, since, TLS, current command and transfer.
    Sessions,
    /// Disconnect one session (ID from `admin sessions`; in a cluster, --node NAME for a
    /// session on another node).
    Kick {
        id: u64,
        /// The node the session is on (the NODE column of `admin sessions`).
        #[arg(long)]
        node: Option<String>,
    },
    /// Disconnect every session (on every node of a cluster).
    KickAll,
    /// Active bans.
    Bans,
    /// Lift the bans of one IP.
    Unban { ip: String },
    /// Lift every ban ("re-initialise BFP").
    UnbanAll,
    /// Loaded plugins: hash, hooks, calls, faults, quarantine.
    Plugins,
    /// What SIGHUP does: reload users, plugins (ends a quarantine), the config (for new
    /// sessions) and certificates, and say which config changes need a restart.
    Reload,
    /// Counters: connections, logins, transfers, bytes, bans.
    Stats,
    #[command(flatten)]
    Manage(super::admin_manage::Command),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let req = match args.command {
        Command::Sessions => Request::Sessions,
        Command::Kick { id, node } => Request::Kick { id, node },
        Command::KickAll => Request::KickAll,
        Command::Bans => Request::Bans,
        Command::Unban { ip } => Request::Unban { ip: Some(ip) },
        Command::UnbanAll => Request::Unban { ip: None },
        Command::Plugins => Request::Plugins,
        Command::Reload => Request::Reload,
        Command::Stats => Request::Stats,
        Command::Manage(m) => super::admin_manage::request(m)?,
    };
    let config = load_config(args.config.as_deref())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let resp = match &args.url {
        Some(url) => {
            let token_file = args
                .token_file
                .clone()
                .unwrap_or_else(|| config.data_dir().join("admin.token"));
            let token = std::fs::read_to_string(&token_file)
                .with_context(|| format!("token file {}", token_file.display()))?;
            rt.block_on(ftpsd::admin::client::request(url, token.trim(), &req))?
        }
        None => {
            let socket = ftpsd::admin::socket_path(&config);
            let Some(resp) = rt.block_on(ftpsd::admin::socket::request(&socket, &req))? else {
                bail!(
                    "no server answers on {} (is it running with this --config? or use --url)",
                    socket.display()
                );
            };
            resp
        }
    };
    print(resp)
}

fn print(resp: Response) -> anyhow::Result<()> {
    let now = ftpsd::state::now_ms();
    match resp {
        Response::Sessions(s) if s.is_empty() => println!("No sessions."),
        Response::Sessions(s) => {
            // In a cluster each session names its node: the column comes first.
            let width = s
                .iter()
                .filter_map(|x| x.node.as_ref().map(|n| n.len()))
                .max()
                .map(|w| w.max(4));
            let node = |n: Option<&str>| match width {
                Some(w) => format!("{:<w$}  ", super::log_text::printable(n.unwrap_or("-"))),
                None => String::new(),
            };
            println!(
                "{}{:>5}  {:<16} {:<39} {:>8}  {:<4} {:<24} TRANSFER",
                node(Some("NODE")),
                "ID",
                "USER",
                "IP",
                "FOR",
                "TLS",
                "COMMAND"
            );
            for x in s {
                let transfer = x
                    .transfer
                    .map(|t| {
                        let limit = t
                            .limit
                            .map(|l| format!(" (limit {})", describe(l / 1024)))
                            .unwrap_or_default();
                        format!(
                            "{} {} bytes {:.1} MB/s{limit}",
                            t.what,
                            t.bytes,
                            t.rate / 1e6
                        )
                    })
                    .unwrap_or_default();
                println!(
                    "{}{:>5}  {:<16} {:<39} {:>7}s  {:<4} {:<24} {transfer}",
                    node(x.node.as_deref()),
                    x.id,
                    super::log_text::printable(&x.user),
                    x.ip,
                    now.saturating_sub(x.since_ms) / 1000,
                    if x.tls { "yes" } else { "no" },
                    super::log_text::printable(&x.command.chars().take(24).collect::<String>())
                );
            }
        }
        Response::Kicked(n) => println!("{n} session(s) disconnected."),
        r @ (Response::KvEntries(_) | Response::KvDeleted(_)) => super::kv::print(r, false)?,
        Response::Bans(b) if b.is_empty() => println!("No active bans."),
        Response::Bans(b) => {
            println!("{:<40} {:<12} {:>8}", "SUBJECT", "PLUGIN", "SECS LEFT");
            for x in b {
                let left = x
                    .record
                    .map(|r| (r.until_ms.saturating_sub(now) / 1000).to_string())
                    .unwrap_or_else(|| "?".into());
                println!(
                    "{:<40} {:<12} {:>8}",
                    super::log_text::printable(&x.subject),
                    x.plugin,
                    left
                );
            }
        }
        Response::Lifted(n) => println!("{n} ban(s) lifted."),
        Response::Plugins(p) if p.is_empty() => println!("No plugins loaded."),
        Response::Plugins(p) => {
            println!(
                "{:<16} {:<17} {:>9} {:>7}  {:<12} HOOKS",
                "NAME", "HASH", "CALLS", "FAULTS", "STATE"
            );
            for x in p {
                println!(
                    "{:<16} {:<17} {:>9} {:>7}  {:<12} {}",
                    x.name,
                    x.hash,
                    x.calls,
                    x.faults,
                    if x.quarantined { "QUARANTINED" } else { "ok" },
                    x.hooks.join(",")
                );
            }
        }
        Response::Reloaded(lines) => {
            for l in lines {
                println!("{l}");
            }
        }
        Response::Stats(s) => {
            println!("ftpsd {}, up {} s", s.version, s.uptime_secs);
            println!(
                "connections {} (logged in {}), sessions since start {}",
                s.connections, s.logged_in, s.sessions_total
            );
            println!("logins ok {}, failed {}", s.logins_ok, s.logins_failed);
            println!(
                "transfers ok {}, failed {}; bytes received {}, sent {}",
                s.transfers_ok, s.transfers_failed, s.bytes_received, s.bytes_sent
            );
            println!("plugins {}, active bans {}", s.plugins, s.bans);
        }
        Response::Users(u) => super::admin_manage::print_users(&u),
        Response::Groups(g) => super::admin_manage::print_groups(&g),
        Response::Access(a) => super::admin_manage::print_access(&a),
        Response::Done(d) => {
            println!("{}", d.message);
            if let Some(p) = d.password {
                println!("password: {p}");
            }
        }
        Response::Failed { error, .. } | Response::Error(error) => bail!("{error}"),
    }
    Ok(())
}
