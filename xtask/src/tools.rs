//! The clients and servers the end-to-end tests drive, installed when missing so that
//! `cargo xtask test` passes on a fresh machine by itself: Debian packages (as root),
//! Python packages (pip) and npm packages (into `target/npm`, found by the tests there).
//! Nothing is skipped silently: a tool that cannot be installed stops the run with a message
//! saying what to install.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// (command to probe, Debian package that provides it).
const DEBIAN: &[(&str, &str)] = &[
    ("curl", "curl"),
    ("lftp", "lftp"),
    ("python3", "python3"),
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("rclone", "rclone"),
    ("php", "php-cli"),
    ("node", "nodejs"),
    ("npm", "npm"),
    ("pebble", "pebble"),
    ("redis-server", "redis-server"),
    ("haproxy", "haproxy"),
];

/// npm packages the tests load from `target/npm/node_modules`.
const NPM: &[&str] = &["basic-ftp@5"];

fn found(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(c: &mut Command) -> anyhow::Result<()> {
    let desc = format!("{c:?}");
    let s = c.status().with_context(|| format!("running {desc}"))?;
    if !s.success() {
        bail!("{desc} failed ({s})");
    }
    Ok(())
}

/// `apt-get install` of `packages` (what `what` needs), as root; the error says what to
/// install by hand otherwise.
pub fn apt_install(packages: &[&str], what: &str) -> anyhow::Result<()> {
    eprintln!(
        "xtask: installing {what} from Debian: {}",
        packages.join(" ")
    );
    if !is_root() {
        bail!(
            "{what} is missing: install it as root (apt-get install {})",
            packages.join(" ")
        );
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Installs whatever the tests need and this machine lacks.
pub fn ensure(root: &Path) -> anyhow::Result<()> {
    let missing: Vec<&str> = DEBIAN
        .iter()
        .filter(|(cmd, _)| !found(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if !missing.is_empty() {
        if !is_root() {
            bail!(
                "the tests need {}: install them (apt-get install {}) or run `cargo xtask test` as root",
                missing.join(", "),
                missing.join(" ")
            );
        }
        eprintln!(
            "xtask: installing test clients from Debian: {}",
            missing.join(" ")
        );
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    ensure_selenium()?;
    ensure_moto()?;
    ensure_npm(root)?;
    Ok(())
}

/// Selenium drives the admin page in headless Chromium (tests/web/admin_page.py).
fn ensure_selenium() -> anyhow::Result<()> {
    let has = |py: &str| {
        Command::new(py)
            .args(["-c", "import selenium"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has("python3") || has("/usr/bin/python3") {
        return Ok(());
    }
    eprintln!("xtask: installing selenium (pip)");
    if pip_install("selenium") {
        return Ok(());
    }
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "python3-selenium"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// `pip install` of `package`, also where Debian marks the system Python as managed.
fn pip_install(package: &str) -> bool {
    let pip = |extra: &[&str]| {
        Command::new("python3")
            .args(["-m", "pip", "install", "-q", package])
            .args(extra)
            .status()
            .is_ok_and(|s| s.success())
    };
    pip(&[]) || pip(&["--break-system-packages"])
}

/// moto's S3 server: the S3-compatible store the object-storage mount tests start.
fn ensure_moto() -> anyhow::Result<()> {
    if found("moto_server") {
        return Ok(());
    }
    eprintln!("xtask: installing moto[server] (pip)");
    if !pip_install("moto[server]") {
        apt_install(&["python3-pip"], "pip (for moto)")?;
        if !pip_install("moto[server]") {
            bail!("could not install moto[server]: run `python3 -m pip install 'moto[server]'`");
        }
    }
    if !found("moto_server") {
        bail!(
            "moto[server] installed but moto_server is not on PATH (add pip's script folder, e.g. ~/.local/bin)"
        );
    }
    Ok(())
}

/// npm clients, installed into `target/npm` (not the project tree, not global).
fn ensure_npm(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("target/npm");
    let missing: Vec<&str> = NPM
        .iter()
        .copied()
        .filter(|p| {
            let name = p.rsplit_once('@').map(|(n, _)| n).unwrap_or(p);
            !dir.join("node_modules")
                .join(name)
                .join("package.json")
                .exists()
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!(
        "xtask: installing npm clients into target/npm: {}",
        missing.join(" ")
    );
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&dir)
        .args(&missing))
}
