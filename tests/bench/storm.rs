//! Login storm: waves of wrong passwords from 60 loopback addresses against the binary with
//! brute-force protection, while a legitimate client logs in again and again from its own
//! address. Prints peak server RSS and the legitimate logins' latency during the storm.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::server::BenchServer;

pub struct Storm {
    pub attempts: usize,
    /// Attempts with no answer within the wave's deadline (aborted, counted here).
    pub unanswered: usize,
    pub legit_logins: usize,
    pub legit_failed: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Logins of users whose password is not cached yet (each costs a real argon2 check).
    pub first_logins: usize,
    pub first_p50_ms: f64,
    pub first_p99_ms: f64,
    pub rss_idle_mib: f64,
    pub rss_peak_mib: f64,
}

fn peak_kib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Users that log in once each during the storm, so their check is a real argon2 one.
const FIRST_LOGINS: usize = 40;

pub async fn run(dir: &std::path::Path, waves: usize) -> Storm {
    let bfp = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/bfp.wasm");
    let extra = format!(
        "[[plugins]]\nname = \"bfp\"\npath = \"{}\"\nsettings = {{ safe_list = [\"127.0.0.200\"] }}\n",
        bfp.display()
    );
    let users: Vec<(String, String)> = (0..FIRST_LOGINS)
        .map(|i| (format!("user{i}"), format!("pass-{i}")))
        .collect();
    let srv = BenchServer::start_with_users(dir, &extra, (35000, 35999), &users).await;
    let tls = ftpsd_e2e::client::tls_config(&srv.cert);
    let rss_idle = peak_kib(srv.pid);
    let storming = Arc::new(AtomicBool::new(true));
    // The legitimate client: logs in over and over from a clean address while the storm runs.
    let legit = {
        let (tls, addr, storming, users) =
            (tls.clone(), srv.explicit, storming.clone(), users.clone());
        tokio::spawn(async move {
            let from: IpAddr = "127.0.0.201".parse().unwrap();
            let (mut times, mut first, mut failed) = (Vec::new(), Vec::new(), 0);
            let mut i = 0;
            while storming.load(Ordering::Relaxed) {
                // Every fourth login is a user logging in for the first time (argon2).
                // (Each from its own address, as people in different places.)
                let (user, pass, from) = if i % 4 == 0 && i / 4 < users.len() {
                    let (u, p) = users[i / 4].clone();
                    (u, p, format!("127.0.1.{}", i / 4 + 1).parse().unwrap())
                } else {
                    ("bench".to_string(), "bench-pass".to_string(), from)
                };
                let t = Instant::now();
                let code =
                    ftpsd_e2e::client::try_login(addr, tls.clone(), Some(from), &user, &pass).await;
                match code {
                    Some(230) if user == "bench" => times.push(t.elapsed()),
                    Some(230) => first.push(t.elapsed()),
                    other => {
                        failed += 1;
                        eprintln!("bench: legitimate login of {user} from {from}: {other:?}");
                    }
                }
                i += 1;
            }
            (times, first, failed)
        })
    };
    let (mut attempts, mut unanswered) = (0, 0);
    for wave in 0..waves {
        let mut tasks = Vec::new();
        for n in 0..300 {
            let from: IpAddr = format!("127.0.0.{}", 10 + n % 60).parse().unwrap();
            let (tls, addr) = (tls.clone(), srv.explicit);
            tasks.push(tokio::spawn(async move {
                ftpsd_e2e::client::try_login(
                    addr,
                    tls,
                    Some(from),
                    "bench",
                    &format!("w{wave}-{n}"),
                )
                .await
            }));
        }
        // One deadline for the whole wave: an attempt that never gets an answer is aborted and
        // counted, and cannot hold the others for a timeout each.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for mut t in tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
                unanswered += 1;
            }
            attempts += 1;
        }
    }
    storming.store(false, Ordering::Relaxed);
    let (mut times, mut first, failed) = legit.await.unwrap();
    times.sort();
    first.sort();
    let pick = |v: &[Duration], q: f64| {
        v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    let storm = Storm {
        attempts,
        unanswered,
        legit_logins: times.len(),
        legit_failed: failed,
        p50_ms: pick(&times, 0.5),
        p99_ms: pick(&times, 0.99),
        first_logins: first.len(),
        first_p50_ms: pick(&first, 0.5),
        first_p99_ms: pick(&first, 0.99),
        rss_idle_mib: rss_idle / 1024.0,
        rss_peak_mib: peak_kib(srv.pid) / 1024.0,
    };
    srv.stop();
    storm
}
