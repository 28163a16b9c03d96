//! Events v2 end to end, with the real guest-uploads plugin (built with the SDK): the upload
//! gate sees groups, session and transfer ids, TLS facts, the ALLO size and the offset; its
//! byte limit cuts an upload with 552 and leaves nothing (new file, replaced file, append);
//! the failure reaches `upload-failed` with the same transfer id; its state is seen and reset
//! with `ftpsd kv`. Version 1 plugins (the hand-written WAT ones in `plugins.rs`) keep running.

use std::process::Command;
use std::time::{Duration, Instant};

use ftpsd::state::now_ms;
use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::{TestServer, built_plugin, pattern, until};
use ftpsd_plugin_sdk::{UploadEvent, UploadFailedEvent};

const KIB: usize = 1024;

fn guest(name: &str) -> String {
    format!(
        "[[user]]\nname = \"{name}\"\npassword = \"{}\"\nhome = \"homes/{name}\"\nrights = \"a\"\ngroups = [\"guests\"]\n\n[[group]]\nname = \"guests\"\n",
        TestServer::hash(&format!("{name}-pass"))
    )
}

async fn server(settings: &str) -> TestServer {
    let srv = TestServer::builder()
        .users_toml(&guest("gus"))
        .plugin(
            "guest-uploads",
            built_plugin("guest_uploads.wasm"),
            &format!("[settings]\ngroups = [\"guests\"]\n{settings}"),
        )
        .start()
        .await;
    std::fs::create_dir_all(srv.home("gus")).unwrap();
    srv
}

fn stored<T: serde::de::DeserializeOwned>(srv: &TestServer, key: &str) -> Option<T> {
    let v = srv
        .server
        .ctx
        .plugins
        .kv
        .get("plugin.guest-uploads", key, now_ms())
        .unwrap()?;
    Some(serde_json::from_str(&v).unwrap())
}

