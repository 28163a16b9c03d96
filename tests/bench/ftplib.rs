//! Python ftplib (OpenSSL, Nagle's algorithm on) with the usual session-reuse subclass: small
//! TLS 1.3 uploads against downloads of the same file. An upload whose handshake leaves the
//! client's Finished unacknowledged waits for the delayed ACK (~40 ms); the server acknowledges
//! at once, so an upload should cost about what a download does.

use crate::server::BenchServer;

const SCRIPT: &str = r#"
import ftplib, ssl, time, io, sys
class ReusedTLS(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
f = ReusedTLS(context=ctx)
f.connect("127.0.0.1", int(sys.argv[2])); f.login("bench", "bench-pass"); f.prot_p()
data = b"x" * 4096
n = int(sys.argv[3])
f.storbinary("STOR warm", io.BytesIO(data))
t = time.time()
for i in range(n): f.storbinary(f"STOR small{i}", io.BytesIO(data))
up = (time.time() - t) / n
t = time.time()
for i in range(n): f.retrbinary(f"RETR small{i}", lambda b: None)
down = (time.time() - t) / n
print(f"{up*1000:.3f} {down*1000:.3f}")
f.quit()
"#;

/// Milliseconds per small upload and per small download (TLS 1.3, 4 KiB).
pub async fn run(srv: &BenchServer, n: usize) -> Option<(f64, f64)> {
    let (cert, port) = (srv.cert.clone(), srv.explicit.port());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(cert)
            .arg(port.to_string())
            .arg(n.to_string())
            .output()
    })
    .await
    .ok()?
    .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    match (it.next().flatten(), it.next().flatten()) {
        (Some(up), Some(down)) => Some((up, down)),
        _ => {
            eprintln!(
                "bench: ftplib failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
    }
}
