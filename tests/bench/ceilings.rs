//! Ceilings measured in the same run: what the machine can do without ftpsd.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// One TCP stream over loopback, 1 MiB writes.
pub fn loopback_tcp_mbps(mib: usize) -> f64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0usize;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    });
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let buf = vec![7u8; 1 << 20];
    let t = Instant::now();
    for _ in 0..mib {
        s.write_all(&buf).unwrap();
    }
    drop(s);
    let total = reader.join().unwrap();
    mbps(total, t.elapsed())
}

/// CPU time per GiB of the sending thread of one loopback TCP stream (1 MiB writes from
/// memory; on loopback the sender's system calls also carry much of the delivery): the floor
/// for a plain download's server CPU. Best of three.
pub fn loopback_send_cpu_s_per_gib(mib: usize) -> f64 {
    (0..3)
        .map(|_| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let reader = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = vec![0u8; 1 << 20];
                while s.read(&mut buf).unwrap() > 0 {}
            });
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let buf = vec![7u8; 1 << 20];
            let before = thread_cpu_s();
            for _ in 0..mib {
                s.write_all(&buf).unwrap();
            }
            let spent = thread_cpu_s() - before;
            drop(s);
            reader.join().unwrap();
            spent / (mib as f64 / 1024.0)
        })
        .fold(f64::MAX, f64::min)
}

fn thread_cpu_s() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// AES-256-GCM sealing of 16 KiB records (the TLS record size) on one core.
pub fn aes_gcm_mbps(duration: Duration) -> f64 {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[9u8; 32]).unwrap());
    let mut record = vec![1u8; 16 * 1024];
    let t = Instant::now();
    let mut total = 0usize;
    let mut n = 0u64;
    while t.elapsed() < duration {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&n.to_be_bytes());
        n += 1;
        let _tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut record,
            )
            .unwrap();
        total += record.len();
    }
    mbps(total, t.elapsed())
}

/// Sequential 1 MiB writes, then fdatasync: what a durable upload costs the disk.
pub fn disk_write_mbps(dir: &Path, mib: usize) -> f64 {
    let path = dir.join("disk-ceiling.bin");
    let buf = vec![3u8; 1 << 20];
    let t = Instant::now();
    let mut f = std::fs::File::create(&path).unwrap();
    for _ in 0..mib {
        f.write_all(&buf).unwrap();
    }
    f.sync_data().unwrap();
    let r = mbps(mib << 20, t.elapsed());
    drop(f);
    let _ = std::fs::remove_file(path);
    r
}

pub fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// What curl itself can receive over one loopback connection: a minimal HTTP sender writing
/// `mib` MiB in 1 MiB writes from memory, curl downloading to /dev/null; with `tls`, the sender
/// is rustls (the server's certificate and key, as the server configures it) and curl decrypts.
/// A transfer close to this figure is limited by the client (and the machine), not by ftpsd.
pub async fn curl_receive_mbps(mib: usize, tls: Option<(&Path, &Path)>) -> f64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = tls.map(|(cert, key)| server_tls(cert, key));
    let sender = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let _ = tcp.set_nodelay(true);
        match config {
            Some(config) => {
                let conn = rustls::ServerConnection::new(config).unwrap();
                serve_http(rustls::StreamOwned::new(conn, tcp), mib)
            }
            None => serve_http(tcp, mib),
        }
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut c = std::process::Command::new("curl");
    c.args([
        "--silent",
        "--show-error",
        "--insecure",
        "-o",
        "/dev/null",
        "-w",
        CURL_DATA_PHASE,
    ])
    .arg(format!("{scheme}://localhost:{}/", addr.port()));
    let out = ftpsd_e2e::tools::run(c).await;
    let _ = sender.join();
    data_phase_mbps(&out.stdout)
}

/// curl's `-w` format for `data_phase_mbps`.
pub const CURL_DATA_PHASE: &str =
    "%{size_download} %{size_upload} %{time_pretransfer} %{time_total}";

/// MB/s of the transfer itself, from the moment curl is ready to transfer (connection, login,
/// TLS handshakes and FTP commands done) to its end (for uploads: the server's final reply,
/// so the server's fdatasync is included). curl's own speed figure also counts the set-up,
/// which on a 1 GiB transfer is noise (a few ms, or curl's 200 ms resolver poll now and then).
pub fn data_phase_mbps(curl_stdout: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(curl_stdout);
    let f: Vec<f64> = text
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    match f[..] {
        [down, up, pre, total] if total > pre => (down + up) / 1e6 / (total - pre),
        _ => 0.0,
    }
}

/// The best of `n` runs of a measurement: on a shared machine the best run is the one least
/// disturbed, for ceilings and for ftpsd alike.
pub async fn best_of<F: Future<Output = f64>>(n: usize, mut run: impl FnMut() -> F) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..n {
        best = best.max(run().await);
    }
    best
}

fn serve_http(mut s: impl Read + Write, mib: usize) {
    let mut req = [0u8; 4096];
    let _ = s.read(&mut req);
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        mib << 20
    );
    if s.write_all(header.as_bytes()).is_err() {
        return;
    }
    let buf = vec![5u8; 1 << 20];
    for _ in 0..mib {
        if s.write_all(&buf).is_err() {
            return;
        }
    }
    let _ = s.flush();
}

fn server_tls(cert: &Path, key: &Path) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    std::sync::Arc::new(config)
}
