//! A cluster on loopback, started by the test itself: a real `redis-server`, three ftpsd nodes
//! sharing it (`[state] backend = "redis://..."`) and a real `haproxy` in TCP mode in front,
//! sending PROXY v2 headers, balancing control connections round-robin and mapping each node's
//! passive slice to it. The nodes listen on 127.0.0.2, .3 and .4; HAProxy on 127.0.0.1, which
//! the nodes announce in their PASV replies.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{FtpClient, TestServer, bounded};

/// A port free right now on 127.0.0.1 (for programs that cannot report an ephemeral one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process ended with the test, even one that fails.
pub struct Process(pub Option<Child>);

impl Process {
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls until `addr` accepts a TCP connection (bounded).
pub async fn until_listening(what: &str, addr: SocketAddr) {
    bounded(what, async {
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// `redis-server` on a port of its own, no persistence.
pub struct Redis {
    pub port: u16,
    process: Process,
}

impl Redis {
    pub async fn start() -> Redis {
        let mut r = Redis {
            port: free_port(),
            process: Process(None),
        };
        r.restart().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts it again on the same port (after [`Redis::stop`]); the data is gone.
    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (cargo xtask test installs it)");
        self.process = Process(Some(child));
        until_listening(
            "redis-server",
            SocketAddr::from(([127, 0, 0, 1], self.port)),
        )
        .await;
    }

    pub fn stop(&mut self) {
        self.process.kill();
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) it: a Redis that hangs instead of refusing.
    pub fn freeze(&self, frozen: bool) {
        let pid = self.process.0.as_ref().expect("running").id() as i32;
        let sig = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(pid, sig) };
    }
}

/// The nodes, their balancer and their Redis.
pub struct Cluster {
    pub redis: Redis,
    pub nodes: Vec<Option<TestServer>>,
    pub haproxy: Process,
    /// The balancer's FTP address: what clients connect to.
    pub addr: SocketAddr,
    /// Folder shared by every node's users (their homes): the "shared storage".
    pub shared: tempfile::TempDir,
    pub cert: PathBuf,
    dir: tempfile::TempDir,
    /// One cluster at a time: every cluster's nodes and balancer use the same passive slices
    /// (HAProxy binds them with SO_REUSEPORT, so two would share each other's connections).
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

static TURN: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

/// The passive slice of node `i` (0-based): 100 ports each, outside the other tests' ranges
/// and below the kernel's ephemeral range (HAProxy binds them all at start, and a client
/// socket that happened to hold one would keep it from starting).
pub fn slice(i: usize) -> (u16, u16) {
    let min = 21000 + 100 * i as u16;
    (min, min + 99)
}

impl Cluster {
    /// Three nodes with the plugins and users (`users_toml`, `{SHARED}` for the shared folder)
    /// given, the Redis backend, and HAProxy in front.
    pub async fn start(plugins: &[(&str, Vec<u8>, String)], users_toml: &str) -> Cluster {
        Cluster::start_with(plugins, users_toml, |_, _| {}).await
    }

    /// Like [`Cluster::start`], with `tweak(i, config)` applied to node `i`'s config.
    pub async fn start_with(
        plugins: &[(&str, Vec<u8>, String)],
        users_toml: &str,
        tweak: impl Fn(usize, &mut ftpsd::Config) + Clone + 'static,
    ) -> Cluster {
        let turn = TURN.clone().lock_owned().await;
        let redis = Redis::start().await;
        let shared = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Ticket keys every node shares: a client resumes on whichever node it reaches.
        let ticket_keys = dir.path().join("ticket.key");
        let mut raw = [0u8; 32];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut raw)
            .unwrap();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&ticket_keys, hex + "\n").unwrap();
        std::fs::set_permissions(
            &ticket_keys,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let users = users_toml.replace("{SHARED}", &shared.path().display().to_string());
        let mut nodes: Vec<Option<TestServer>> = Vec::new();
        let mut cert_key: Option<(PathBuf, PathBuf)> = None;
        for i in 0..3 {
            let url = redis.url();
            let ck = cert_key.clone();
            let tk = ticket_keys.clone();
            let tweak = tweak.clone();
            let mut b = TestServer::builder().users_toml(&users).config(move |c| {
                let ip = format!("127.0.0.{}", i + 2);
                c.explicit.as_mut().unwrap().listen = format!("{ip}:0").parse().unwrap();
                c.implicit.as_mut().unwrap().listen = format!("{ip}:0").parse().unwrap();
                (c.passive.port_min, c.passive.port_max) = slice(i);
                c.passive.advertise = Some(ftpsd::config::network::PassiveAddress::Ip(
                    [127, 0, 0, 1].into(),
                ));
                c.proxy_protocol.trusted = vec!["127.0.0.1".parse().unwrap()];
                c.state.backend = url;
                c.state.cluster = "test".into();
                c.tls.ticket_key_file = Some(tk);
                if let Some((cert, key)) = ck {
                    c.tls.cert = Some(cert);
                    c.tls.key = Some(key);
                }
                tweak(i, c);
            });
            for (name, wasm, extra) in plugins {
                b = b.plugin(name, wasm.clone(), extra);
            }
            let node = b.start().await;
            if cert_key.is_none() {
                // One certificate for all, kept by the cluster (node 0 may be killed).
                let (cert, key, _) = node.config.tls_paths();
                let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
                std::fs::copy(cert, &c).unwrap();
                std::fs::copy(key, &k).unwrap();
                cert_key = Some((c, k));
            }
            nodes.push(Some(node));
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let cfg = haproxy_config(addr, &nodes);
        let haproxy = start_haproxy(dir.path(), &cfg, addr).await;
        let cert = cert_key.unwrap().0;
        Cluster {
            redis,
            nodes,
            haproxy,
            addr,
            shared,
            cert,
            dir,
            _turn: turn,
        }
    }

    pub fn node(&self, i: usize) -> &TestServer {
        self.nodes[i].as_ref().expect("node running")
    }

    /// Takes node `i` away at once: no more connections, its sessions closed without a grace
    /// period (in-process, so the nearest thing to a machine that dies).
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut n) = self.nodes[i].take() {
            let addr = n.explicit();
            n.server.shutdown(Duration::ZERO).await;
            drop(n);
            // Gone means refused: the balancer then retries another node at once.
            bounded("the node's listener closes", async {
                while tokio::net::TcpStream::connect(addr).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
        }
    }

    /// A client at `source` (127.0.0.x), through the balancer, logged in with PROT P and TYPE I.
    pub async fn login_from(&self, source: &str, user: &str, pass: &str) -> FtpClient {
        let mut c = self.connect_from(source).await;
        c.login(user, pass).await;
        c.protect().await;
        c.cmd_ok("TYPE I", 200).await;
        c
    }

    /// A client at `source`, through the balancer, after AUTH TLS.
    pub async fn connect_from(&self, source: &str) -> FtpClient {
        FtpClient::connect_explicit_from(
            Some(source.parse().unwrap()),
            self.addr,
            crate::client::tls_config(&self.cert),
        )
        .await
    }

    pub fn haproxy_config_path(&self) -> PathBuf {
        self.dir.path().join("haproxy.cfg")
    }

    pub fn shared(&self) -> &Path {
        self.shared.path()
    }
}

/// The HAProxy configuration the README shows, with the test's addresses.
pub fn haproxy_config(front: SocketAddr, nodes: &[Option<TestServer>]) -> String {
    let nodes: Vec<(SocketAddr, (u16, u16))> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_ref().unwrap().explicit(), slice(i)))
        .collect();
    haproxy_config_for(front, &nodes)
}

/// HAProxy in front of `nodes` (control address, passive slice): PROXY v2 to every node,
/// control connections round-robin, each slice to its node on the same port.
pub fn haproxy_config_for(front: SocketAddr, nodes: &[(SocketAddr, (u16, u16))]) -> String {
    let mut c = String::from(
        "global\n    maxconn 4096\n\ndefaults\n    mode tcp\n    timeout connect 5s\n    timeout client 2h\n    timeout server 2h\n    # A node that is down: the connection is retried on another one.\n    retries 2\n    option redispatch 1\n\n",
    );
    c += &format!("frontend ftp\n    bind {front}\n    default_backend ftp_nodes\n\n");
    c += "backend ftp_nodes\n    balance roundrobin\n";
    for (i, (a, _)) in nodes.iter().enumerate() {
        c += &format!("    server node{i} {a} send-proxy-v2 source 127.0.0.1\n");
    }
    for (i, (a, (min, max))) in nodes.iter().enumerate() {
        c += &format!(
            "\nfrontend passive{i}\n    bind {}:{min}-{max}\n    default_backend passive{i}\n\nbackend passive{i}\n    server node{i} {} send-proxy-v2 source 127.0.0.1\n",
            front.ip(),
            a.ip()
        );
    }
    c
}

/// Starts haproxy on `cfg` (written into `dir`) and waits until `front` accepts; a haproxy
/// that exits says why.
pub async fn start_haproxy(dir: &Path, cfg: &str, front: SocketAddr) -> Process {
    std::fs::write(dir.join("haproxy.cfg"), cfg).unwrap();
    let log = dir.join("haproxy.log");
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(dir.join("haproxy.cfg"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("haproxy (cargo xtask test installs it)");
    let mut haproxy = Process(Some(child));
    bounded("haproxy listens", async {
        while tokio::net::TcpStream::connect(front).await.is_err() {
            if let Some(status) = haproxy.0.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!(
                    "haproxy exited ({status}): {}\n{cfg}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    haproxy
}
