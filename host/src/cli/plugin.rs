use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a plugin crate NAME/ (outside any workspace, with a vendored copy of the SDK) that
    /// builds to wasm32-wasip1 as printed.
    New(NewArgs),
    /// Load a plugin as the server would and print its ABI version, hash, hooks and whether
    /// its settings are accepted.
    Check(CheckArgs),
    /// Run events (one as JSON, or a recorded JSON Lines file) through a plugin as the server
    /// would, and print each verdict with its actions and limits.
    Run(super::plugin_run::RunArgs),
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
    /// Also keep the compiled module in the data folder of the server this config runs
    /// (<data_dir>/plugins/compiled/): renaming this exact file into place then swaps it in
    /// without compiling. Run as the server's user.
    #[arg(long, value_name = "CONFIG")]
    precompile: Option<PathBuf>,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    let a = match cmd {
        Command::New(n) => return scaffold(&n.name),
        Command::Check(a) => a,
        Command::Run(a) => return super::plugin_run::run(a),
    };
    let section = super::plugin_run::file_section(&a.file, &a.settings)?;
    let kept_in = match &a.precompile {
        Some(config) => {
            let config = super::config_arg::load_config(Some(config.as_path()))?;
            let data = config.data_dir();
            ftpsd::plugins::module_cache::keep_on_disk(
                ftpsd::plugins::compiled_dir::CompiledDir::new(&data),
            );
            Some(data.join("plugins/compiled"))
        }
        None => None,
    };
    let kv: ftpsd::state::SharedStore = Arc::new(ftpsd::state::MemoryStore::default());
    let loaded = ftpsd::plugins::load_section(&section, std::path::Path::new("."), kv).map_err(
        |e| match e {
            ftpsd::plugins::PluginError::Settings { .. } => anyhow::anyhow!(
                "{e}\n(pass the plugin's settings as in its [[plugins]] entry: --settings '{{ key = value, ... }}')"
            ),
            e => e.into(),
        },
    )?;
    let mut hooks: Vec<&str> = loaded.hooks.iter().map(|h| h.name()).collect();
    hooks.sort();
    println!("plugin:      {}", a.file.display());
    println!(
        "ABI version: {} (this server runs {} to {})",
        loaded.abi,
        ftpsd_plugin_sdk::MIN_ABI_VERSION,
        ftpsd_plugin_sdk::ABI_VERSION
    );
    println!("sha256:      {}…", loaded.hash);
    if let Some(dir) = kept_in {
        ftpsd::plugins::module_cache::wait_kept();
        println!(
            "compiled:    kept in {} (a swap to this file loads it without compiling)",
            dir.display()
        );
    }
    println!(
        "hooks:       {}",
        if hooks.is_empty() {
            "none".into()
        } else {
            hooks.join(", ")
        }
    );
    println!(
        "needs:       {}",
        if loaded.wants.is_empty() {
            "no capabilities".to_string()
        } else {
            format!(
                "{} (grant with capabilities = {{ ... }} in its [[plugins]] entry)",
                loaded.wants.join(", ")
            )
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
description = "Vendored ftpsd plugin SDK (ABI version 2)"

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
                // State lives in the host's store, shared by every instance of the plugin
                // (instance memory is a cache, dropped on any fault). Every store call
                // returns Result: a gate that cannot count refuses rather than guess.
                if let Err(e) = host.kv_incr(&format!("refused:{}", ev.user), 1, None) {
                    return e.into();
                }
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
        Request::Upload(UploadEvent { ip: "192.0.2.1".into(), user: "bob".into(), path: path.into(), command: "STOR".into(), ..Default::default() })
    }

    #[test]
    fn refuses_configured_suffixes() {
        let mut h = Harness::<Rule>::new(serde_json::json!({ "refuse_suffixes": [".EXE"] }));
        assert!(h.call(upload("/setup.exe")).is_deny());
        assert!(!h.call(upload("/notes.txt")).is_deny());
        assert_eq!(h.host.kv_get("refused:bob").unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn refuses_when_its_store_fails() {
        let mut h = Harness::<Rule>::new(serde_json::json!({ "refuse_suffixes": [".exe"] }));
        h.host.fail_store = Some("store down".into());
        assert!(h.call(upload("/setup.exe")).is_deny());
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
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    let route = WasmRoute::detect();
    std::fs::create_dir_all(dir.join(".cargo"))?;
    std::fs::write(dir.join(".cargo/config.toml"), route.cargo_config())?;
    let file = format!("{}.wasm", name.replace('-', "_"));
    let wasm = std::fs::canonicalize(&dir)?
        .join("target/wasm32-wasip1/release")
        .join(&file);
    let settings = "{ refuse_suffixes = [\".exe\"] }";
    std::fs::write(
        dir.join("README.md"),
        format!(
            "# {name}\n\nAn ftpsd policy plugin.\n\n    cargo test        # native tests with the SDK harness\n    {build}\n    ftpsd plugin check {wasm} --settings '{settings}'\n\n{note}\n",
            build = route.build_command(),
            wasm = wasm.display(),
            note = route.note(),
        ),
    )?;
    println!("created {name}/ (plugin crate with a vendored ftpsd-plugin-sdk)");
    println!("test:   cd {name} && cargo test");
    println!("build:  cd {name} && {}", route.build_command());
    println!("        ({})", route.note());
    println!("        → {}", wasm.display());
    println!(
        "check:  ftpsd plugin check {} --settings '{settings}'",
        wasm.display()
    );
    println!("use:    add to the server config:");
    println!();
    print!("{}", config_snippet(name, &wasm));
    Ok(())
}

/// The `[[plugins]]` table for the server config: valid TOML, with the module's absolute path
/// (a relative one would be read from the config file's folder, not from here).
fn config_snippet(name: &str, wasm: &std::path::Path) -> String {
    let mut plugin = toml::Table::new();
    plugin.insert("name".into(), toml::Value::String(name.into()));
    plugin.insert(
        "path".into(),
        toml::Value::String(wasm.display().to_string()),
    );
    let mut settings = toml::Table::new();
    settings.insert(
        "refuse_suffixes".into(),
        toml::Value::Array(vec![toml::Value::String(".exe".into())]),
    );
    plugin.insert("settings".into(), toml::Value::Table(settings));
    let mut doc = toml::Table::new();
    doc.insert(
        "plugins".into(),
        toml::Value::Array(vec![toml::Value::Table(plugin)]),
    );
    toml::to_string(&doc).unwrap_or_default()
}

/// How this machine builds wasm32-wasip1 (as `cargo xtask plugins` decides): the rustup
/// target when installed, else Debian's rustc-web with `-Zbuild-std`.
enum WasmRoute {
    Rustup,
    Debian,
}

impl WasmRoute {
    fn detect() -> WasmRoute {
        let rustup = std::process::Command::new("rustup")
            .args(["target", "list", "--installed"])
            .stderr(std::process::Stdio::null())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == "wasm32-wasip1")
            })
            .unwrap_or(false);
        if !rustup && std::path::Path::new("/usr/lib/rustlib/src/rust/library").exists() {
            WasmRoute::Debian
        } else {
            WasmRoute::Rustup
        }
    }

    /// `cargo wasm` builds the module; `cargo test` stays native.
    fn cargo_config(&self) -> &'static str {
        match self {
            WasmRoute::Rustup => {
                "# `cargo wasm` builds the plugin module (rustup target wasm32-wasip1).\n[alias]\nwasm = \"build --release --target wasm32-wasip1\"\n"
            }
            WasmRoute::Debian => {
                "# `RUSTC_BOOTSTRAP=1 cargo wasm` builds the plugin module with Debian's rustc-web\n# (packages rustc-web rust-web-src wasi-libc lld-22; no rustup target needed).\n[alias]\nwasm = \"build --release --target wasm32-wasip1 -Zbuild-std=std,panic_abort\"\n\n[build]\nrustc = \"/usr/bin/rustc\"\n\n[target.wasm32-wasip1]\nlinker = \"wasm-ld-22\"\nrustflags = [\"-L\", \"/usr/lib/wasm32-wasi\"]\n"
            }
        }
    }

    fn build_command(&self) -> &'static str {
        match self {
            WasmRoute::Rustup => "cargo wasm",
            WasmRoute::Debian => "RUSTC_BOOTSTRAP=1 cargo wasm",
        }
    }

    fn note(&self) -> &'static str {
        match self {
            WasmRoute::Rustup => {
                "uses the rustup target wasm32-wasip1 (`rustup target add wasm32-wasip1` once); see .cargo/config.toml"
            }
            WasmRoute::Debian => {
                "uses Debian's rustc-web, rust-web-src, wasi-libc and lld-22 (apt-get install them once); see .cargo/config.toml"
            }
        }
    }
}