/// Files in a home, hidden temporaries included.
fn names(srv: &TestServer, user: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(srv.home(user))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_gates_byte_limit_cuts_an_upload_with_552_and_leaves_nothing_behind() {
    let srv = server("uploads_per_hour = 4\nmax_upload_kib = 64").await;
    let mut c = srv.login_as("gus", "gus-pass").await;
    let small = pattern(10 * KIB, 1);
    c.stor("keep.bin", &small).await;
    let first: UploadEvent = stored(&srv, "last-upload").unwrap();
    let session = srv.server.ctx.sessions.list()[0].id;
    assert_eq!(
        (first.user.as_str(), first.groups.as_slice(), first.session),
        ("gus", &["guests".to_string()][..], session),
        "groups and the session id the admin sees"
    );
    let tls = first.tls.expect("TLS facts of the control connection");
    assert!(tls.version.starts_with("TLSv1."), "{tls:?}");
    assert!(!tls.cipher.is_empty(), "{tls:?}");
    assert_eq!(
        tls.sni, None,
        "the test client names the server by IP: no SNI"
    );

    // Over the limit: a new name, a replacement, an append. Each 552; nothing kept.
    let big = pattern(200 * KIB, 2);
    for line in ["STOR new.bin", "STOR keep.bin", "APPE keep.bin"] {
        let r = c.upload(line, &big).await;
        assert_eq!(r.code, 552, "{line}: {r:?}");
        assert!(r.text.contains("65536 bytes"), "{line}: {r:?}");
        assert_eq!(
            names(&srv, "gus"),
            ["keep.bin"],
            "{line}: no file, no temporary"
        );
        assert_eq!(
            srv.read("gus", "keep.bin"),
            small,
            "{line}: the old content stays"
        );
        let gate: UploadEvent = stored(&srv, "last-upload").unwrap();
        let failed = {
            let srv = &srv;
            let mut got = None;
            until("upload-failed reaches the plugin", || {
                got = stored::<UploadFailedEvent>(srv, "last-failure")
                    .filter(|f| f.transfer == gate.transfer);
                got.is_some()
            })
            .await;
            got.unwrap()
        };
        assert_eq!(
            (failed.code, failed.command.as_str(), failed.session),
            (552, &line[..4], session),
            "{failed:?}"
        );
        assert!(failed.size > 64 * 1024, "bytes received: {failed:?}");
        assert!(!failed.partial_kept);
        if line.starts_with("APPE") {
            assert_eq!(
                gate.offset,
                small.len() as u64,
                "APPE starts at the file's end"
            );
        }
    }
    c.cmd_ok("NOOP", 200).await;

    // ALLO: the announced size reaches the gate, which refuses what cannot fit.
    c.cmd_ok("ALLO 999999", 202).await;
    let r = c.upload("STOR huge.bin", b"x").await;
    assert_eq!(
        (r.code, r.text.as_str()),
        (552, "Guest uploads are at most 64 KiB.")
    );
    c.cmd_ok("ALLO 100", 202).await;
    c.stor("announced.bin", &[7u8; 100]).await;
    let gate: UploadEvent = stored(&srv, "last-upload").unwrap();
    assert_eq!(gate.declared_size, Some(100));
    c.stor("plain.bin", b"y").await;
    let gate: UploadEvent = stored(&srv, "last-upload").unwrap();
    assert_eq!(
        gate.declared_size, None,
        "ALLO applies to the next upload only"
    );

    // K per hour: failed and refused uploads gave their slot back; this is the 4th and last.
    c.stor("fourth.bin", b"z").await;
    let r = c.upload("STOR fifth.bin", b"z").await;
    assert_eq!(r.code, 450, "{r:?}");
    assert!(r.text.contains("4 files per hour"), "{r:?}");

    // curl (TLS 1.3 by default, SNI for a host name): over the limit it gets 552 (its exit
    // 70), nothing is kept; the gate saw the name it asked for.
    let curl = |name: &str, bytes: usize| {
        let src = srv.dir.path().join(format!("{name}.src"));
        std::fs::write(&src, pattern(bytes, 9)).unwrap();
        let port = srv.explicit().port();
        let mut cmd = Command::new("curl");
        cmd.args([
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--ssl-reqd",
            "--cacert",
        ])
        .arg(srv.cert_path())
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(["-u", "gus:gus-pass", "-T"])
        .arg(&src)
        .arg(format!("ftp://localhost:{port}/{name}"));
        cmd
    };
    srv.server
        .ctx
        .plugins
        .kv
        .delete("plugin.guest-uploads", "hour:gus")
        .unwrap();
    let o = run(curl("curl-big.bin", 100 * KIB)).await;
    assert_eq!(o.status.code(), Some(70), "{}", text(&o));
    assert!(!srv.exists("gus", "curl-big.bin"));
    let gate: UploadEvent = stored(&srv, "last-upload").unwrap();
    assert_eq!(gate.tls.and_then(|t| t.sni).as_deref(), Some("localhost"));
    let o = run(curl("curl-small.bin", KIB)).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(srv.read("gus", "curl-small.bin"), pattern(KIB, 9));

    // The plugin's own metrics, on /metrics with its name.
    let text = ftpsd::admin::ops::metrics(&srv.server.ctx).await;
    assert!(
        text.contains("# TYPE ftpsd_plugin_guest_refusals_total counter\nftpsd_plugin_guest_refusals_total{plugin=\"guest-uploads\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("ftpsd_plugin_guest_uploads_total{plugin=\"guest-uploads\"} "),
        "{text}"
    );

    // Others are not limited.
    let mut a = srv.alice().await;
    a.stor("big.bin", &big).await;
}

#[tokio::test]
async fn the_gates_rate_limit_slows_the_upload_down() {
    let srv = server("uploads_per_hour = 10\nmax_rate_kib = 64").await;
    let mut c = srv.login_as("gus", "gus-pass").await;
    let data = pattern(96 * KIB, 3);
    let t = Instant::now();
    c.stor("slow.bin", &data).await;
    let took = t.elapsed();
    // 96 KiB at 64 KiB/s, less the bucket's first 50 ms and 5 % for timers: a lower bound
    // only (a limit can only make it slower).
    assert!(took >= Duration::from_millis(1350), "{took:?}");
    assert_eq!(srv.read("gus", "slow.bin"), data);
}

async fn kv(srv: &TestServer, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(ftpsd_bin());
    cmd.arg("kv")
        .args(args)
        .arg("--config")
        .arg(srv.config_file());
    run(cmd).await
}

fn out(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn ftpsd_kv_shows_and_resets_a_plugins_state_while_the_server_runs() {
    let srv = server("uploads_per_hour = 1").await;
    let mut c = srv.login_as("gus", "gus-pass").await;
    c.stor("one.bin", b"1").await;
    assert_eq!(
        c.upload("STOR two.bin", b"2").await.code,
        450,
        "the hour is used"
    );

    let listed = out(&kv(&srv, &["list", "--plugin", "guest-uploads"]).await);
    assert!(listed.contains("hour:gus = 1"), "{listed}");
    assert!(listed.contains("last-upload = {"), "{listed}");
    let got = out(&kv(&srv, &["get", "--plugin", "guest-uploads", "hour:gus"]).await);
    assert_eq!(got.trim(), "1");
    let only = out(&kv(
        &srv,
        &["list", "--plugin", "guest-uploads", "--prefix", "hour:"],
    )
    .await);
    assert_eq!(only.trim(), "hour:gus = 1");

    // The operator resets the counter: gus may upload again at once.
    let del = out(&kv(&srv, &["del", "--plugin", "guest-uploads", "hour:gus"]).await);
    assert_eq!(del.trim(), "1 key(s) deleted.");
    c.stor("two.bin", b"2").await;

    // Bad input: an unknown plugin, a missing key, nothing to delete.
    let e = kv(&srv, &["get", "--plugin", "nope", "k"]).await;
    assert!(
        !e.status.success()
            && text(&e).contains("no plugin 'nope' is configured (known: guest-uploads)"),
        "{}",
        text(&e)
    );
    let e = kv(&srv, &["get", "--plugin", "guest-uploads", "missing"]).await;
    assert!(
        !e.status.success() && text(&e).contains("has no key 'missing'"),
        "{}",
        text(&e)
    );
    let e = kv(&srv, &["del", "--plugin", "guest-uploads"]).await;
    assert!(!e.status.success(), "{}", text(&e));

    // --all, then on the stopped server's store directly.
    let all = out(&kv(&srv, &["del", "--plugin", "guest-uploads", "--all"]).await);
    assert!(all.contains("key(s) deleted."), "{all}");
    assert_eq!(
        out(&kv(&srv, &["list", "--plugin", "guest-uploads"]).await).trim(),
        "No keys."
    );
    drop(c);
    let config = srv.config_file();
    let _stopped = srv.stop().await;
    let mut cmd = Command::new(ftpsd_bin());
    cmd.args(["kv", "list", "--plugin", "guest-uploads", "--config"])
        .arg(&config);
    assert_eq!(out(&run(cmd).await).trim(), "No keys.");
}
