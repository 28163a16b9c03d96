//! A storm of wrong passwords from many addresses (127.0.0.x) against the real binary with
//! brute-force protection loaded: memory stays flat, the plugin is never quarantined, and
//! legitimate and safe-listed users still log in.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ftpsd_e2e::client::tls_config;
use ftpsd_e2e::tools::{binary_with, peak_rss};
use ftpsd_e2e::{FtpClient, bounded, built_plugin_path};

const STORM: usize = 300;
const ADDRESSES: usize = 60;

#[tokio::test]
async fn password_storm_from_60_addresses_keeps_memory_flat_and_users_get_in() {
    let bfp = built_plugin_path("bfp.wasm");
    let (dir, server, user, pass) = binary_with(
        "",
        &format!(
            "[[plugins]]\nname = \"bfp\"\npath = \"{}\"\nsettings = {{ safe_list = [\"127.0.0.200\"] }}\n",
            bfp.display()
        ),
    )
    .await;
    let addr = server.ftp;
    let pid = server.child.id();
    let cert = dir.path().join("data/tls/cert.pem");
    let tls = tls_config(&cert);
    let idle_rss = peak_rss(pid);

    let sent = Arc::new(AtomicUsize::new(0));
    let mut storm = Vec::new();
    for n in 0..STORM {
        let from: IpAddr = format!("127.0.0.{}", 10 + n % ADDRESSES).parse().unwrap();
        let (tls, user, sent) = (tls.clone(), user.clone(), sent.clone());
        storm.push(tokio::spawn(async move {
            sent.fetch_add(1, Ordering::Relaxed);
            // A reply within a minute, whatever the load (0: none came).
            let wrong = format!("wrong-{n}");
            let attempt = ftpsd_e2e::client::try_login(addr, tls, Some(from), &user, &wrong);
            tokio::time::timeout(Duration::from_secs(60), attempt)
                .await
                .unwrap_or(Some(0))
        }));
    }
    // Legitimate logins while the storm runs: a safe-listed address and a fresh one.
    ftpsd_e2e::until("the storm is under way", || {
        sent.load(Ordering::Relaxed) >= STORM / 2
    })
    .await;
    let mut waits = Vec::new();
    for from in ["127.0.0.200", "127.0.0.201", "127.0.0.200"] {
        let from: IpAddr = from.parse().unwrap();
        let started = Instant::now();
        let mut c = bounded(
            "a legitimate login during the storm",
            FtpClient::connect_explicit_from(Some(from), addr, tls_config(&cert)),
        )
        .await;
        c.cmd_ok(&format!("USER {user}"), 331).await;
        let r = c.cmd(&format!("PASS {pass}")).await;
        assert_eq!(r.code, 230, "{from}: {r:?}");
        waits.push(started.elapsed());
    }
    let mut codes = std::collections::BTreeMap::new();
    for t in storm {
        let code = t.await.unwrap();
        *codes.entry(code).or_insert(0) += 1;
    }
    let peak = peak_rss(pid);
    println!(
        "storm: {STORM} wrong passwords from {ADDRESSES} addresses: replies {codes:?}; \
         server RSS idle {} MB, peak {} MB; legitimate logins took {waits:?}",
        idle_rss >> 20,
        peak >> 20
    );
    assert!(peak < 200 << 20, "peak RSS {} MB", peak >> 20);
    assert!(
        codes
            .keys()
            .all(|c| matches!(c, Some(421) | Some(530) | None)),
        "{codes:?}"
    );
    for w in &waits {
        assert!(*w < Duration::from_secs(2), "legitimate login took {w:?}");
    }
    // The safe-listed address still logs in after the storm; bfp was never quarantined.
    let mut c = FtpClient::connect_explicit_from(
        Some("127.0.0.200".parse().unwrap()),
        addr,
        tls_config(&cert),
    )
    .await;
    c.login(&user, &pass).await;
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(
        !log.contains("quarantined"),
        "bfp quarantined during the storm"
    );
    let faults: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("plugin call failed"))
        .take(5)
        .collect();
    assert!(
        faults.is_empty(),
        "bfp faulted during the storm: {faults:#?}"
    );
    server.stop().await;
}
