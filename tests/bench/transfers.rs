//! Single-stream RETR and STOR with curl, FTPS (PROT P) and plain FTP.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use crate::server::BenchServer;

pub struct Figures {
    pub ftps_retr: f64,
    /// FTPS RETR with a rustls client reading 1 MiB at a time instead of curl.
    pub ftps_retr_rustls: f64,
    /// FTPS RETR whose client reads the ciphertext without decrypting it: what the server
    /// itself sends when the client costs next to nothing (as the loopback TCP reader).
    pub ftps_retr_server_side: f64,
    pub ftps_stor: f64,
    /// The same upload to a server with `sync_uploads = false`: what the fsync costs.
    pub ftps_stor_unsynced: f64,
    pub plain_retr: f64,
    pub plain_stor: f64,
    pub plain_stor_unsynced: f64,
    /// How busy curl and the server were during one more FTPS RETR: which side is the limit.
    pub ftps_retr_load: Load,
    pub plain_retr_load: Load,
    pub ftps_stor_load: Load,
}

/// CPU time of curl and of the server during one transfer, each as a share of one core over
/// curl's run. The side near 100 % is the one that sets the speed.
pub struct Load {
    pub curl_busy: f64,
    pub server_busy: f64,
    /// Server CPU time (user + system) per GiB moved.
    pub server_cpu_s_per_gib: f64,
}

pub async fn run(srv: &BenchServer, dir: &Path, mib: usize) -> Figures {
    let unsynced_dir = tempfile::tempdir().expect("tempdir");
    let unsynced = BenchServer::start_unsynced(unsynced_dir.path(), (36000, 36999)).await;
    let block = ftpsd_e2e::pattern(1 << 20, 42);
    let src = dir.join("source.bin");
    let mut f = std::fs::File::create(&src).unwrap();
    for _ in 0..mib {
        f.write_all(&block).unwrap();
    }
    drop(f);
    std::fs::copy(&src, srv.home.join("big.bin")).unwrap();
    // Flush the dirty pages now, so writeback does not compete with the measured transfers.
    let _ = Command::new("sync").status();
    let url = |name: &str| format!("ftp://{}/{name}", srv.explicit);
    let ftps_retr = curl(srv, &["--ssl-reqd", "-o", "/dev/null", &url("big.bin")]).await;
    let ftps_retr_rustls =
        crate::ceilings::best_of(3, || rustls_client_retr_mbps(srv, "big.bin", true)).await;
    let ftps_retr_server_side =
        crate::ceilings::best_of(3, || rustls_client_retr_mbps(srv, "big.bin", false)).await;
    let plain_retr = curl(srv, &["-o", "/dev/null", &url("big.bin")]).await;
    let bytes = (mib as f64) * 1048576.0;
    let ftps_retr_load = load(
        srv,
        bytes,
        &["--ssl-reqd", "-o", "/dev/null", &url("big.bin")],
    )
    .await;
    let plain_retr_load = load(srv, bytes, &["-o", "/dev/null", &url("big.bin")]).await;
    let ftps_stor = curl(
        srv,
        &[
            "--ssl-reqd",
            "-T",
            src.to_str().unwrap(),
            &url("up-tls.bin"),
        ],
    )
    .await;
    let ftps_stor_load = load(
        srv,
        bytes,
        &[
            "--ssl-reqd",
            "-T",
            src.to_str().unwrap(),
            &url("up-tls.bin"),
        ],
    )
    .await;
    let plain_stor = curl(srv, &["-T", src.to_str().unwrap(), &url("up-plain.bin")]).await;
    let unsynced_url = |name: &str| format!("ftp://{}/{name}", unsynced.explicit);
    let ftps_stor_unsynced = curl(
        &unsynced,
        &[
            "--ssl-reqd",
            "-T",
            src.to_str().unwrap(),
            &unsynced_url("up-tls.bin"),
        ],
    )
    .await;
    let plain_stor_unsynced = curl(
        &unsynced,
        &["-T", src.to_str().unwrap(), &unsynced_url("up-plain.bin")],
    )
    .await;
    for home in [&srv.home, &unsynced.home] {
        for name in ["up-tls.bin", "up-plain.bin"] {
            let len = std::fs::metadata(home.join(name))
                .map(|m| m.len())
                .unwrap_or(0);
            assert_eq!(len, (mib as u64) << 20, "{name} arrived complete");
            let _ = std::fs::remove_file(home.join(name));
        }
    }
    unsynced.stop();
    Figures {
        ftps_retr,
        ftps_retr_rustls,
        ftps_retr_server_side,
        ftps_stor,
        ftps_stor_unsynced,
        plain_retr,
        plain_stor,
        plain_stor_unsynced,
        ftps_retr_load,
        plain_retr_load,
        ftps_stor_load,
    }
}

