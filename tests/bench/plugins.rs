//! Plugin figures: hook round trip (direct and through the async gate) for a no-op plugin and
//! for the SDK-built office-hours plugin with a realistic upload event, and hot-swap latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ftpsd_e2e::wat::{Behavior, plugin};
use ftpsd_plugin_sdk::{Request, UploadEvent};

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)])
}

fn event() -> Request {
    Request::Upload(UploadEvent {
        ip: "192.0.2.10".into(),
        user: "bob".into(),
        path: "/incoming/2026/report final.pdf".into(),
        command: "STOR".into(),
        groups: vec!["staff".into()],
    })
}

async fn measure(name: &str, wasm: Vec<u8>, settings: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.wasm");
    std::fs::write(&path, wasm).unwrap();
    let section: ftpsd::plugins::PluginSection = toml::from_str(&format!(
        "name = \"p\"\npath = \"{}\"\n{settings}\n",
        path.display()
    ))
    .unwrap();
    let kv: ftpsd::state::SharedStore = Arc::new(ftpsd::state::MemoryStore::default());
    let host = Arc::new(ftpsd::plugins::PluginHost::load(&[section], dir.path(), kv).unwrap());
    let p = host.list()[0].clone();
    let req = event();
    for _ in 0..1000 {
        let _ = p.call(&req);
    }
    let direct: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let _ = p.call(&req);
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let mut gated = Vec::with_capacity(n / 4);
    for _ in 0..n / 4 {
        let t = Instant::now();
        let _ = host.gate(req.clone()).await;
        gated.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (d50, d99) = percentiles(direct);
    let (g50, g99) = percentiles(gated);
    let ok = if d50 < 5.0 { "ok" } else { "MISSED" };
    println!(
        "  {name:<34} direct p50 {d50:>6.2} µs  p99 {d99:>6.2} µs (target p50 < 5 µs: {ok});  via session gate p50 {g50:>6.1} µs  p99 {g99:>6.1} µs"
    );
}

pub async fn run() {
    measure(
        "no-op hook (WAT)",
        plugin("noop", &["upload"], Behavior::Allow),
        "",
        20_000,
    )
    .await;
    let oh = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/plugins/office_hours.wasm");
    match std::fs::read(&oh) {
        Ok(bytes) => {
            measure(
                "upload event, office-hours (SDK)",
                bytes,
                "settings = { start_hour = 0, end_hour = 24 }",
                20_000,
            )
            .await
        }
        Err(_) => println!(
            "  office-hours: {} missing (cargo xtask plugins)",
            oh.display()
        ),
    }
    swap_latency().await;
}

/// Time from renaming a new .wasm into place to the new version answering.
async fn swap_latency() {
    let srv = ftpsd_e2e::TestServer::builder()
        .plugin("swap", plugin("swap", &["upload"], Behavior::Allow), "")
        .start()
        .await;
    let path = srv.plugin_path("swap");
    let mut samples = Vec::new();
    for k in 0..10 {
        let code = if k % 2 == 0 { 553 } else { 550 };
        let bytes = plugin("swap", &["upload"], Behavior::Deny(code, "v"));
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &bytes).unwrap();
        let t = Instant::now();
        std::fs::rename(&tmp, &path).unwrap();
        loop {
            let d = srv.server.ctx.plugins.gate(event()).await;
            if matches!(d, ftpsd::plugins::Decision::Deny { code: c, .. } if c == code) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "swap never happened");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p99) = percentiles(samples);
    let ok = if p99 < 250.0 { "ok" } else { "MISSED" };
    println!(
        "  hot swap, write → new version answers   median {p50:.0} ms, max {p99:.0} ms (target < 250 ms: {ok}; includes 50 ms debounce)"
    );
}
