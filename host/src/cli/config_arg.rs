//! `--config`, shared by the subcommands that read the server's config. Without it the config
//! is found the way operators expect: `FTPSD_CONFIG`, then `./ftpsd.toml`, then
//! `/etc/ftpsd/ftpsd.toml`, else the embedded default; the choice is said on stderr.

use std::path::{Path, PathBuf};

use ftpsd::Config;

/// Where a config is looked for without `--config`, in order.
const SYSTEM_CONFIG: &str = "/etc/ftpsd/ftpsd.toml";
const LOCAL_CONFIG: &str = "ftpsd.toml";

/// The config from `--config`, or the one found (see the module doc).
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    if let Some(p) = path {
        return Ok(Config::load(p)?);
    }
    match discover() {
        Some((p, why)) => {
            eprintln!("ftpsd: config {} ({why})", p.display());
            Ok(Config::load(&p)?)
        }
        None => {
            eprintln!(
                "ftpsd: no config file (--config, FTPSD_CONFIG, ./{LOCAL_CONFIG}, {SYSTEM_CONFIG}): the embedded default, state in ./ftpsd-data"
            );
            Ok(Config::embedded_default())
        }
    }
}

fn discover() -> Option<(PathBuf, &'static str)> {
    if let Some(p) = std::env::var_os("FTPSD_CONFIG").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), "from FTPSD_CONFIG"));
    }
    if Path::new(LOCAL_CONFIG).is_file() {
        return Some((PathBuf::from(LOCAL_CONFIG), "found in the current folder"));
    }
    if Path::new(SYSTEM_CONFIG).is_file() {
        return Some((PathBuf::from(SYSTEM_CONFIG), "the system config"));
    }
    None
}

#[derive(clap::Args, Clone)]
pub struct ConfigArg {
    /// Server config file (TOML). Default: $FTPSD_CONFIG, ./ftpsd.toml, /etc/ftpsd/ftpsd.toml,
    /// else the embedded default (state in ./ftpsd-data).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// A subcommand's one name (a user, a group) and `--config`.
#[derive(clap::Args)]
pub struct NameArgs {
    pub name: String,
    #[command(flatten)]
    pub config: ConfigArg,
}
