//! `--config`, shared by the subcommands that read the server's config.

use std::path::{Path, PathBuf};

use ftpsd::Config;

/// The config from `--config`, or the embedded default.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => Ok(Config::embedded_default()),
    }
}

#[derive(clap::Args, Clone)]
pub struct ConfigArg {
    /// Server config file (TOML). Default: the embedded default (state in ./ftpsd-data).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}
