//! Bandwidth limits against their target: the server-wide limit (one bucket for every
//! transfer in a direction) with 1 and 4 parallel FTPS transfers (Rust client), up and down,
//! each over ~3 s. The figure is the aggregate rate the clients saw against the configured
//! limit (target: within 5 %). Per-user and per-group limits are the same buckets, keyed by
//! the user or group instead of the server.

use std::time::Instant;

use crate::server::BenchServer;

const SECS: f64 = 3.0;

async fn parallel(srv: &BenchServer, n: usize, each: usize, upload: bool) -> f64 {
    let data = std::sync::Arc::new(ftpsd_e2e::pattern(each, 3));
    if !upload {
        for i in 0..n {
            std::fs::write(srv.home.join(format!("bw{i}.bin")), &*data).unwrap();
        }
    }
    let mut clients = Vec::new();
    for _ in 0..n {
        let mut c = ftpsd_e2e::FtpClient::connect_explicit(srv.explicit, &srv.cert).await;
        c.login("bench", "bench-pass").await;
        c.protect().await;
        c.cmd_ok("TYPE I", 200).await;
        clients.push(c);
    }
    let t = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            let data = data.clone();
            tokio::spawn(async move {
                let name = format!("bw{i}.bin");
                if upload {
                    c.stor(&name, &data).await;
                } else {
                    assert_eq!(c.retr(&name).await.len(), data.len());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (n * each) as f64 / t.elapsed().as_secs_f64()
}

pub async fn run(dir: &std::path::Path) {
    for (kib_s, label) in [(2048u64, "2 MiB/s"), (40 * 1024, "40 MiB/s")] {
        let d = dir.join(format!("bandwidth-{kib_s}"));
        std::fs::create_dir_all(&d).unwrap();
        let limit = (kib_s * 1024) as f64;
        let limited = BenchServer::start_with(
            &d,
            &format!("[bandwidth]\ndownload_kib_s = {kib_s}\nupload_kib_s = {kib_s}\n"),
            (38100, 38199),
        )
        .await;
        for upload in [false, true] {
            for n in [1usize, 4] {
                let each = (limit * SECS / n as f64) as usize;
                let rate = parallel(&limited, n, each, upload).await;
                let off = (rate / limit - 1.0) * 100.0;
                let verdict = if off.abs() <= 5.0 { "ok" } else { "MISSED" };
                println!(
                    "  server limit {label:>8}, {n} parallel {:<8} {:>7.2} MiB/s ({off:+.1} % of the limit; target within 5 %: {verdict})",
                    if upload { "uploads" } else { "downloads" },
                    rate / 1048576.0
                );
            }
        }
        limited.stop();
    }
}
