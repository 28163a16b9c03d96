//! The plugin runtime end to end: real FTPS sessions, real .wasm modules (hand-written WAT,
//! without the SDK), every hook, first-deny-wins, every fault kind, hot swap, persistent state,
//! and the exec capability check.

use std::time::Duration;

use ftpsd_e2e::wat::{Behavior, module, plugin};
use ftpsd_e2e::{FtpClient, Storage, TestServer, built_plugin, deploy, on_both_storages, until};

fn calls(srv: &TestServer, plugin: &str) -> i64 {
    let kv = &srv.server.ctx.plugins.kv;
    kv.get(&format!("plugin.{plugin}"), "calls", ftpsd::state::now_ms())
        .unwrap()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

on_both_storages!(a_plugin_without_the_sdk_decides_uploads);

async fn a_plugin_without_the_sdk_decides_uploads(storage: Storage) {
    let srv = TestServer::builder()
        .storage(storage)
        .plugin(
            "policy",
            plugin(
                "policy",
                &["upload"],
                Behavior::Deny(553, "No uploads today."),
            ),
            "",
        )
        .start()
        .await;
    srv.write("alice", "existing.txt", b"x");
    let mut c = srv.alice().await;
    for cmd in ["STOR a.txt", "APPE a.txt", "STOU a.txt"] {
        let r = c.upload(cmd, b"data").await;
        assert_eq!(
            (r.code, r.text.as_str()),
            (553, "No uploads today."),
            "{cmd}"
        );
    }
    c.cmd_ok("RNFR existing.txt", 350).await;
    c.cmd_ok("RNTO renamed.txt", 553).await;
    assert!(
        !srv.exists("alice", "a.txt") && srv.exists("alice", "existing.txt"),
        "nothing reached the disk"
    );
    assert_eq!(
        c.retr("existing.txt").await,
        b"x",
        "other operations are not affected"
    );
}

#[tokio::test]
async fn plugins_are_called_in_order_and_the_first_deny_wins() {
    let srv = TestServer::builder()
        .plugin(
            "first",
            plugin("first", &["upload"], Behavior::CountCalls),
            "",
        )
        .plugin(
            "second",
            plugin("second", &["upload"], Behavior::Deny(553, "second says no")),
            "",
        )
        .plugin(
            "third",
            plugin("third", &["upload"], Behavior::Deny(550, "third says no")),
            "",
        )
        .plugin(
            "other-hook",
            plugin("other-hook", &["command"], Behavior::CountCalls),
            "",
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    let r = c.upload("STOR x.bin", b"x").await;
    assert_eq!((r.code, r.text.as_str()), (553, "second says no"));
    assert_eq!(calls(&srv, "first"), 1);
    assert_eq!(calls(&srv, "third"), 0, "never asked after the first deny");
    assert_eq!(
        calls(&srv, "other-hook"),
        0,
        "called only for the hooks it declares"
    );
}

#[tokio::test]
async fn every_hook_is_reached_from_a_real_session() {
    let hooks = [
        "connect",
        "login",
        "upload",
        "file-blocked",
        "ratio-check",
        "upload-complete",
        "command",
    ];
    let mut b = TestServer::builder();
    for h in hooks {
        b = b.plugin(h, plugin(h, &[h], Behavior::CountCalls), "");
    }
    let srv = b
        .user("reader", "reader-pass", ftpsd::fs::Rights::Read)
        .start()
        .await;
    let mut c = srv.alice().await; // connect, login
    c.stor("f.txt", b"data").await; // upload, upload-complete
    c.retr("f.txt").await; // ratio-check
    c.list("LIST").await; // command
    c.cmd_ok("MKD d", 257).await; // command
    let mut again = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    again.login("alice", "alice-pass").await; // connect + login again
    // A rights refusal by the host is announced on file-blocked.
    let mut reader = srv.login_as("reader", "reader-pass").await;
    assert_eq!(reader.upload("STOR no.txt", b"x").await.code, 550);
    until("all hooks reached", || {
        hooks.iter().all(|h| calls(&srv, h) >= 1)
    })
    .await;
    assert!(calls(&srv, "connect") >= 2 && calls(&srv, "login") >= 2);
    assert!(calls(&srv, "command") >= 2);
}

#[tokio::test]
async fn login_plugin_can_refuse_a_correct_password_but_never_accept_a_wrong_one() {
    let srv = TestServer::builder()
        .plugin(
            "gate",
            plugin(
                "gate",
                &["login"],
                Behavior::Deny(530, "Your address is banned."),
            ),
            "",
        )
        .start()
        .await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER alice", 331).await;
    let r = c.cmd_ok("PASS alice-pass", 530).await;
    assert_eq!(r.text, "Your address is banned.");
    let srv = TestServer::builder()
        .plugin("yes", plugin("yes", &["login"], Behavior::Allow), "")
        .start()
        .await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER alice", 331).await;
    c.cmd_ok("PASS wrong", 530).await;
}

#[tokio::test]
async fn connect_deny_is_421_before_the_banner() {
    let srv = TestServer::builder()
        .plugin(
            "door",
            plugin(
                "door",
                &["connect"],
                Behavior::Deny(421, "Closed for maintenance."),
            ),
            "",
        )
        .start()
        .await;
    let (_c, first) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(
        (first.code, first.text.as_str()),
        (421, "Closed for maintenance.")
    );
}

#[tokio::test]
async fn every_fault_kind_is_contained_and_the_server_keeps_serving() {
    let faults: Vec<(&str, Behavior)> = vec![
        ("loop", Behavior::Loop),
        ("trap", Behavior::Trap),
        ("garbage", Behavior::Garbage),
        ("huge", Behavior::Huge),
        ("oob", Behavior::OutOfBounds),
        ("grow", Behavior::GrowMemory),
    ];
    for (name, b) in faults {
        let srv = TestServer::builder()
            .plugin(
                name,
                plugin(name, &["upload"], b),
                "timeout_ms = 50\nmemory_mb = 4",
            )
            .start()
            .await;
        let mut c = srv.alice().await;
        let started = std::time::Instant::now();
        let r = c.upload("STOR f.txt", b"x").await;
        assert_eq!(r.code, 451, "{name}: gates fail closed: {r:?}");
        assert!(
            r.text.contains(name),
            "{name}: the reply names the plugin: {r:?}"
        );
        assert_eq!(
            r.text,
            format!("Policy check unavailable ({name}); try again later."),
            "{name}: and nothing of the fault's internals"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: bounded"
        );
        assert!(!srv.exists("alice", "f.txt"));
        // The session and the server go on; the fault was counted.
        c.cmd_ok("NOOP", 200).await;
        srv.write("alice", "ok.txt", b"fine");
        assert_eq!(c.retr("ok.txt").await, b"fine");
        assert_eq!(
            srv.server.ctx.plugins.list()[0]
                .fault_count
                .load(std::sync::atomic::Ordering::Relaxed),
            1,
            "{name}"
        );
    }
    // on_error = "allow": a failing plugin lets the operation through.
    let srv = TestServer::builder()
        .plugin(
            "lenient",
            plugin("lenient", &["upload"], Behavior::Trap),
            "on_error = \"allow\"",
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    c.stor("f.txt", b"x").await;
}

#[tokio::test]
async fn repeated_faults_quarantine_the_client_that_causes_them_not_the_plugin() {
    let srv = TestServer::builder()
        .user("bob", "bob-pass", ftpsd::fs::Rights::All)
        .plugin(
            "flaky",
            plugin("flaky", &["upload"], Behavior::Trap),
            "on_error = \"allow\"\nmax_faults = 3",
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    for i in 0..3 {
        c.stor(&format!("f{i}.txt"), b"x").await;
    }
    // alice made the plugin fail 3 times: from now on her uploads are refused, whatever
    // on_error says (a client cannot use faults as a switch), and the plugin is not called.
    let r = c.upload("STOR f3.txt", b"x").await;
    assert_eq!(r.code, 451, "{r:?}");
    assert!(
        !r.text.contains("trap") && !r.text.contains("unreachable"),
        "{r:?}"
    );
    let p = srv.server.ctx.plugins.list()[0].clone();
    assert!(!p.is_quarantined(), "the plugin itself stays");
    assert_eq!(p.quarantined_clients().len(), 1);
    assert_eq!(
        p.fault_count.load(std::sync::atomic::Ordering::Relaxed),
        3,
        "not called once quarantined"
    );
    // bob, even from the same address, still gets the plugin (and its on_error).
    let mut b = srv.login_as("bob", "bob-pass").await;
    b.stor("b.txt", b"x").await;
    assert_eq!(p.fault_count.load(std::sync::atomic::Ordering::Relaxed), 4);
}

#[tokio::test]
async fn broken_plugins_are_clear_load_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            module("v3", &["upload"], Behavior::Allow, 3, true),
            "ABI version 3, this server runs versions 1 to 2",
        ),
        (
            module("nohandle", &["upload"], Behavior::Allow, 1, false),
            "missing export 'ftpsd_handle'",
        ),
        (
            b"\0asm\x01\0\0\0garbage".to_vec(),
            "not a valid WebAssembly module",
        ),
    ];
    for (i, (bytes, expected)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("p{i}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        let section: ftpsd::plugins::PluginSection =
            toml::from_str(&format!("name = \"p{i}\"\npath = \"{}\"\n", path.display())).unwrap();
        let kv: ftpsd::state::SharedStore = std::sync::Arc::new(
            ftpsd::state::RedbStore::open(&dir.path().join(format!("s{i}.redb"))).unwrap(),
        );
        let err = match ftpsd::plugins::PluginHost::load(&[section], dir.path(), kv, None) {
            Ok(_) => panic!("{expected}: loaded"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(expected) && err.contains(&format!("p{i}")),
            "{err}"
        );
    }
}

/// Writes a new version the way an operator's deploy does: temp file, then rename over.
#[tokio::test]
async fn hot_swap_keeps_the_old_version_on_a_truncated_file_and_on_removal() {
    let srv = TestServer::builder()
        .plugin("swap", plugin("swap", &["upload"], Behavior::Allow), "")
        .start()
        .await;
    let mut c = srv.alice().await;
    c.stor("a.txt", b"1").await;
    let reloads = srv.server.ctx.plugin_reloads.clone();
    let n = || reloads.lock().unwrap().len();
    let path = srv.plugin_path("swap");
    let deny = plugin("swap", &["upload"], Behavior::Deny(553, "version two"));
    deploy(&path, &deny);
    until("swap", || n() >= 1).await;
    assert!(reloads.lock().unwrap()[0].1.is_ok());
    assert_eq!(c.upload("STOR b.txt", b"2").await.text, "version two");
    // A half-written file never replaces a working plugin.
    std::fs::write(&path, &deny[..deny.len() / 2]).unwrap();
    until("rejection", || n() >= 2).await;
    assert!(
        reloads.lock().unwrap()[1].1.is_err(),
        "{:?}",
        reloads.lock().unwrap()
    );
    assert_eq!(
        c.upload("STOR b.txt", b"2").await.text,
        "version two",
        "old version stays"
    );
    // A removed file leaves the loaded version in force (a policy never lapses by `rm`).
    std::fs::remove_file(&path).unwrap();
    until("removal noticed", || n() >= 3).await;
    assert!(reloads.lock().unwrap()[2].1.is_err());
    assert_eq!(c.upload("STOR c.txt", b"3").await.text, "version two");
    assert_eq!(srv.server.ctx.plugins.list().len(), 1);
}

#[tokio::test]
async fn hot_swap_under_concurrent_sessions_fails_no_session() {
    let srv = TestServer::builder()
        .plugin(
            "swap",
            plugin("swap", &["upload"], Behavior::CountCalls),
            "",
        )
        .start()
        .await;
    let load = ftpsd_e2e::load::round_trips(&srv, 4).await;
    ftpsd_e2e::load::swap_repeatedly(&srv, "swap", 5, || {
        plugin("swap", &["upload"], Behavior::CountCalls)
    })
    .await;
    let reloads = srv.server.ctx.plugin_reloads.clone();
    let all = load.finish().await;
    assert!(!all.is_empty());
    assert!(
        all.iter().all(|ok| *ok),
        "every upload and download during 5 swaps succeeded: {all:?}"
    );
    assert!(reloads.lock().unwrap().iter().all(|(_, r)| r.is_ok()));
    // State lives in the host: the counter kept counting across versions.
    assert_eq!(calls(&srv, "swap") as usize, all.len());
}

#[tokio::test]
async fn plugin_state_survives_a_restart() {
    let srv = TestServer::builder()
        .plugin(
            "count",
            plugin("count", &["upload"], Behavior::CountCalls),
            "",
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    c.stor("a", b"1").await;
    c.stor("b", b"2").await;
    assert_eq!(calls(&srv, "count"), 2);
    drop(c);
    let srv = srv.restart().await;
    let mut c = srv.alice().await;
    c.stor("c", b"3").await;
    assert_eq!(calls(&srv, "count"), 3);
}

#[tokio::test]
async fn execute_actions_need_the_capability() {
    let dir = tempfile::tempdir().unwrap();
    // The program runs as an unprivileged user when the tests run as root.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let denied_marker = dir.path().join("denied");
    let allowed_marker = dir.path().join("allowed");
    let leak = |p: &std::path::Path| -> &'static str {
        Box::leak(p.display().to_string().into_boxed_str())
    };
    let (d, a) = (leak(&denied_marker), leak(&allowed_marker));
    let srv = TestServer::builder()
        .plugin(
            "no-cap",
            plugin(
                "no-cap",
                &["upload-complete"],
                Behavior::Execute("/usr/bin/touch", Box::leak(vec![d].into_boxed_slice())),
            ),
            "",
        )
        .plugin(
            "wrong-prog",
            plugin(
                "wrong-prog",
                &["upload-complete"],
                Behavior::Execute("/usr/bin/touch", Box::leak(vec![d].into_boxed_slice())),
            ),
            "capabilities = { exec = [\"/bin/true\"] }",
        )
        .plugin(
            "with-cap",
            plugin(
                "with-cap",
                &["upload-complete"],
                Behavior::Execute("/usr/bin/touch", Box::leak(vec![a].into_boxed_slice())),
            ),
            "capabilities = { exec = [\"/usr/bin/touch\"] }",
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    c.stor("up.txt", b"x").await;
    until("three execute actions decided", || {
        srv.server.ctx.exec.history().len() == 3
    })
    .await;
    let mut outcomes: Vec<(String, String)> = srv
        .server
        .ctx
        .exec
        .history()
        .iter()
        .map(|o| (o.plugin.clone(), format!("{:?}", o.status)))
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            ("no-cap".into(), "Refused(NoCapability(\"no-cap\"))".into()),
            ("with-cap".into(), "Exited(Some(0))".into()),
            (
                "wrong-prog".into(),
                format!(
                    "Refused(NotAllowed {{ plugin: \"wrong-prog\", program: \"/usr/bin/touch\" }})"
                )
            ),
        ]
    );
    assert!(allowed_marker.exists());
    assert!(
        !denied_marker.exists(),
        "a plugin without the capability (or with another program) cannot execute"
    );
}

#[tokio::test]
async fn sdk_plugin_office_hours_decides_with_the_host_clock() {
    let hour = (ftpsd::state::now_ms() / 3_600_000 % 24) as u32;
    // A window that excludes the current UTC hour, and one that includes it.
    let (closed_start, closed_end) = if hour < 12 { (13, 24) } else { (0, 11) };
    let srv = TestServer::builder()
        .plugin(
            "office-hours",
            built_plugin("office_hours.wasm"),
            &format!("settings = {{ start_hour = {closed_start}, end_hour = {closed_end} }}"),
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    let r = c.upload("STOR late.txt", b"x").await;
    assert_eq!(r.code, 550, "{r:?}");
    assert!(
        r.text
            .contains(&format!("{closed_start:02}:00 to {closed_end:02}:00")),
        "{r:?}"
    );
    assert!(!srv.exists("alice", "late.txt"));
    let srv = TestServer::builder()
        .plugin(
            "office-hours",
            built_plugin("office_hours.wasm"),
            "settings = { start_hour = 0, end_hour = 24 }",
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    c.stor("ontime.txt", b"x").await;
}

#[tokio::test]
async fn sdk_plugin_bad_settings_are_a_load_error_naming_plugin_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oh.wasm");
    std::fs::write(&path, built_plugin("office_hours.wasm")).unwrap();
    let section: ftpsd::plugins::PluginSection = toml::from_str(&format!(
        "name = \"oh\"\npath = \"{}\"\nsettings = {{ start_hour = 30 }}\n",
        path.display()
    ))
    .unwrap();
    let kv: ftpsd::state::SharedStore =
        std::sync::Arc::new(ftpsd::state::RedbStore::open(&dir.path().join("s.redb")).unwrap());
    let err = match ftpsd::plugins::PluginHost::load(&[section], dir.path(), kv, None) {
        Ok(_) => panic!("loaded with bad settings"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("plugin 'oh'") && err.contains("start_hour"),
        "{err}"
    );
}

#[tokio::test]
async fn plugin_new_scaffold_tests_builds_and_runs_in_the_server() {
    use ftpsd_e2e::tools::{ftpsd_bin, run, text, wasm_build};
    let dir = tempfile::tempdir().unwrap();
    let out = run({
        let mut c = std::process::Command::new(ftpsd_bin());
        c.current_dir(dir.path())
            .args(["plugin", "new", "demo-rule"]);
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let crate_dir = dir.path().join("demo-rule");
    // The printed config entry is valid TOML naming the module by its absolute path.
    let snippet = printed
        .split_once("use:    add to the server config:\n")
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no config snippet in {printed}"));
    let entry: toml::Table = toml::from_str(snippet).unwrap_or_else(|e| panic!("{e}\n{snippet}"));
    let plugin = &entry["plugins"].as_array().unwrap()[0];
    assert_eq!(plugin["name"].as_str(), Some("demo-rule"));
    assert_eq!(
        std::path::PathBuf::from(plugin["path"].as_str().unwrap()),
        crate_dir
            .canonicalize()
            .unwrap()
            .join("target/wasm32-wasip1/release/demo_rule.wasm")
    );
    let config: ftpsd::plugins::PluginSection =
        toml::from_str(&toml::to_string(plugin).unwrap()).expect("a valid [[plugins]] entry");
    assert_eq!(config.name, "demo-rule");
    assert_eq!(
        std::fs::read_to_string(crate_dir.join(".gitignore")).unwrap(),
        "/target\n"
    );
    let cargo_config = std::fs::read_to_string(crate_dir.join(".cargo/config.toml")).unwrap();
    let rustup_route = printed.contains("build:  cd demo-rule && cargo wasm\n");
    assert!(
        rustup_route || printed.contains("RUSTC_BOOTSTRAP=1 cargo wasm"),
        "{printed}"
    );
    assert!(cargo_config.contains("wasm = "), "{cargo_config}");
    let shared = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/target");
    let out = run({
        let mut c = std::process::Command::new("cargo");
        c.current_dir(&crate_dir)
            .args(["test", "--release", "-q"])
            .env("CARGO_TARGET_DIR", &shared);
        c
    })
    .await;
    assert!(
        out.status.success(),
        "native tests of the scaffold: {}",
        text(&out)
    );
    // With the rustup target, the generated `cargo wasm` alias builds it, as printed.
    let out = if rustup_route {
        run({
            let mut c = std::process::Command::new("cargo");
            c.current_dir(&crate_dir)
                .arg("wasm")
                .env("CARGO_TARGET_DIR", &shared)
                .env_remove("RUSTFLAGS");
            c
        })
        .await
    } else {
        run(wasm_build(&crate_dir)).await
    };
    assert!(
        out.status.success(),
        "wasm build of the scaffold: {}",
        text(&out)
    );
    let wasm_path = shared.join("wasm32-wasip1/release/demo_rule.wasm");
    let wasm = std::fs::read(&wasm_path).unwrap();
    let _ = std::fs::remove_file(&wasm_path);
    let srv = TestServer::builder()
        .plugin(
            "demo-rule",
            wasm,
            "settings = { refuse_suffixes = [\".exe\"] }",
        )
        .start()
        .await;
    let mut c = srv.alice().await;
    let r = c.upload("STOR setup.EXE", b"MZ").await;
    assert_eq!(
        (r.code, r.text.as_str()),
        (553, "Files ending in .exe are not accepted here.")
    );
    c.stor("notes.txt", b"fine").await;
}

#[tokio::test]
async fn a_changed_plugins_section_in_the_config_file_applies_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let block = dir.path().join("block_ext.wasm");
    std::fs::write(&block, built_plugin("block_ext.wasm")).unwrap();
    let gate = dir.path().join("gate.wasm");
    std::fs::write(
        &gate,
        plugin("gate", &["upload"], Behavior::Deny(550, "Uploads closed.")),
    )
    .unwrap();
    let cfg = dir.path().join("ftpsd.toml");
    let head = "[server]\ndata_dir = \"data\"\nlogin_failure_delay_ms = 100\n[explicit]\nlisten = \"127.0.0.1:0\"\n";
    let block_section = |pattern: &str| {
        format!(
            "[[plugins]]\nname = \"block-ext\"\npath = \"block_ext.wasm\"\nsettings = {{ patterns = [\"{pattern}\"] }}\n"
        )
    };
    let gate_section = "[[plugins]]\nname = \"gate\"\npath = \"gate.wasm\"\n";
    // Editors and deploy tools replace files by rename; so do we.
    let write = |text: String| deploy(&cfg, text.as_bytes());
    write(format!("{head}{}", block_section("*.mp3")));
    let config = ftpsd::Config::load(&cfg).unwrap();
    let first = ftpsd::bootstrap::prepare(&config).unwrap();
    let (admin, pass, _) = first.created_admin.unwrap();
    let server = ftpsd::Server::start(config).await.unwrap();
    let log = server.ctx.plugin_reloads.clone();
    let config_reloads = || {
        log.lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == ftpsd::plugins::swap::CONFIG_ENTRY)
            .count()
    };
    let mut c = FtpClient::connect_explicit(
        server.explicit.unwrap(),
        &dir.path().join("data/tls/cert.pem"),
    )
    .await;
    c.login(&admin, &pass).await;
    c.protect().await;
    assert_eq!(c.upload("STOR a.mp3", b"x").await.code, 553);
    c.stor("a.iso", b"x").await;

    // Changed settings reload the plugin.
    write(format!("{head}{}", block_section("*.iso")));
    until("settings change applied", || config_reloads() == 1).await;
    c.stor("b.mp3", b"x").await;
    assert_eq!(c.upload("STOR b.iso", b"x").await.code, 553);

    // A new plugin, first in the order: the first deny is now its.
    write(format!("{head}{gate_section}{}", block_section("*.iso")));
    until("new plugin applied", || config_reloads() == 2).await;
    let r = c.upload("STOR c.iso", b"x").await;
    assert_eq!((r.code, r.text.as_str()), (550, "Uploads closed."));

    // A broken config changes nothing and says why.
    write(format!("{head}{gate_section}[[plugins]]\nnam = \"typo\"\n"));
    until("broken config rejected", || config_reloads() == 3).await;
    let last = log.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.1.as_ref().unwrap_err().contains("ftpsd.toml")
            && last.1.as_ref().unwrap_err().contains("nam"),
        "{last:?}"
    );
    assert_eq!(c.upload("STOR d.iso", b"x").await.code, 550);

    // Settings a plugin refuses keep its old ones, and a reload says so (not just a hash).
    write(format!(
        "{head}{gate_section}[[plugins]]\nname = \"block-ext\"\npath = \"block_ext.wasm\"\nsettings = {{ patterns = 5 }}\n"
    ));
    until("bad settings seen", || config_reloads() == 4).await;
    let said = ftpsd::reconfigure::everything(&server.ctx).await;
    assert!(
        said.iter().any(
            |l| l.starts_with("error: block-ext: the new settings were refused")
                && l.contains("patterns")
        ),
        "{said:?}"
    );
    assert_eq!(c.upload("STOR e.iso", b"x").await.code, 550);

    // Removing the sections unloads the plugins.
    write(head.to_string());
    until("plugins removed", || config_reloads() == 6).await;
    c.stor("e.iso", b"x").await;
    assert!(server.ctx.plugins.list().is_empty());
}
