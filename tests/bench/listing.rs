//! A folder of 100,000 files listed with LIST, NLST and MLSD over TLS: the server's peak
//! resident memory during each listing above what it held just before (peak reset through
//! /proc/PID/clear_refs, so each listing's own peak is read), and the time each takes.

use std::time::Instant;

use crate::server::BenchServer;

pub struct Figure {
    pub verb: &'static str,
    pub bytes: usize,
    pub secs: f64,
    pub peak_above_kib: f64,
}

pub async fn run(srv: &BenchServer, entries: usize) -> Vec<Figure> {
    let dir = srv.home.join("listing-bench");
    if !dir.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..entries {
            std::fs::File::create(dir.join(format!("file-{i:06}.bin"))).unwrap();
        }
    }
    let mut c = ftpsd_e2e::FtpClient::connect_explicit(srv.explicit, &srv.cert).await;
    c.login("bench", "bench-pass").await;
    c.protect().await;
    // Warm: the directory's inodes cached, the allocator settled by one listing.
    c.list("NLST listing-bench").await;
    let mut out = Vec::new();
    for verb in ["LIST", "NLST", "MLSD"] {
        let before = srv.rss_kib();
        reset_peak(srv.pid);
        let t = Instant::now();
        let text = c.list(&format!("{verb} listing-bench")).await;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(text.lines().count(), entries, "{verb}");
        out.push(Figure {
            verb,
            bytes: text.len(),
            secs,
            peak_above_kib: peak_kib(srv.pid) - before,
        });
    }
    out
}

/// Resets the process's peak RSS (VmHWM) to its current RSS.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn peak_kib(pid: u32) -> f64 {
    ftpsd_e2e::tools::peak_rss(pid) as f64 / 1024.0
}
