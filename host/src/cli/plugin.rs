use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Load a plugin as the server would and print its ABI version, hash, hooks and whether
    /// its settings are accepted.
    Check(CheckArgs),
}

#[derive(clap::Args)]
pub struct CheckArgs {
    file: PathBuf,
    /// Settings as a TOML inline table, e.g. '{ start_hour = 8 }'.
    #[arg(long, default_value = "{}")]
    settings: String,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let Command::Check(a) = cmd;
    let settings: toml::Table = toml::from_str(&format!("s = {}", a.settings))
        .context("--settings must be a TOML inline table like '{ key = 1 }'")?;
    let settings = match settings.get("s") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => anyhow::bail!("--settings must be a TOML inline table like '{{ key = 1 }}'"),
    };
    let name = a
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let mut section: ftpsd::plugins::PluginSection = toml::from_str(&format!(
        "name = {name:?}\npath = {:?}\n",
        a.file.display().to_string()
    ))?;
    section.settings = settings;
    let kv: ftpsd::state::SharedStore = Arc::new(ftpsd::state::MemoryStore::default());
    let loaded = ftpsd::plugins::load_section(&section, std::path::Path::new("."), kv)?;
    let mut hooks: Vec<&str> = loaded.hooks.iter().map(|h| h.name()).collect();
    hooks.sort();
    println!("plugin:      {}", a.file.display());
    println!("ABI version: {}", ftpsd_plugin_sdk::ABI_VERSION);
    println!("sha256:      {}…", loaded.hash);
    println!(
        "hooks:       {}",
        if hooks.is_empty() {
            "none".into()
        } else {
            hooks.join(", ")
        }
    );
    println!("settings:    accepted");
    Ok(())
}
