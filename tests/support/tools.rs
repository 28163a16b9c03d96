//! Running real FTP clients (curl, lftp, python3 ftplib) against the test server.

use std::process::{Command, Output};
use std::time::Duration;

/// Runs a client program with a hard time limit, off the async runtime.
pub async fn run(cmd: Command) -> Output {
    run_within(cmd, Duration::from_secs(60)).await
}

/// As [`run`], for a command that moves a lot (a GiB through a store), with its own bound.
pub async fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e} (install it: .ci/run does)"));
    let pid = child.id();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output());
    match tokio::time::timeout(limit, waiter).await {
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

/// The real `ftpsd serve --config ftpsd.toml` running in `dir`, stderr in `dir/stderr.log`.
pub struct Spawned {
    pub child: std::process::Child,
    /// The explicit FTPS address it printed.
    pub ftp: std::net::SocketAddr,
    /// The admin HTTP address it printed, if enabled.
    pub admin: Option<std::net::SocketAddr>,
}

/// Starts the binary (trace-level log) and reads the addresses from its welcome text.
pub async fn spawn_server(dir: &std::path::Path) -> Spawned {
    spawn_server_limited(dir, None).await
}

/// As [`spawn_server`], with the server's open-file limit set to `nofile` when given.
pub async fn spawn_server_limited(dir: &std::path::Path, nofile: Option<u64>) -> Spawned {
    let mut cmd = Command::new(ftpsd_bin());
    if let Some(n) = nofile {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit only, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let l = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .args(["serve", "--config", "ftpsd.toml"])
        .current_dir(dir)
        .env("FTPSD_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (ftp, admin) = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let (mut ftp, mut admin) = (None, None);
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if l.contains("explicit") {
                ftp = l.split("ftp://").nth(1).map(|a| a.trim().parse().unwrap());
            }
            if l.contains("admin (web page") {
                admin = l
                    .split("http://")
                    .nth(1)
                    .and_then(|a| a.split('/').next())
                    .map(|a| a.parse().unwrap());
            }
            if l.contains("users file") {
                break;
            }
        }
        (ftp.expect("address printed"), admin)
    })
    .await
    .unwrap();
    Spawned { child, ftp, admin }
}

impl Spawned {
    /// SIGTERM, then the exit status (off the runtime).
    pub async fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        // Drop then finds the child reaped (its status kept): nothing more to do.
        tokio::task::spawn_blocking(move || self.child.wait().unwrap())
            .await
            .unwrap()
    }
}

/// A test that fails (panics) before `stop` still ends its server: no stray process keeps
/// ports, files and CPU after the test.
impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real binary on a fresh directory with `[server] data_dir = "data"`, the explicit
/// listener on an ephemeral port and `extra` config; its stderr goes to `stderr.log`.
/// Returns the directory, the child, the addresses it printed and the first user's login.
pub async fn binary_with(
    server_keys: &str,
    extra: &str,
) -> (tempfile::TempDir, Spawned, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ftpsd.toml"),
        format!("[server]\ndata_dir = \"data\"\nlogin_failure_delay_ms = 10\n{server_keys}[explicit]\nlisten = \"127.0.0.1:0\"\n{extra}"),
    )
    .unwrap();
    let config = ftpsd::Config::load(&dir.path().join("ftpsd.toml")).unwrap();
    let (user, pass, _) = ftpsd::bootstrap::prepare(&config)
        .unwrap()
        .created_admin
        .unwrap();
    let spawned = spawn_server(dir.path()).await;
    (dir, spawned, user, pass)
}

/// Peak resident memory of a process (VmHWM), in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
