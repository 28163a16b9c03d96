//! `--cluster-only` (and part of the full run): what sharing state on Redis costs next to the
//! embedded redb store, measured in the same run (a store increment, the bfp login hook, a
//! whole login through the server), and sessions per second through HAProxy with 1 and 3
//! nodes (PROXY v2, round-robin, per-node passive slices; the same workload as the session
//! churn).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ftpsd::state::SharedStore;
use ftpsd_e2e::cluster::{Redis, free_port, haproxy_config_for, start_haproxy};
use ftpsd_plugin_sdk::{LoginEvent, Request};

use crate::server::BenchServer;

fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

fn stores(dir: &std::path::Path, redis: &Redis) -> Vec<(&'static str, SharedStore)> {
    vec![
        (
            "redb (embedded)",
            Arc::new(ftpsd::state::RedbStore::open(&dir.join("bench-kv.redb")).unwrap()),
        ),
        (
            "redis (loopback)",
            Arc::new(
                ftpsd::state::RedisStore::open(&redis.url(), "bench", Duration::from_secs(2))
                    .unwrap(),
            ),
        ),
    ]
}

pub async fn run(dir: &std::path::Path, sessions: usize) {
    println!();
    println!("== cluster: state on Redis vs redb (same run), sessions through HAProxy ==");
    let redis = Redis::start().await;
    let bfp_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/bfp.wasm");
    for (name, store) in stores(dir, &redis) {
        let s = store.clone();
        let incr: Vec<f64> = tokio::task::spawn_blocking(move || {
            (0..2000)
                .map(|i| {
                    let t = Instant::now();
                    s.incr(
                        "bench",
                        &format!("k{}", i % 50),
                        1,
                        None,
                        ftpsd::state::now_ms(),
                    )
                    .unwrap();
                    t.elapsed().as_secs_f64() * 1e6
                })
                .collect()
        })
        .await
        .unwrap();
        let (i50, i99) = p50_p99(incr);
        let section: ftpsd::plugins::PluginSection = toml::from_str(&format!(
            "name = \"bfp\"\npath = \"{}\"\n",
            bfp_path.display()
        ))
        .unwrap();
        let host = Arc::new(
            ftpsd::plugins::PluginHost::load(&[section], dir, store.clone(), None).unwrap(),
        );
        let p = host.list()[0].clone();
        let hook: Vec<f64> = tokio::task::spawn_blocking(move || {
            (0..2000)
                .map(|i| {
                    let req = Request::Login(LoginEvent {
                        ip: format!("10.9.{}.{}", i / 250, i % 250),
                        user: "bob".into(),
                        success: i % 4 != 0,
                        ..Default::default()
                    });
                    let t = Instant::now();
                    let _ = p.call(&req);
                    t.elapsed().as_secs_f64() * 1e6
                })
                .collect()
        })
        .await
        .unwrap();
        let (h50, h99) = p50_p99(hook);
        println!(
            "  {name:<18} store increment p50 {i50:>6.1} µs p99 {i99:>6.1} µs;  bfp login hook p50 {h50:>6.1} µs p99 {h99:>6.1} µs"
        );
    }
    // A whole login (connect, AUTH TLS, USER/PASS with bfp) on the real binary.
    for (name, state) in [
        ("redb", String::new()),
        (
            "redis",
            format!(
                "[state]\nbackend = \"{}\"\ncluster = \"bench\"\n",
                redis.url()
            ),
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        let extra = format!(
            "{state}[[plugins]]\nname = \"bfp\"\npath = \"{}\"\n",
            bfp_path.display()
        );
        let srv = BenchServer::start_with(d.path(), &extra, (35000, 35999)).await;
        let (p50, p99) = crate::sessions::login_latency(&srv, 200).await;
        println!("  login with bfp, {name:<6} (connect → 230) median {p50:.2} ms, p99 {p99:.2} ms");
        srv.stop();
    }
    for n in [1usize, 3] {
        let d = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for i in 0..n {
            let nd = d.path().join(format!("node{i}"));
            std::fs::create_dir_all(&nd).unwrap();
            let slice = (22000 + 1000 * i as u16, 22999 + 1000 * i as u16);
            let mut extra = format!(
                "advertise = \"127.0.0.1\"\n[proxy_protocol]\ntrusted = [\"127.0.0.1\"]\n[state]\nbackend = \"{}\"\ncluster = \"bench{n}\"\n",
                redis.url()
            );
            // One certificate for all nodes (node 0's).
            if let Some((first, _)) = nodes.first() {
                let first: &BenchServer = first;
                extra += &format!(
                    "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                    first.cert.display(),
                    first.key.display()
                );
            }
            let srv =
                BenchServer::start_on(&format!("127.0.0.{}", i + 2), &nd, &extra, slice, &[]).await;
            std::fs::write(srv.home.join("small.bin"), ftpsd_e2e::pattern(64 * 1024, 7)).unwrap();
            nodes.push((srv, slice));
        }
        let front = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
        let layout: Vec<_> = nodes.iter().map(|(s, sl)| (s.explicit, *sl)).collect();
        let cfg = haproxy_config_for(front, &layout);
        let _haproxy = start_haproxy(d.path(), &cfg, front).await;
        let cert = nodes[0].0.cert.clone();
        let (rate, errors, cpu) = churn(front, &cert, &nodes, sessions).await;
        println!(
            "  through HAProxy, {n} node(s): {rate:>6.0} sessions/s, {errors} errors, server CPU {cpu:.2} ms/session (all nodes)"
        );
        for (s, _) in &nodes {
            s.stop();
        }
    }
}

/// `total` sessions from 50 concurrent clients through the balancer at `front`.
async fn churn(
    front: std::net::SocketAddr,
    cert: &std::path::Path,
    nodes: &[(BenchServer, (u16, u16))],
    total: usize,
) -> (f64, usize, f64) {
    let tls = ftpsd_e2e::client::tls_config(cert);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let cpu0: f64 = nodes.iter().map(|(s, _)| s.cpu_ms()).sum();
    let t = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..50 {
        let (next, errors, tls) = (next.clone(), errors.clone(), tls.clone());
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let ok = crate::sessions::one_session(front, tls.clone()).await;
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = t.elapsed().as_secs_f64();
    let cpu: f64 = nodes.iter().map(|(s, _)| s.cpu_ms()).sum::<f64>() - cpu0;
    (
        total as f64 / elapsed,
        errors.load(Ordering::Relaxed),
        cpu / total as f64,
    )
}
