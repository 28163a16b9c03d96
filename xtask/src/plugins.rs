//! `cargo xtask plugins`: builds every plugin crate (the plugins workspace: plugins/* and
//! examples/plugins/*) for wasm32-wasip1 and copies the .wasm files to `target/plugins/`.
//!
//! Toolchain, as `../shared/wasm-toolchain.md` describes:
//! - Route A: an installed rustup target `wasm32-wasip1` (what a plugin author has).
//! - Route B: Debian's rustc-web + rust-web-src + wasi-libc + lld-22 with `-Zbuild-std`,
//!   installing the packages when missing (as root). Before installing them, xtask tries
//!   `rustup target add` once, bounded (it can download only where the network allows).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

const TARGET: &str = "wasm32-wasip1";
const DEBIAN_PACKAGES: [&str; 5] = [
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "wasi-libc",
    "lld-22",
];

pub enum Route {
    Rustup,
    Debian,
}

fn rustup_has_target() -> bool {
    let Ok(mut child) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return false;
    };
    // Bounded: a rustup that tries the network must not hang the build.
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            let mut out = String::new();
            if let Some(mut s) = child.stdout.take() {
                use std::io::Read;
                let _ = s.read_to_string(&mut out);
            }
            return out.lines().any(|l| l.trim() == TARGET);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    false
}

fn debian_ready() -> bool {
    Path::new("/usr/bin/rustc").exists()
        && Path::new("/usr/lib/rustlib/src/rust/library").exists()
        && Path::new("/usr/lib/wasm32-wasi").exists()
        && Command::new("wasm-ld-22").arg("--version").output().is_ok()
}

fn install_debian() -> anyhow::Result<()> {
    crate::tools::apt_install(
        &DEBIAN_PACKAGES,
        "Debian's wasm toolchain (no rustup target wasm32-wasip1)",
    )
    .context("or run `rustup target add wasm32-wasip1`")?;
    if !debian_ready() {
        bail!("installing {} failed", DEBIAN_PACKAGES.join(" "));
    }
    Ok(())
}

/// `rustup target add wasm32-wasip1`, bounded: where the network allows it (it did not here
/// before 2026-12-04), a normal user's route; else nothing changes.
fn rustup_add_target() -> bool {
    let Ok(mut child) = Command::new("rustup")
        .args(["target", "add", TARGET])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return false;
    };
    for _ in 0..1200 {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success() && rustup_has_target();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

pub fn detect() -> anyhow::Result<Route> {
    if rustup_has_target() {
        return Ok(Route::Rustup);
    }
    if !debian_ready() {
        eprintln!("xtask: trying `rustup target add {TARGET}` (at most 2 minutes)");
        if rustup_add_target() {
            return Ok(Route::Rustup);
        }
        eprintln!("xtask: rustup could not add {TARGET}; using Debian's toolchain instead");
    }
    if !debian_ready() {
        install_debian()?;
    }
    Ok(Route::Debian)
}

/// `cargo build --release` for wasm32-wasip1 by `route`, in `dir`, into `target_dir`.
fn cargo_build(route: &Route, dir: &Path, target_dir: &Path) -> Command {
    let mut cmd = match route {
        Route::Rustup => {
            eprintln!("xtask: building plugins with the rustup target {TARGET}");
            let mut c = Command::new("cargo");
            c.args(["build", "--release", "--target", TARGET]);
            c
        }
        Route::Debian => {
            eprintln!(
                "xtask: building plugins with Debian's rustc-web and -Zbuild-std (no rustup target installed)"
            );
            let mut c = Command::new("/usr/bin/cargo");
            c.args([
                "build",
                "--release",
                "-Zbuild-std=std,panic_abort",
                "--target",
                TARGET,
            ])
            .env("RUSTC_BOOTSTRAP", "1")
            .env("RUSTC", "/usr/bin/rustc")
            .env("CARGO_TARGET_WASM32_WASIP1_LINKER", "wasm-ld-22")
            .env(
                "CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS",
                "-L /usr/lib/wasm32-wasi",
            );
            c
        }
    };
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS");
    cmd
}

/// `cargo xtask plugins --path DIR`: builds one plugin crate (e.g. one `ftpsd plugin new`
/// made) on whichever route this machine has; the .wasm lands in DIR/target/wasm32-wasip1/release.
pub fn build_crate(dir: &Path) -> anyhow::Result<()> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("{}: not a plugin crate", manifest.display()))?;
    let route = detect()?;
    // The crate's own target dir, or its workspace's when it is a member of one.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let status = cargo_build(&route, dir, &target_dir)
        .status()
        .context("running cargo for the plugin")?;
    if !status.success() {
        bail!("building {} failed ({status})", dir.display());
    }
    let name = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("name = \"")
                .and_then(|r| r.strip_suffix('"'))
        })
        .unwrap_or_default()
        .replace('-', "_");
    let wasm = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{name}.wasm"));
    if !wasm.exists() {
        bail!(
            "{} was not produced: is the crate a cdylib (`[lib] crate-type = [\"cdylib\"]`)?",
            wasm.display()
        );
    }
    println!("{}", wasm.display());
    Ok(())
}

/// Builds all plugins; returns the output folder with the .wasm files.
pub fn build(root: &Path) -> anyhow::Result<PathBuf> {
    let route = detect()?;
    let ws = root.join("plugins");
    let target_dir = ws.join("target");
    let mut cmd = cargo_build(&route, &ws, &target_dir);
    let status = cmd.status().context("running cargo for the plugins")?;
    if !status.success() {
        bail!("building plugins failed ({status})");
    }
    let out = root.join("target/plugins");
    std::fs::create_dir_all(&out)?;
    let built = target_dir.join(TARGET).join("release");
    let members = member_artifacts(root)?;
    let mut n = 0;
    for e in std::fs::read_dir(&built).with_context(|| format!("reading {}", built.display()))? {
        let p = e?.path();
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.extension().is_some_and(|x| x == "wasm") && members.contains(&stem) {
            std::fs::copy(&p, out.join(p.file_name().unwrap_or_default()))?;
            eprintln!(
                "xtask: {} ({} KB)",
                out.join(p.file_name().unwrap_or_default()).display(),
                std::fs::metadata(&p)?.len() / 1024
            );
            n += 1;
        }
    }
    if n == 0 {
        bail!("no .wasm produced in {}", built.display());
    }
    Ok(out)
}

/// File stems of the .wasm files the plugins workspace's members produce (crate name, '-' → '_').
fn member_artifacts(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for dir in [root.join("plugins"), root.join("examples/plugins")] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let manifest = e.path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            if let Some(name) = text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("name = \"")
                    .and_then(|r| r.strip_suffix('"'))
            }) {
                names.push(name.replace('-', "_"));
            }
        }
    }
    Ok(names)
}

/// Runs the plugins' native tests (SDK harness) on the host target.
pub fn test_native(root: &Path) -> anyhow::Result<()> {
    let status = Command::new("cargo")
        .args(["test", "--release"])
        .current_dir(root.join("plugins"))
        .env("CARGO_TARGET_DIR", root.join("plugins/target"))
        .status()?;
    if !status.success() {
        bail!("plugin unit tests failed");
    }
    Ok(())
}
