//! Running real FTP clients (curl, lftp, python3 ftplib) against the test server.

use std::process::{Command, Output};
use std::time::Duration;

/// Runs a client program with a hard time limit, off the async runtime.
pub async fn run(mut cmd: Command) -> Output {
    let desc = format!("{cmd:?}");
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e} (install it: .ci/run does)"));
    let pid = child.id();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output());
    match tokio::time::timeout(Duration::from_secs(60), waiter).await {
        Ok(out) => out.unwrap().unwrap(),
        Err(_) => {
            unsafe_kill(pid);
            panic!("timed out: {desc}");
        }
    }
}

fn unsafe_kill(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The release binary, built by `cargo xtask test` (or `cargo build --release -p ftpsd`).
pub fn ftpsd_bin() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Ok(p) = std::env::var("FTPSD_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("release/ftpsd");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --release -p ftpsd` (cargo xtask test does)",
        bin.display()
    );
    bin
}

/// `cargo build --release --target wasm32-wasip1` for a plugin crate in `dir`, by the route
/// `cargo xtask plugins` uses: an installed rustup target, else Debian's rustc-web with
/// build-std. The target dir is the plugins workspace's, so std is built once.
pub fn wasm_build(dir: &std::path::Path) -> Command {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let rustup = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-wasip1")
        })
        .unwrap_or(false);
    let mut c = if rustup {
        let mut c = Command::new("cargo");
        c.args(["build", "--release", "--target", "wasm32-wasip1"]);
        c
    } else {
        let mut c = Command::new("/usr/bin/cargo");
        c.args([
            "build",
            "--release",
            "-Zbuild-std=std,panic_abort",
            "--target",
            "wasm32-wasip1",
        ])
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTC", "/usr/bin/rustc")
        .env("CARGO_TARGET_WASM32_WASIP1_LINKER", "wasm-ld-22")
        .env(
            "CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS",
            "-L /usr/lib/wasm32-wasi",
        );
        c
    };
    c.current_dir(dir)
        .env("CARGO_TARGET_DIR", root.join("plugins/target"))
        .env_remove("RUSTFLAGS");
    c
}
