//! An S3 mount against a local mount in the same run: curl FTPS STOR and RETR of the same
//! file to each, server CPU per GiB, and the server's resident memory while the object upload
//! runs (a multipart upload holds its parts in flight, not the file). The store is moto on
//! loopback; its own speed for the same file (curl PUT straight to it) is the ceiling.
//! A download cut short is then resumed with REST (curl -C -) and checked byte for byte.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ftpsd::users::file::{MountEntry, UsersFile};
use ftpsd_e2e::s3::S3Server;

use crate::server::BenchServer;

pub async fn run(dir: &Path, mib: usize) {
    println!();
    println!("== S3 mount vs local mount ({mib} MiB file, curl FTPS, store: moto on loopback) ==");
    let s3 = S3Server::start("bench").await;
    let extra = format!(
        "[s3]\nendpoint = \"{}\"\naccess_key_id = \"bench\"\nsecret_access_key = \"bench\"\n",
        s3.endpoint()
    );
    let srv = BenchServer::start_with(dir, &extra, (35000, 35999)).await;
    let cfg = ftpsd::Config::load(&srv.config).unwrap();
    let mut users = UsersFile::load(&cfg.users_file()).unwrap();
    users.users[0].mounts.push(MountEntry {
        path: "s3://bench/data".into(),
        at: "/s3".into(),
        rights: ftpsd::fs::Rights::All,
        quota_mb: None,
        mode: Default::default(),
    });
    users.save().unwrap();
    // The users file applies within a second: wait until the mount answers.
    let mut c = ftpsd_e2e::FtpClient::connect_explicit(srv.explicit, &srv.cert).await;
    c.login("bench", "bench-pass").await;
    drop(c);
    let ready = std::time::Instant::now();
    loop {
        let mut c = ftpsd_e2e::FtpClient::connect_explicit(srv.explicit, &srv.cert).await;
        c.login("bench", "bench-pass").await;
        if c.cmd("CWD /s3").await.code == 250 {
            break;
        }
        assert!(
            ready.elapsed().as_secs() < 30,
            "the S3 mount did not appear"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let src = dir.join("s3-source.bin");
    let block = ftpsd_e2e::pattern(1 << 20, 7);
    let mut f = std::fs::File::create(&src).unwrap();
    for _ in 0..mib {
        f.write_all(&block).unwrap();
    }
    drop(f);
    let bytes = (mib as f64) * 1048576.0;
    let gib = bytes / (1u64 << 30) as f64;

    // The store's own speed: curl PUT straight to moto.
    let direct = timed(|| {
        let out = Command::new("curl")
            .args(["-sS", "--fail"])
            .args(ftpsd_e2e::s3::SIGNED)
            .arg("-T")
            .arg(&src)
            .arg(format!("{}/bench/direct.bin", s3.endpoint()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    });
    let url = |p: &str| format!("ftp://{}/{p}", srv.explicit);
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--ssl-reqd", "--cacert"])
            .arg(&srv.cert)
            .args(["-u", "bench:bench-pass"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", ftpsd_e2e::tools::text(&out));
    };
    let s = src.to_str().unwrap().to_string();

    let idle_kib = srv.rss_kib();
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop, pid) = (peak.clone(), stop.clone(), srv.pid);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let (s3_stor, s3_stor_cpu) = measured(&srv, || curl(&["-T", &s, &url("s3/up.bin")]));
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let peak_kib = peak.load(Ordering::Relaxed) as f64;
    let (local_stor, local_stor_cpu) = measured(&srv, || curl(&["-T", &s, &url("up.bin")]));
    let (s3_retr, s3_retr_cpu) = measured(&srv, || curl(&["-o", "/dev/null", &url("s3/up.bin")]));
    let (local_retr, local_retr_cpu) =
        measured(&srv, || curl(&["-o", "/dev/null", &url("up.bin")]));

    // REST: a download cut at a third, resumed, compared.
    let part = dir.join("s3-part.bin");
    std::fs::write(&part, &std::fs::read(&src).unwrap()[..(mib << 20) / 3]).unwrap();
    curl(&["-C", "-", "-o", part.to_str().unwrap(), &url("s3/up.bin")]);
    let resumed_ok = files_equal(&part, &src);
    let _ = std::fs::remove_file(&part);
    let _ = std::fs::remove_file(srv.home.join("up.bin"));

    let mbps = |secs: f64| bytes / secs / 1e6;
    println!(
        "  store ceiling: curl PUT to moto       {:>8.0} MB/s",
        mbps(direct)
    );
    println!(
        "  STOR  S3 mount {:>8.0} MB/s  server {:>5.2} CPU-s/GiB   | local mount {:>8.0} MB/s  {:>5.2} CPU-s/GiB",
        mbps(s3_stor),
        s3_stor_cpu / 1000.0 / gib,
        mbps(local_stor),
        local_stor_cpu / 1000.0 / gib
    );
    println!(
        "  RETR  S3 mount {:>8.0} MB/s  server {:>5.2} CPU-s/GiB   | local mount {:>8.0} MB/s  {:>5.2} CPU-s/GiB",
        mbps(s3_retr),
        s3_retr_cpu / 1000.0 / gib,
        mbps(local_retr),
        local_retr_cpu / 1000.0 / gib
    );
    println!(
        "  server RSS during the S3 upload: peak {:.1} MB ({:+.1} MB over idle {:.1} MB, which holds the password checkers' argon2 memory); target: peak < 100 MB",
        peak_kib / 1024.0,
        (peak_kib - idle_kib) / 1024.0,
        idle_kib / 1024.0
    );
    println!(
        "  REST resume of the S3 download (curl -C - from {} MiB): {}",
        mib / 3,
        if resumed_ok {
            "complete, identical"
        } else {
            "DIFFERS"
        }
    );
    srv.stop();
}

fn timed(f: impl FnOnce()) -> f64 {
    let t = std::time::Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Wall seconds and server CPU milliseconds of one transfer.
fn measured(srv: &BenchServer, f: impl FnOnce()) -> (f64, f64) {
    let cpu = srv.cpu_ms();
    let secs = timed(f);
    (secs, srv.cpu_ms() - cpu)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn files_equal(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (Ok(fa), Ok(fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (mut ra, mut rb) = (std::io::BufReader::new(fa), std::io::BufReader::new(fb));
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = ra.read(&mut x).unwrap_or(0);
        let mut m = 0;
        while m < n {
            match rb.read(&mut y[m..n]) {
                Ok(0) | Err(_) => return false,
                Ok(k) => m += k,
            }
        }
        if n == 0 {
            return rb.read(&mut y).unwrap_or(1) == 0;
        }
        if x[..n] != y[..n] {
            return false;
        }
    }
}
