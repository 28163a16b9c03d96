//! Plugins under attack and under operators' hands: a replaced or removed file never opens a
//! gap, a broken file never stops a restart, garbage is refused by its magic number with a
//! short message, host calls are budgeted, and a busy machine does not make a healthy plugin
//! fault.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::wat::{Behavior, plugin};
use ftpsd_e2e::{TestServer, built_plugin, until};

const BLOCK_EXE: &str = "settings = { patterns = [\"*.exe\"] }";

fn exe_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".exe"))
        .collect()
}

#[tokio::test]
async fn rm_and_cp_of_a_plugin_never_lets_a_blocked_upload_through() {
    let srv = TestServer::builder()
        .plugin("block-ext", built_plugin("block_ext.wasm"), BLOCK_EXE)
        .start()
        .await;
    let uploads = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut c = srv.alice().await;
    let (u, st) = (uploads.clone(), stop.clone());
    let uploader = tokio::spawn(async move {
        let mut codes = Vec::new();
        let mut i = 0;
        while !st.load(Ordering::Relaxed) {
            codes.push(c.upload(&format!("STOR tool{i}.exe"), b"MZ").await.code);
            u.fetch_add(1, Ordering::Relaxed);
            i += 1;
        }
        codes
    });
    let path = srv.plugin_path("block-ext");
    let wasm = built_plugin("block_ext.wasm");
    let reloads = srv.server.ctx.plugin_reloads.clone();
    let seen = || reloads.lock().unwrap().len();
    for _ in 0..5 {
        let before = seen();
        std::fs::remove_file(&path).unwrap();
        until("the removal is noticed", || seen() > before).await;
        // Uploads go on between `rm` and `cp` (the gap an operator's deploy leaves).
        let done = uploads.load(Ordering::Relaxed);
        until("uploads while the file is gone", || {
            uploads.load(Ordering::Relaxed) >= done + 3
        })
        .await;
        let before = seen();
        std::fs::write(&path, &wasm).unwrap();
        until("the new file is loaded", || {
            reloads.lock().unwrap()[before..]
                .iter()
                .any(|(_, r)| r.is_ok())
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    let codes = uploader.await.unwrap();
    assert!(codes.len() >= 15, "{codes:?}");
    assert!(
        codes.iter().all(|c| *c == 553),
        "every .exe upload refused: {codes:?}"
    );
    assert!(exe_files(&srv.home("alice")).is_empty());
}

#[tokio::test]
async fn a_broken_or_missing_plugin_file_at_restart_starts_from_the_last_good_version() {
    let srv = TestServer::builder()
        .plugin("block-ext", built_plugin("block_ext.wasm"), BLOCK_EXE)
        .start()
        .await;
    let path = srv.plugin_path("block-ext");
    let kept = srv
        .config
        .data_dir()
        .join("plugins/last-good/block-ext.wasm");
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        built_plugin("block_ext.wasm")
    );
    // Truncated in place, then a restart: the server starts, the policy holds.
    let stopped = srv.stop().await;
    let wasm = std::fs::read(&path).unwrap();
    std::fs::write(&path, &wasm[..wasm.len() / 3]).unwrap();
    let srv = stopped.start().await;
    let mut c = srv.alice().await;
    assert_eq!(c.upload("STOR a.exe", b"MZ").await.code, 553);
    c.cmd_ok("QUIT", 221).await;
    drop(c);
    // Missing altogether: the same.
    let stopped = srv.stop().await;
    std::fs::remove_file(&path).unwrap();
    let srv = stopped.start().await;
    let mut c = srv.alice().await;
    assert_eq!(c.upload("STOR b.exe", b"MZ").await.code, 553);
    c.stor("fine.txt", b"ok").await;
    assert!(exe_files(&srv.home("alice")).is_empty());
}

#[tokio::test]
async fn non_wasm_files_are_refused_by_their_magic_number_with_a_short_message() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = dir.path().join("zeros.wasm");
    std::fs::write(&zeros, vec![0u8; 100 << 20]).unwrap();
    let binary = dir.path().join("garbage.wasm");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x01, 0x80, 0x81]).unwrap();
    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, b"").unwrap();
    for (file, expect) in [
        (&zeros, "plugins are at most 64 MiB"),
        (&binary, "this one with ff fe 00 01"),
        (&empty, "this one is empty"),
    ] {
        let out = run({
            let mut c = std::process::Command::new(ftpsd_bin());
            c.args(["plugin", "check"]).arg(file);
            c
        })
        .await;
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{}", text(&out));
        assert!(err.contains(expect), "{}", text(&out));
        assert!(err.len() < 1000, "short: {} bytes", err.len());
        assert!(!err.contains("utf-8"), "{err}");
    }
    // Just under the size cap, zeros are not a module either: refused before compiling.
    let zeros = dir.path().join("zeros2.wasm");
    std::fs::write(&zeros, vec![0u8; 1 << 20]).unwrap();
    let mut c = std::process::Command::new(ftpsd_bin());
    c.args(["plugin", "check"]).arg(&zeros);
    let out = run(c).await;
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("not a valid WebAssembly module"),
        "{}",
        text(&out)
    );
    assert!(err.len() < 1000, "short: {} bytes", err.len());
}

