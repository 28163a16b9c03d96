//! Start-up and reload with the four bundled plugins: the first start compiles them (and keeps
//! the native code in `<data_dir>/plugins/compiled/`), later starts load the kept code; a reload
//! with no plugin change recompiles nothing.

use std::time::{Duration, Instant};

use crate::server::{BenchServer, bin};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub async fn run(dir: &std::path::Path) {
    let Some(all) = crate::plugins::bundled_config() else {
        println!("  bundled plugins missing (cargo xtask plugins)");
        return;
    };
    let dir = dir.join("startup");
    std::fs::create_dir_all(&dir).unwrap();
    let ports = (38000, 38099);
    // Without plugins: what TLS, the users file and the listeners cost by themselves.
    let bare_dir = dir.join("bare");
    std::fs::create_dir_all(&bare_dir).unwrap();
    let mut bare = Vec::new();
    for _ in 0..3 {
        let srv = BenchServer::start_with(&bare_dir, "", ports).await;
        bare.push(srv.started_in);
        srv.stop();
    }
    let srv = BenchServer::start_with(&dir, &all, ports).await;
    let cold = srv.started_in;
    srv.stop();
    let mut warm = Vec::new();
    for _ in 0..5 {
        let srv = BenchServer::start_with(&dir, &all, ports).await;
        warm.push(srv.started_in);
        srv.stop();
    }
    let srv = BenchServer::start_with(&dir, &all, ports).await;
    let mut reloads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = tokio::process::Command::new(bin())
            .args(["admin", "reload", "--config"])
            .arg(&srv.config)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "admin reload: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        reloads.push(t.elapsed());
    }
    srv.stop();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (warm, reload) = (median(warm), median(reloads));
    let verdict = |d: Duration, target: f64| if ms(d) < target { "ok" } else { "MISSED" };
    println!(
        "  start, no plugins (ceiling)              median {:>6.0} ms",
        ms(median(bare))
    );
    println!(
        "  start, four bundled plugins, first       {:>6.0} ms   (compiles and keeps them)",
        ms(cold)
    );
    println!(
        "  start, four bundled plugins, warm        median {:>6.0} ms   (target < 300 ms: {})",
        ms(warm),
        verdict(warm, 300.0)
    );
    println!(
        "  reload, no plugin change (ftpsd admin reload, as SIGHUP; CLI start included) median {:>4.0} ms   (target < 100 ms: {})",
        ms(reload),
        verdict(reload, 100.0)
    );
}
