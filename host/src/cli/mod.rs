//! Subcommands. Each file is one subcommand group.

mod admin;
mod admin_manage;
mod bans;
mod cert;
mod check_config;
mod config_arg;
mod group;
mod kv;
mod log_text;
mod logging;
mod plugin;
mod plugin_run;
mod serve;
mod user;
mod user_mod;
mod user_share;
mod xferlog;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ftpsd",
    version,
    about = "FTPS server with sandboxed WebAssembly policy plugins",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// Whether this runs the server (which must see a closed socket as an error, never be
    /// killed by SIGPIPE), rather than a command printing to a pipe such as `| head`.
    pub fn is_server(&self) -> bool {
        matches!(self.command, Command::Serve(_))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the server. Without --config: explicit FTPS on 127.0.0.1:2121, implicit on
    /// 127.0.0.1:2990, state in ./ftpsd-data (certificate and admin user created on first start).
    Serve(serve::Args),
    /// Check a config file (syntax, unknown keys, values, certificate, users file) and exit.
    CheckConfig(check_config::Args),
    /// Certificates: generate a self-signed certificate or CA.
    #[command(subcommand)]
    Cert(cert::Command),
    /// Manage users in the users file (a running server reloads it within a second).
    #[command(subcommand)]
    User(user::Command),
    /// Manage groups: the mounts (rights, quotas) their members get on top of their own.
    #[command(subcommand)]
    Group(group::Command),
    /// Policy plugins: create a crate, check a .wasm file, run events through it.
    #[command(subcommand)]
    Plugin(plugin::Command),
    /// Brute-force protection bans: list them, lift one or all (works while the server runs).
    #[command(subcommand)]
    Bans(bans::Command),
    /// Administer the running server: sessions (kick), bans, plugins, reload, stats.
    Admin(admin::Args),
    /// A plugin's stored state: list, get, delete keys (works while the server runs).
    #[command(subcommand)]
    Kv(kv::Command),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::CheckConfig(a) => check_config::run(a),
        Command::Cert(c) => cert::run(c),
        Command::User(c) => user::run(c),
        Command::Group(c) => group::run(c),
        Command::Plugin(c) => plugin::run(c),
        Command::Bans(c) => bans::run(c),
        Command::Admin(c) => admin::run(c),
        Command::Kv(c) => kv::run(c),
    }
}
