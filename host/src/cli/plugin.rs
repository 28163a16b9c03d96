use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a plugin crate NAME/ (outside any workspace, with a vendored copy of the SDK) that
    /// builds to wasm32-wasip1 as printed.
    New(NewArgs),
    /// Load a plugin as the server would and print its ABI version, hash, hooks and whether
    /// its settings are accepted.
    Check(CheckArgs),
}

#[derive(clap::Args)]
pub struct NewArgs {
    /// Crate name: letters, digits, '-' and '_'.
    name: String,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    file: PathBuf,
    /// Settings as a TOML inline table, e.g. '{ start_hour = 8 }'.
    #[arg(long, default_value = "{}")]
    settings: String,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let a = match cmd {
        Command::New(n) => return scaffold(&n.name),
        Command::Check(a) => a,
    };
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

const SDK_FILES: [(&str, &str); 7] = [
    ("units.rs", include_str!("../../../plugin-sdk/src/units.rs")),
    ("lib.rs", include_str!("../../../plugin-sdk/src/lib.rs")),
    ("bans.rs", include_str!("../../../plugin-sdk/src/bans.rs")),
    ("event.rs", include_str!("../../../plugin-sdk/src/event.rs")),
    ("host.rs", include_str!("../../../plugin-sdk/src/host.rs")),
    (
        "plugin.rs",
        include_str!("../../../plugin-sdk/src/plugin.rs"),
    ),
    (
        "testing.rs",
        include_str!("../../../plugin-sdk/src/testing.rs"),
    ),
];

const SDK_MANIFEST: &str = r#"[package]
name = "ftpsd-plugin-sdk"
version = "0.1.0"
edition = "2024"
description = "Vendored ftpsd plugin SDK (ABI version 1)"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
serde_path_to_error = "0.1"
"#;

const PLUGIN_TEMPLATE: &str = r#"//! A site rule for ftpsd: refuses uploads whose names end with a configured suffix.
//! Replace it with your own rule; `cargo test` runs it natively with the SDK's harness.

use ftpsd_plugin_sdk::{Hook, Host, Plugin, Response, UploadEvent, export};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Case-insensitive name endings to refuse, e.g. [".exe", ".tmp"].
    #[serde(default)]
    pub refuse_suffixes: Vec<String>,
}

#[derive(Default)]
pub struct Rule {
    suffixes: Vec<String>,
}

impl Plugin for Rule {
    type Settings = Settings;
    const NAME: &'static str = "{NAME}";
    const HOOKS: &'static [Hook] = &[Hook::Upload];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        if s.refuse_suffixes.iter().any(|x| x.is_empty()) {
            return Err("refuse_suffixes: empty entries are not allowed".into());
        }
        self.suffixes = s.refuse_suffixes.iter().map(|x| x.to_lowercase()).collect();
        Ok(())
    }

    fn upload(&mut self, ev: &UploadEvent, host: &mut dyn Host) -> Response {
        let name = ev.path.to_lowercase();
        match self.suffixes.iter().find(|s| name.ends_with(s.as_str())) {
            Some(s) => {
                host.log("info", &format!("refused {} for {}", ev.path, ev.user));
                Response::deny(553, format!("Files ending in {s} are not accepted here."))
            }
            None => Response::allow(),
        }
    }
}

export!(Rule);

#[cfg(test)]
mod tests {
    use super::*;
    use ftpsd_plugin_sdk::Request;
    use ftpsd_plugin_sdk::testing::Harness;

    fn upload(path: &str) -> Request {
        Request::Upload(UploadEvent { ip: "192.0.2.1".into(), user: "bob".into(), path: path.into(), command: "STOR".into(), groups: vec![] })
    }

    #[test]
    fn refuses_configured_suffixes() {
        let mut h = Harness::<Rule>::new(serde_json::json!({ "refuse_suffixes": [".EXE"] }));
        assert!(h.call(upload("/setup.exe")).is_deny());
        assert!(!h.call(upload("/notes.txt")).is_deny());
    }
}
"#;

/// `ftpsd plugin new NAME`.
fn scaffold(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        anyhow::bail!(
            "'{name}' is not a crate name: use letters, digits, '-' and '_', not starting with a digit"
        );
    }
    let dir = PathBuf::from(name);
    if dir.exists() {
        anyhow::bail!(
            "{} already exists; choose another name or remove it",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::create_dir_all(dir.join("sdk/src"))?;
    for (file, text) in SDK_FILES {
        std::fs::write(dir.join("sdk/src").join(file), text)?;
    }
    std::fs::write(dir.join("sdk/Cargo.toml"), SDK_MANIFEST)?;
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n[dependencies]\nftpsd-plugin-sdk = {{ path = \"sdk\" }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n\n[dev-dependencies]\nserde_json = \"1\"\n\n[profile.release]\nopt-level = \"s\"\nlto = true\nstrip = true\ncodegen-units = 1\npanic = \"abort\"\n\n# Not part of any surrounding workspace.\n[workspace]\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    std::fs::write(
        dir.join("src/lib.rs"),
        PLUGIN_TEMPLATE.replace("{NAME}", name),
    )?;
    let wasm = format!(
        "{name}/target/wasm32-wasip1/release/{}.wasm",
        name.replace('-', "_")
    );
    std::fs::write(
        dir.join("README.md"),
        format!(
            "# {name}\n\nAn ftpsd policy plugin.\n\n    cargo test                                          # native tests with the SDK harness\n    rustup target add wasm32-wasip1                     # once\n    cargo build --release --target wasm32-wasip1\n    ftpsd plugin check target/wasm32-wasip1/release/{}.wasm --settings '{{ refuse_suffixes = [\".exe\"] }}'\n",
            name.replace('-', "_")
        ),
    )?;
    println!("created {name}/ (plugin crate with a vendored ftpsd-plugin-sdk)");
    println!("test:   cd {name} && cargo test");
    println!(
        "build:  cd {name} && cargo build --release --target wasm32-wasip1   (once: rustup target add wasm32-wasip1)"
    );
    println!("        → {wasm}");
    println!("check:  ftpsd plugin check {wasm} --settings '{{ refuse_suffixes = [\".exe\"] }}'");
    println!("use:    [[plugins]] name = \"{name}\", path = \"{wasm}\" in the server config");
    Ok(())
}