/// Runs curl once more and measures who was busy. curl's CPU time comes from
/// `RUSAGE_CHILDREN`, which grows by exactly the children reaped meanwhile: only this curl, as
/// the bench runs one client at a time here and the server is reaped at the end. Both are
/// divided by the data phase, not curl's whole run, so that a stall before the transfer (curl's
/// occasional 200 ms resolver poll, when neither side works) does not hide who was busy.
/// The run of three with the least server CPU, as the speeds are best of three.
async fn load(srv: &BenchServer, bytes: f64, args: &[&str]) -> Load {
    let mut best = load_once(srv, bytes, args).await;
    for _ in 0..2 {
        let l = load_once(srv, bytes, args).await;
        if l.server_cpu_s_per_gib < best.server_cpu_s_per_gib {
            best = l;
        }
    }
    best
}

async fn load_once(srv: &BenchServer, bytes: f64, args: &[&str]) -> Load {
    let children_before = children_cpu_ms();
    let server_before = srv.cpu_ms();
    let mbps = curl_once(srv, args).await;
    let data_ms = bytes / mbps / 1000.0;
    let server_ms = srv.cpu_ms() - server_before;
    Load {
        curl_busy: 100.0 * (children_cpu_ms() - children_before) / data_ms,
        server_busy: 100.0 * server_ms / data_ms,
        server_cpu_s_per_gib: server_ms / 1000.0 / (bytes / (1u64 << 30) as f64),
    }
}

fn children_cpu_ms() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}

/// Best of three runs, like the ceilings.
pub async fn curl(srv: &BenchServer, args: &[&str]) -> f64 {
    crate::ceilings::best_of(3, || curl_once(srv, args)).await
}

/// Runs curl once and returns the speed of its data phase in MB/s.
async fn curl_once(srv: &BenchServer, args: &[&str]) -> f64 {
    let mut c = Command::new("curl");
    c.args(["--silent", "--show-error", "--cacert"])
        .arg(&srv.cert)
        .args(["-u", "bench:bench-pass", "-w"])
        .arg(crate::ceilings::CURL_DATA_PHASE)
        .args(args);
    let out = ftpsd_e2e::tools::run(c).await;
    assert!(out.status.success(), "{}", ftpsd_e2e::tools::text(&out));
    crate::ceilings::data_phase_mbps(&out.stdout)
}

/// FTPS RETR (PROT P) of `name` by the tests' rustls client in this process, reading 1 MiB at
/// a time: what the server sends when the client is not the limit. Timed from RETR to 226.
/// Without `decrypt`, the client reads the raw records after the handshake and drops them.
async fn rustls_client_retr_mbps(srv: &BenchServer, name: &str, decrypt: bool) -> f64 {
    use tokio::io::AsyncReadExt;
    let mut c = ftpsd_e2e::FtpClient::connect_explicit(srv.explicit, &srv.cert).await;
    c.login("bench", "bench-pass").await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    let size = std::fs::metadata(srv.home.join(name)).unwrap().len() as usize;
    let started = std::time::Instant::now();
    let (_, conn) = c
        .open_transfer(&format!("RETR {name}"))
        .await
        .expect("RETR accepted");
    let mut buf = vec![0u8; 1 << 20];
    match conn {
        ftpsd_e2e::client::DataConn::Tls(tls) if !decrypt => {
            let (mut tcp, _) = tls.into_inner();
            while tcp.read(&mut buf).await.expect("data read") > 0 {}
        }
        mut conn => while conn.read(&mut buf).await.expect("data read") > 0 {},
    }
    let done = c.read_reply().await;
    assert_eq!(done.code, 226, "{done:?}");
    crate::ceilings::mbps(size, started.elapsed())
}
