//! Session churn as most real clients make it: OpenSSL (Python's ssl and ftplib with the usual
//! session-reuse subclass), each session connect, AUTH TLS, login, PBSZ/PROT P, PASV, LIST,
//! RETR 64 KiB, QUIT, at 50 and 200 at once. Where the server's CPU goes is told by running
//! the same churn cut short after each step and taking the differences: the full TLS
//! handshake, the login (cached password check), a protected LIST with its data connection and
//! resumed handshake, and the 64 KiB RETR with its own.

use std::time::Instant;

use crate::server::BenchServer;

/// The client: threads (OpenSSL releases the GIL in handshakes and I/O), each running sessions
/// until the shared count is reached. Prints `errors first-error`.
const SCRIPT: &str = r#"
import ftplib, ssl, sys, threading, io
cert, port, threads, total, stage = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
class ReusedTLS(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
lock = threading.Lock()
state = {"next": 0, "errors": 0, "first": ""}
def session():
    f = ReusedTLS(context=ctx, timeout=30)
    f.connect("127.0.0.1", port)
    f.auth()
    if stage != "tls":
        f.login("bench", "bench-pass")
    if stage in ("list", "full"):
        f.prot_p()
        lines = []
        f.retrlines("LIST", lines.append)
        assert lines, "empty listing"
    if stage == "full":
        got = []
        f.retrbinary("RETR small.bin", got.append)
        assert sum(map(len, got)) == 65536, "short RETR"
    f.quit()
def worker():
    while True:
        with lock:
            if state["next"] >= total:
                return
            state["next"] += 1
        try:
            session()
        except Exception as e:
            with lock:
                state["errors"] += 1
                if not state["first"]:
                    state["first"] = repr(e)
ts = [threading.Thread(target=worker) for _ in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(state["errors"], state["first"])
"#;

/// One churn of `total` sessions cut after `stage`, `concurrency` at once.
pub struct Churn {
    pub errors: usize,
    pub first_error: String,
    pub per_second: f64,
    pub cpu_ms_per_session: f64,
}

/// The steps a session is cut after, in order; each adds what the previous lacks.
pub const STAGES: [(&str, &str); 4] = [
    ("tls", "connect + AUTH TLS (full handshake) + QUIT"),
    ("login", "+ USER/PASS (cached password check)"),
    (
        "list",
        "+ PBSZ/PROT P + PASV + LIST (data connection, resumed handshake)",
    ),
    ("full", "+ PASV + RETR 64 KiB (another data connection)"),
];

pub async fn churn(srv: &BenchServer, stage: &str, total: usize, concurrency: usize) -> Churn {
    std::fs::write(srv.home.join("small.bin"), ftpsd_e2e::pattern(64 * 1024, 7)).unwrap();
    let (cert, port) = (srv.cert.clone(), srv.explicit.port());
    let stage = stage.to_string();
    let cpu0 = srv.cpu_ms();
    let t = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(cert)
            .arg(port.to_string())
            .arg(concurrency.to_string())
            .arg(total.to_string())
            .arg(stage)
            .output()
            .expect("python3")
    })
    .await
    .unwrap();
    let elapsed = t.elapsed().as_secs_f64();
    let cpu = srv.cpu_ms() - cpu0;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (errors, first) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    Churn {
        errors: errors.parse().unwrap_or_else(|_| {
            eprintln!(
                "bench: python client failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            total
        }),
        first_error: first.to_string(),
        per_second: total as f64 / elapsed,
        cpu_ms_per_session: cpu / total as f64,
    }
}