#[tokio::test]
async fn host_calls_are_budgeted_and_state_is_capped() {
    let value = "v".repeat(1000);
    let set = format!(r#"{{"op":"kv_set","key":"kAA","value":"{value}","ttl_ms":null}}"#);
    let log = format!(
        r#"{{"op":"log","level":"info","message":"{}"}}"#,
        "x".repeat(2000)
    );
    let srv = TestServer::builder()
        .plugin(
            "hoarder",
            plugin(
                "hoarder",
                &["upload"],
                Behavior::HostLoop {
                    call: set,
                    vary_at: Some(23),
                },
            ),
            "state_quota_kb = 16\ntimeout_ms = 2000",
        )
        .plugin(
            "chatty",
            plugin(
                "chatty",
                &["command"],
                Behavior::HostLoop {
                    call: log,
                    vary_at: None,
                },
            ),
            "timeout_ms = 2000",
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    // An endless loop of host calls ends at the host-call cap (a fault, fail closed), long
    // before its 2 s CPU budget; the state it could write stays under the quota.
    let started = std::time::Instant::now();
    let r = c.upload("STOR a.txt", b"x").await;
    assert_eq!(r.code, 451, "{r:?}");
    let stored = srv.plugin_state_bytes("hoarder");
    assert!(
        stored > 8 * 1024 && stored <= 16 * 1024,
        "state quota of 16 KiB: {stored} bytes stored"
    );
    let r = c.cmd("MKD d").await;
    assert_eq!(r.code, 451, "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let list = srv.server.ctx.plugins.list();
    assert!(
        list.iter()
            .all(|p| p.fault_count.load(Ordering::Relaxed) == 1)
    );
    // A second call cannot grow the state past the quota either.
    let _ = c.upload("STOR b.txt", b"x").await;
    assert!(srv.plugin_state_bytes("hoarder") <= 16 * 1024);
}

/// Spins `n` iterations of a plain loop: CPU work the plugin really does.
fn spinner(n: u64) -> Vec<u8> {
    let wat = format!(
        r#"(module
             (import "ftpsd_v1" "host" (func $host (param i32 i32) (result i64)))
             (memory (export "memory") 2)
             (data (i32.const 16) "{{\"name\":\"spin\",\"hooks\":[\"upload\"],\"ok\":true,\"verdict\":\"allow\"}}")
             (func $good (result i64) (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 62)))
             (func (export "ftpsd_abi_version") (result i32) (i32.const 1))
             (func (export "ftpsd_alloc") (param i32) (result i32) (i32.const 16384))
             (func (export "ftpsd_dealloc") (param i32 i32))
             (func (export "ftpsd_handle") (param $p i32) (param $n i32) (result i64)
               (local $i i64)
               (if (i32.or (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 9))) (i32.const 100))
                           (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 12))) (i32.const 102)))
                 (then (return (call $good))))
               (loop $l (local.set $i (i64.add (local.get $i) (i64.const 1)))
                        (br_if $l (i64.lt_u (local.get $i) (i64.const {n}))))
               (call $good)))"#
    );
    wat::parse_str(&wat).unwrap()
}

