//! The server under benchmark: the release `ftpsd` binary in its own process, so its CPU time
//! and memory can be read from /proc.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ftpsd::fs::Rights;
use ftpsd::users::file::{UserEntry, UsersFile};

pub struct BenchServer {
    child: std::sync::Mutex<Child>,
    pub pid: u32,
    pub explicit: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub home: PathBuf,
    /// From spawning the process to its listening address on stdout (config, TLS, plugins).
    pub started_in: std::time::Duration,
    pub config: PathBuf,
}

/// The server binary: `FTPSD_BIN`, else the release build of this workspace.
pub fn bin() -> PathBuf {
    std::env::var("FTPSD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/ftpsd")
        })
}

impl BenchServer {
    pub async fn start(dir: &Path) -> BenchServer {
        Self::start_with(dir, "", (30000, 34999)).await
    }

    /// With extra config (e.g. `[[plugins]]` sections) and its own passive range.
    pub async fn start_with(dir: &Path, extra: &str, ports: (u16, u16)) -> BenchServer {
        Self::start_with_users(dir, extra, ports, &[]).await
    }

    /// As [`BenchServer::start_with`], with more users (name, password) sharing bench's home.
    pub async fn start_with_users(
        dir: &Path,
        extra: &str,
        ports: (u16, u16),
        more_users: &[(String, String)],
    ) -> BenchServer {
        Self::start_on("127.0.0.1", dir, extra, ports, more_users).await
    }

    /// As [`BenchServer::start_with_users`], listening on `ip` (a cluster node behind HAProxy).
    pub async fn start_on(
        ip: &str,
        dir: &Path,
        extra: &str,
        ports: (u16, u16),
        more_users: &[(String, String)],
    ) -> BenchServer {
        Self::start_configured(ip, dir, "", extra, ports, more_users).await
    }

    /// As [`BenchServer::start`], with uploads not synced (`[server] sync_uploads = false`):
    /// what an upload costs without its fsync.
    pub async fn start_unsynced(dir: &Path, ports: (u16, u16)) -> BenchServer {
        Self::start_configured("127.0.0.1", dir, "sync_uploads = false\n", "", ports, &[]).await
    }

    /// `server_lines` go into `[server]`, `extra` after the other sections.
    async fn start_configured(
        ip: &str,
        dir: &Path,
        server_lines: &str,
        extra: &str,
        ports: (u16, u16),
        more_users: &[(String, String)],
    ) -> BenchServer {
        let config = format!(
            "[server]\nlog_level = \"warn\"\nidle_timeout_secs = 600\nlogin_failure_delay_ms = 1000\nmax_users = 0\n{server_lines}\
             [explicit]\nlisten = \"{ip}:0\"\nrequire_tls = false\n\
             [passive]\nport_min = {}\nport_max = {}\n{extra}",
            ports.0, ports.1
        );
        std::fs::write(dir.join("bench.toml"), config).unwrap();
        let cfg = ftpsd::Config::load(&dir.join("bench.toml")).unwrap();
        ftpsd::bootstrap::prepare(&cfg).unwrap();
        let mut users = UsersFile::load(&cfg.users_file()).unwrap();
        users.users.clear();
        users.users.push(UserEntry::new(
            "bench",
            ftpsd::users::password::hash("bench-pass"),
            "bench-home".into(),
            Rights::All,
        ));
        for (name, pass) in more_users {
            users.users.push(UserEntry::new(
                name,
                ftpsd::users::password::hash(pass),
                "bench-home".into(),
                Rights::All,
            ));
        }
        users.save().unwrap();
        let home = users.mounts_of(&users.users[0]).unwrap()[0].real.clone();
        std::fs::create_dir_all(&home).unwrap();
        let bin = bin();
        let spawned = std::time::Instant::now();
        let mut child = Command::new(bin)
            .args(["serve", "--config", "bench.toml"])
            .current_dir(dir)
            .env("RUST_LIB_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run target/release/ftpsd (cargo xtask bench builds it)");
        let stdout = child.stdout.take().unwrap();
        let explicit = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut addr = None;
            for line in lines.by_ref() {
                let line = line.unwrap();
                if let Some(rest) = line
                    .split("ftp://")
                    .nth(1)
                    .filter(|_| line.contains("explicit"))
                {
                    addr = Some(rest.trim().parse::<SocketAddr>().unwrap());
                    break;
                }
            }
            // Keep draining so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            addr.expect("server printed its address")
        })
        .await
        .unwrap();
        let started_in = spawned.elapsed();
        let (cert, key, _) = cfg.tls_paths();
        let pid = child.id();
        BenchServer {
            child: std::sync::Mutex::new(child),
            pid,
            explicit,
            cert,
            key,
            home,
            started_in,
            config: dir.join("bench.toml"),
        }
    }

    /// Server CPU time so far (user + system), in milliseconds.
    pub fn cpu_ms(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap();
        let after = stat.rsplit(')').next().unwrap();
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        ticks * 1000.0 / hz
    }

    pub fn rss_kib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    pub fn stop(&self) {
        let mut c = self.child.lock().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// A panicking benchmark must not leave servers behind (they would hold its output pipe open).
impl Drop for BenchServer {
    fn drop(&mut self) {
        self.stop();
    }
}