#[tokio::test]
async fn a_saturated_machine_does_not_make_a_healthy_plugin_fault() {
    // ~10-20 ms of CPU per call against a 60 ms budget, while 12 busy threads compete for
    // the 2 cores: the wall-clock time of a call is several times its CPU time.
    let _heavy = ftpsd_e2e::heavy_load().await;
    let srv = TestServer::builder()
        .plugin(
            "spin",
            spinner(20_000_000),
            "timeout_ms = 60\nmax_faults = 1",
        )
        .start()
        .await;
    let busy = Arc::new(AtomicBool::new(true));
    let hogs: Vec<_> = (0..12)
        .map(|_| {
            let busy = busy.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while busy.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let mut c = srv.alice().await;
    let mut codes = Vec::new();
    for i in 0..8 {
        codes.push(c.upload(&format!("STOR s{i}.txt"), b"x").await.code);
    }
    busy.store(false, Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
    let p = srv.server.ctx.plugins.list()[0].clone();
    assert_eq!(p.fault_count.load(Ordering::Relaxed), 0, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 226), "{codes:?}");
}

#[tokio::test]
async fn a_relative_config_path_still_watches_plugin_files_and_reloads_them() {
    // `ftpsd serve --config ftpsd.toml`, as the README runs it: plugin paths are relative to
    // the config, and the watcher must still recognise their (absolute) file events.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    let wasm = dir.path().join("plugins/block_ext.wasm");
    std::fs::write(&wasm, built_plugin("block_ext.wasm")).unwrap();
    std::fs::write(
        dir.path().join("ftpsd.toml"),
        format!(
            "[server]\ndata_dir = \"data\"\n[explicit]\nlisten = \"127.0.0.1:0\"\n\
             [[plugins]]\nname = \"block-ext\"\npath = \"plugins/block_ext.wasm\"\n{BLOCK_EXE}\n"
        ),
    )
    .unwrap();
    let config = ftpsd::Config::load(&dir.path().join("ftpsd.toml")).unwrap();
    ftpsd::bootstrap::prepare(&config).unwrap();
    let server = ftpsd_e2e::tools::spawn_server(dir.path()).await;
    let log = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    std::fs::write(&wasm, b"garbage").unwrap();
    until("the garbage file is noticed", || {
        log().contains("new plugin version rejected")
    })
    .await;
    // SIGHUP reloads from the same (absolute) paths: the same verdict, no "/./plugins".
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
    until("the reload is logged", || {
        log().contains("kept the old version")
    })
    .await;
    let text = log();
    assert!(!text.contains("cannot read"), "{text}");
    assert!(!text.contains("/./"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn new_plugin_settings_and_a_sighup_right_after_leave_the_new_settings_in_force() {
    // The operator edits a plugin's settings and sends SIGHUP at once: the config watcher and
    // the SIGHUP reload both run; whichever ends last must not put the old settings back.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::write(
        dir.path().join("plugins/block_ext.wasm"),
        built_plugin("block_ext.wasm"),
    )
    .unwrap();
    let config = |pattern: &str| {
        format!(
            "[server]\ndata_dir = \"data\"\nlogin_failure_delay_ms = 10\n[explicit]\nlisten = \"127.0.0.1:0\"\n\
             [[plugins]]\nname = \"block-ext\"\npath = \"plugins/block_ext.wasm\"\n\
             settings = {{ patterns = [\"{pattern}\"] }}\n"
        )
    };
    std::fs::write(dir.path().join("ftpsd.toml"), config("*.exe")).unwrap();
    let loaded = ftpsd::Config::load(&dir.path().join("ftpsd.toml")).unwrap();
    let (user, pass, _) = ftpsd::bootstrap::prepare(&loaded)
        .unwrap()
        .created_admin
        .unwrap();
    let server = ftpsd_e2e::tools::spawn_server(dir.path()).await;
    let log = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    let reloads_done = || log().matches("reload: certificate").count();
    let mut c =
        ftpsd_e2e::FtpClient::connect_explicit(server.ftp, &dir.path().join("data/tls/cert.pem"))
            .await;
    c.login(&user, &pass).await;
    c.protect().await;
    assert!(c.upload("STOR a.exe", b"x").await.code >= 500);
    for round in 1..=2 {
        if round == 1 {
            std::fs::write(dir.path().join("ftpsd.toml"), config("*.bat")).unwrap();
        }
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
        until("the SIGHUP reload is done", || reloads_done() >= round).await;
        let bat = c.upload(&format!("STOR r{round}.bat"), b"x").await;
        assert!(
            bat.code >= 500,
            "round {round}: .bat must be refused: {bat:?}\n{}",
            log()
        );
        let exe = c.upload(&format!("STOR r{round}.exe"), b"x").await;
        assert_eq!(exe.code, 226, "round {round}: .exe allowed now: {exe:?}");
    }
    server.stop().await;
}
