//! Operations: the HTTP admin API (token, sessions, kick, bans, plugins, reload, stats,
//! metrics), the `ftpsd admin` CLI, graceful shutdown, and passwords never reaching the log.

use std::process::Command;
use std::time::Duration;

use ftpsd_e2e::tools::{binary_with, ftpsd_bin, run, text};
use ftpsd_e2e::{FtpClient, TestServer, bounded, built_plugin};

async fn server() -> TestServer {
    TestServer::builder()
        .plugin(
            "bfp",
            built_plugin("bfp.wasm"),
            "settings = { max_failures = 1 }",
        )
        .config(|c| {
            c.admin.enabled = true;
            c.admin.listen = "127.0.0.1:0".parse().unwrap();
        })
        .start()
        .await
}

fn token(srv: &TestServer) -> String {
    std::fs::read_to_string(srv.config.data_dir().join("admin.token"))
        .unwrap()
        .trim()
        .to_string()
}

/// curl against the admin listener: (HTTP status, body).
async fn http(srv: &TestServer, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-s", "-X", method, "-w", "\n%{http_code}"]);
    if let Some(t) = token {
        c.arg("-H").arg(format!("Authorization: Bearer {t}"));
    }
    c.arg(format!("http://{}{path}", srv.server.admin.unwrap()));
    let out = run(c).await;
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = body.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

#[tokio::test]
async fn metrics_can_be_public_for_prometheus_and_nothing_else_is() {
    let srv = TestServer::builder()
        .config(|c| {
            c.admin.enabled = true;
            c.admin.listen = "127.0.0.1:0".parse().unwrap();
            c.admin.metrics_public = true;
        })
        .start()
        .await;
    let (code, body) = http(&srv, "GET", "/metrics", None).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("ftpsd_sessions_total"), "{body}");
    for path in ["/api/stats", "/api/sessions", "/api/logs"] {
        assert_eq!(http(&srv, "GET", path, None).await.0, 401, "{path}");
    }
}

#[tokio::test]
async fn the_api_needs_the_token() {
    let srv = server().await;
    let path = srv.config.data_dir().join("admin.token");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "token file is private");
    let t = token(&srv);
    assert_eq!(http(&srv, "GET", "/api/stats", None).await.0, 401);
    assert_eq!(
        http(
            &srv,
            "GET",
            "/api/stats",
            Some("0123456789abcdef0123456789abcdef")
        )
        .await
        .0,
        401
    );
    assert_eq!(http(&srv, "GET", "/metrics", None).await.0, 401);
    assert_eq!(
        http(&srv, "POST", "/api/sessions/kick-all", None).await.0,
        401
    );
    let (code, body) = http(&srv, "GET", "/api/stats", Some(&t)).await;
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["stats"]["plugins"], 1, "{v}");
    // The page itself is public (it asks for the token).
    let (code, page) = http(&srv, "GET", "/", None).await;
    assert!(code == 200 && page.contains("ftpsd admin"), "{code}");
    // Every answer, the page and a refusal alike, carries the security headers.
    for path in ["/", "/api/stats"] {
        let mut c = Command::new("curl");
        c.args(["-s", "-D", "-", "-o", "/dev/null"])
            .arg(format!("http://{}{path}", srv.server.admin.unwrap()));
        let headers = String::from_utf8_lossy(&run(c).await.stdout).to_lowercase();
        for h in [
            "x-frame-options: deny",
            "x-content-type-options: nosniff",
            "content-security-policy: default-src 'none';",
            "frame-ancestors 'none'",
            "referrer-policy: no-referrer",
            "cache-control: no-store",
        ] {
            assert!(headers.contains(h), "{path}: {h} missing in\n{headers}");
        }
    }
}

#[tokio::test]
async fn kick_a_live_session_and_lift_a_ban() {
    let srv = server().await;
    let t = token(&srv);
    let mut alice = srv.alice().await;
    alice.cmd_ok("CWD /", 250).await;
    let (_, body) = http(&srv, "GET", "/api/sessions", Some(&t)).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let s = &v["sessions"][0];
    assert_eq!(
        (s["user"].as_str(), s["ip"].as_str(), s["tls"].as_bool()),
        (Some("alice"), Some("127.0.0.1"), Some(true)),
        "{v}"
    );
    assert_eq!(s["command"], "CWD /");
    let id = s["id"].as_u64().unwrap();
    assert_eq!(
        http(&srv, "POST", "/api/sessions/999999/kick", Some(&t))
            .await
            .0,
        404
    );
    assert_eq!(
        http(&srv, "POST", &format!("/api/sessions/{id}/kick"), Some(&t))
            .await
            .0,
        200
    );
    let r = bounded("kicked", alice.read_reply()).await;
    assert_eq!(r.code, 421);
    assert!(
        r.text.contains("disconnected by the administrator"),
        "{r:?}"
    );
    assert!(alice.is_closed().await);

    // A ban (one failure here), listed and lifted through the API.
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER alice", 331).await;
    c.cmd_ok("PASS wrong", 530).await;
    let (_, first) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(first.code, 421);
    let (_, bans) = http(&srv, "GET", "/api/bans", Some(&t)).await;
    assert!(bans.contains("\"subject\":\"127.0.0.1\""), "{bans}");
    assert_eq!(
        http(&srv, "DELETE", "/api/bans/not-an-ip", Some(&t))
            .await
            .0,
        400
    );
    let (code, lifted) = http(&srv, "DELETE", "/api/bans/127.0.0.1", Some(&t)).await;
    assert_eq!((code, lifted.as_str()), (200, "{\"lifted\":1}"));
    let (_, first) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(first.code, 220);
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
}

#[tokio::test]
async fn metrics_move_after_a_real_transfer_and_reloads_answer() {
    let srv = server().await;
    let t = token(&srv);
    let mut c = srv.alice().await;
    let (_, before) = http(&srv, "GET", "/metrics", Some(&t)).await;
    c.stor("m.bin", &[7u8; 1234]).await;
    assert_eq!(c.retr("m.bin").await.len(), 1234);
    let (code, after) = http(&srv, "GET", "/metrics", Some(&t)).await;
    assert_eq!(code, 200);
    for (name, delta) in [
        ("ftpsd_transfers_total{result=\"ok\"}", 2),
        ("ftpsd_bytes_received_total", 1234),
        ("ftpsd_bytes_sent_total", 1234),
    ] {
        assert_eq!(
            metric(&after, name) - metric(&before, name),
            delta,
            "{name}"
        );
    }
    assert!(metric(&after, "ftpsd_logins_total{result=\"ok\"}") >= 1);
    assert!(
        metric(&after, "ftpsd_replies_total{class=\"2xx\"}")
            > metric(&before, "ftpsd_replies_total{class=\"2xx\"}")
    );
    assert!(
        metric(&after, "ftpsd_hook_duration_seconds_count") >= 2,
        "bfp saw connect and login"
    );
    assert_eq!(metric(&after, "ftpsd_sessions"), 1);
    let (code, body) = http(&srv, "POST", "/api/users/reload", Some(&t)).await;
    assert!(code == 200 && body.contains("reloaded"), "{body}");
    let (code, body) = http(&srv, "POST", "/api/plugins/reload", Some(&t)).await;
    assert!(code == 200 && body.contains("bfp: "), "{body}");
    let (_, plugins) = http(&srv, "GET", "/api/plugins", Some(&t)).await;
    assert!(
        plugins.contains("\"name\":\"bfp\"") && plugins.contains("\"quarantined\":false"),
        "{plugins}"
    );
}

#[tokio::test]
async fn admin_cli_shows_sessions_and_kicks_them() {
    let srv = server().await;
    let mut alice = srv.alice().await;
    alice.cmd_ok("PWD", 257).await;
    let admin = |args: &[&str]| {
        let mut c = Command::new(ftpsd_bin());
        c.arg("admin")
            .args(args)
            .arg("--config")
            .arg(srv.config_file());
        c
    };
    let out = run(admin(&["sessions"])).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && table.contains("alice") && table.contains("PWD"),
        "{}",
        text(&out)
    );
    let out = run(admin(&["kick-all"])).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1 session(s) disconnected.",
        "{}",
        text(&out)
    );
    assert_eq!(bounded("kicked", alice.read_reply()).await.code, 421);
    let out = run(admin(&["plugins"])).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("bfp"),
        "{}",
        text(&out)
    );
    // The same CLI against the HTTP API, as from another machine.
    let url = format!("http://{}", srv.server.admin.unwrap());
    let token_file = srv.config.data_dir().join("admin.token");
    let out = run(admin(&[
        "--url",
        &url,
        "--token-file",
        token_file.to_str().unwrap(),
        "stats",
    ]))
    .await;
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("plugins 1, active bans 0"),
        "{}",
        text(&out)
    );
    let wrong = srv.dir.path().join("wrong.token");
    std::fs::write(&wrong, "0123456789abcdef0123456789abcdef").unwrap();
    let out = run(admin(&[
        "--url",
        &url,
        "--token-file",
        wrong.to_str().unwrap(),
        "sessions",
    ]))
    .await;
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        text(&out)
    );
    let out = run(admin(&[
        "--url",
        &url,
        "--token-file",
        token_file.to_str().unwrap(),
        "kick",
        "424242",
    ]))
    .await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no session 424242"),
        "{}",
        text(&out)
    );
    let out = run(admin(&["kick", "424242"])).await;
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no session 424242"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn graceful_shutdown_lets_a_running_transfer_complete() {
    let mut srv = TestServer::start().await;
    let mut idle = srv.alice().await;
    let mut busy = srv.alice().await;
    let data = ftpsd_e2e::pattern(256 * 1024, 5);
    let (_, mut conn) = busy.open_transfer("STOR big.bin").await.unwrap();
    conn.write_all(&data[..1000]).await.unwrap();
    let client = async {
        // The idle session is told at once...
        let r = bounded("idle session closed", idle.read_reply()).await;
        assert_eq!(r.code, 421, "{r:?}");
        // ...while the transfer goes on to its end.
        conn.write_all(&data[1000..]).await.unwrap();
        conn.shutdown().await.unwrap();
        let done = bounded("transfer reply", busy.read_reply()).await;
        assert_eq!(done.code, 226, "{done:?}");
        let bye = bounded("busy session closed", busy.read_reply()).await;
        assert_eq!(bye.code, 421);
    };
    let (left, ()) = tokio::join!(srv.server.shutdown(Duration::from_secs(20)), client);
    assert_eq!(left, 0, "every connection ended within the grace period");
    assert_eq!(srv.read("alice", "big.bin"), data);
    assert!(
        tokio::net::TcpStream::connect(srv.explicit())
            .await
            .is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn passwords_never_reach_the_log() {
    let (dir, server, user, pass) = binary_with("log_level = \"trace\"\n", "").await;
    let addr = server.ftp;
    let cert = dir.path().join("data/tls/cert.pem");
    let wrong = "Wr0ng-Secret-4711";
    let mut c = FtpClient::connect_explicit(addr, &cert).await;
    c.cmd_ok(&format!("USER {user}"), 331).await;
    c.cmd_ok(&format!("PASS {wrong}"), 530).await;
    c.cmd_ok(&format!("USER {user}"), 331).await;
    c.cmd_ok(&format!("PASS {pass}"), 230).await;
    c.cmd_ok(&format!("PASS {wrong}"), 230).await; // "already logged in", still never logged
    c.cmd_ok("QUIT", 221).await;
    assert!(server.stop().await.success(), "SIGTERM is a clean stop");
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(
        log.contains("login failed") && log.contains("stopped"),
        "the log works at trace level:\n{log}"
    );
    assert!(
        !log.contains('\x1b'),
        "stderr is a file here: no terminal colour codes in it:\n{log}"
    );
    assert!(
        !log.contains(wrong) && !log.contains(&pass),
        "a password reached the log:\n{log}"
    );
}

#[tokio::test]
async fn log_files_transfer_log_and_the_log_viewer_api() {
    let (dir, server, user, pass) = binary_with(
        "",
        "[log]\nstderr = false\ndir = \"logs\"\n[admin]\nenabled = true\nlisten = \"127.0.0.1:0\"\n",
    )
    .await;
    let (addr, admin) = (server.ftp, server.admin.expect("admin address printed"));
    let cert = dir.path().join("data/tls/cert.pem");
    let mut c = FtpClient::connect_explicit(addr, &cert).await;
    c.cmd_ok(&format!("USER {user}"), 331).await;
    c.cmd_ok("PASS not-it", 530).await;
    c.login(&user, &pass).await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    c.stor("report 1.pdf", &[1u8; 4321]).await;
    let token = std::fs::read_to_string(dir.path().join("data/admin.token")).unwrap();
    let get = |path: String| {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-s",
            "-H",
            &format!("Authorization: Bearer {}", token.trim()),
        ])
        .arg(format!("http://{admin}{path}"));
        cmd
    };
    // The log viewer: filtered by level and text, tailing from an offset.
    let (lines, next) = bounded("the transfer is in the log file", async {
        loop {
            let out = run(get("/api/logs?level=info&q=transfer".into())).await;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if let Some(lines) = v["lines"].as_array().filter(|l| !l.is_empty()) {
                return (lines.clone(), v["next"].as_u64().unwrap());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(lines.iter().all(|l| {
        l["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("transfer")
    }));
    let out = run(get("/api/logs?level=error".into())).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["level"] == "ERROR"),
        "{v}"
    );
    let out = run(get(format!("/api/logs?after={next}&q=transfer"))).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["lines"].as_array().unwrap().is_empty(),
        "nothing new since the offset: {v}"
    );
    let out = run(get("/api/logs?day=../../etc/passwd".into())).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("YYYY-MM-DD"),
        "{}",
        text(&out)
    );
    // A day without a log says so, and which days there are (no OS error number).
    for path in [
        "/api/logs?day=2001-01-01",
        "/api/logs/export?day=2001-01-01",
    ] {
        let out = run(get(path.into())).await;
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            body.contains("no log for 2001-01-01") && !body.contains("os error"),
            "{path}: {}",
            text(&out)
        );
    }
    let day = v["day"].as_str().unwrap().to_string();
    let out = run(get(format!("/api/logs/export?day={day}"))).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("login failed"),
        "{}",
        text(&out)
    );
    server.stop().await;
    // The log folder and its files are not readable by other users.
    let mode = |p: std::path::PathBuf| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(dir.path().join("logs")), 0o750);
    for stem in ["ftpsd.log", "transfers.log"] {
        assert_eq!(
            mode(dir.path().join(format!("logs/{stem}.{day}"))),
            0o640,
            "{stem}"
        );
    }
    // One transfer line with user, IP, command, path, bytes, duration and result.
    let xfer =
        std::fs::read_to_string(dir.path().join(format!("logs/transfers.log.{day}"))).unwrap();
    let line = xfer
        .lines()
        .find(|l| l.contains("STOR"))
        .unwrap_or_else(|| panic!("{xfer}"));
    for part in [
        format!("user=\"{user}\""),
        "ip=127.0.0.1".into(),
        "command=\"STOR\"".into(),
        "path=\"/report 1.pdf\"".into(),
        "bytes=4321".into(),
        "result=\"ok\"".into(),
        "secs=".into(),
    ] {
        assert!(line.contains(&part), "{part} missing in {line}");
    }
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_the_config_for_new_sessions() {
    let (dir, server, user, pass) = binary_with("", "").await;
    let addr = server.ftp;
    let tls = dir.path().join("data/tls");
    let old_cert = dir.path().join("old-cert.pem");
    std::fs::copy(tls.join("cert.pem"), &old_cert).unwrap();
    // A session from before the reload.
    let mut before = FtpClient::connect_explicit(addr, &old_cert).await;
    before.login(&user, &pass).await;
    before.protect().await;
    before.cmd_ok("TYPE I", 200).await;
    // A new certificate in place of the old one...
    let out = run({
        let mut c = Command::new(ftpsd_bin());
        c.args([
            "cert",
            "generate",
            "--cn",
            "renewed.example",
            "--san",
            "127.0.0.1",
            "--out",
        ])
        .arg(dir.path().join("new"));
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(dir.path().join("new").join(f), tls.join(f)).unwrap();
    }
    // ...a new banner and per-IP limit (applied live) and a new listen address (needs a
    // restart: the old one stays bound).
    let cfg = dir.path().join("ftpsd.toml");
    let original = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        original
            .replace(
                "[explicit]",
                "banner = \"Renewed\"\nmax_connections_per_ip = 2\n[explicit]",
            )
            .replace("127.0.0.1:0", "127.0.0.1:1")
            .replace("login_failure_delay_ms = 10", "login_failure_delay_ms = 20"),
    )
    .unwrap();
    let log_path = dir.path().join("stderr.log");
    let sighup_and_wait_for = |what: &'static str| {
        unsafe { libc::kill(server.child.id() as i32, libc::SIGHUP) };
        let log_path = log_path.clone();
        bounded("reload logged", async move {
            while !std::fs::read_to_string(&log_path)
                .unwrap_or_default()
                .contains(what)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    sighup_and_wait_for("reload: certificate:").await;
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("config: [server] banner applied to new sessions")
            && log.contains("config: [server] connection limits applied to new sessions")
            && log.contains("config: [server] login_failure_delay_ms applied to new sessions")
            && log.contains("config: [explicit] listen changed; restart to apply it"),
        "{log}"
    );
    // Each changed value is named, with what it was and what it is now.
    assert!(
        log.contains("config: server.login_failure_delay_ms: 10 → 20")
            && log.contains("config: explicit.listen: \"127.0.0.1:0\" → \"127.0.0.1:1\""),
        "{log}"
    );
    // New connections get the new certificate (trusting only it works) and banner...
    let (mut after, banner) = FtpClient::connect_raw(addr, &tls.join("cert.pem")).await;
    assert_eq!((banner.code, banner.text.as_str()), (220, "Renewed"));
    after.auth("TLS").await;
    after.login(&user, &pass).await;
    // ...the new limit: `before` and `after` are the two allowed from 127.0.0.1...
    let (_third, refused) = FtpClient::connect_raw(addr, &tls.join("cert.pem")).await;
    assert_eq!(refused.code, 421, "{refused:?}");
    // ...and the session from before still resumes its TLS session on data connections.
    before.stor("still-works.bin", b"yes").await;
    assert_eq!(before.retr("still-works.bin").await, b"yes");
    drop(after);
    // A broken config file changes nothing.
    std::fs::write(&cfg, "[server\nbanner = 1\n").unwrap();
    sighup_and_wait_for("config file rejected; the config in force stays").await;
    // Said once per reload, not once per part of the config that was looked at.
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches("rejected").count(), 1, "{log}");
    assert!(!log.contains("[[plugins]] not applied"), "{log}");
    let (_c, banner) = FtpClient::connect_raw(addr, &tls.join("cert.pem")).await;
    assert_eq!((banner.code, banner.text.as_str()), (220, "Renewed"));
    assert!(server.stop().await.success());
}

#[tokio::test]
async fn clients_naming_an_ip_as_sni_leave_no_warnings_in_the_log() {
    // Python's ftplib sends "127.0.0.1" as SNI; rustls would warn about it on every handshake.
    let (dir, server, user, pass) = binary_with("", "").await;
    let cert = dir.path().join("data/tls/cert.pem");
    let script = format!(
        "import ftplib, ssl\n\
         ctx = ssl.create_default_context(cafile={cert:?})\n\
         ctx.check_hostname = False\n\
         f = ftplib.FTP_TLS(context=ctx)\n\
         f.connect('127.0.0.1', {port})\n\
         f.login({user:?}, {pass:?})\n\
         print(f.pwd())\n\
         f.quit()\n",
        cert = cert.to_str().unwrap(),
        port = server.ftp.port(),
    );
    let out = ftpsd_e2e::tools::run({
        let mut c = std::process::Command::new("python3");
        c.args(["-c", &script]);
        c
    })
    .await;
    assert!(out.status.success(), "{}", ftpsd_e2e::tools::text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "/");
    assert!(server.stop().await.success());
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(
        log.contains(": login user="),
        "the log works at trace level:\n{log}"
    );
    assert!(!log.contains("SNI"), "client quirk logged:\n{log}");
    // The log file lives in the watched config directory: writing it must not become an
    // endless stream of traced inotify events.
    assert!(!log.contains("inotify event"), "watcher chatter:\n{log}");
}

/// The admin listener as an outsider sees it: a body is never read without the token, a
/// request head that does not come is cut off, and one address holds a bounded share.
#[tokio::test]
async fn the_admin_listener_is_bounded_for_callers_without_the_token() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = server().await;
    let addr = srv.server.admin.unwrap();
    // A 2 MB body announced without a token: 401 at once, before a byte of it is sent.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 512];
    let n = bounded("401 before the body", s.read(&mut buf))
        .await
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    // With the token, a body over 64 KiB is refused (413), not read into memory.
    let big = format!("{{\"name\":\"{}\",\"home\":\"x\"}}", "a".repeat(100 * 1024));
    let mut c = Command::new("curl");
    c.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", token(&srv)))
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &big,
        ])
        .arg(format!("http://{addr}/api/users"));
    let out = run(c).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "413",
        "{}",
        text(&out)
    );
    // One address holds at most 32 connections; the 33rd is closed at once, another address
    // still gets in.
    let source: std::net::IpAddr = "127.0.0.77".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..32 {
        held.push(
            ftpsd_e2e::client::tcp_from(Some(source), addr)
                .await
                .unwrap(),
        );
    }
    let mut extra = ftpsd_e2e::client::tcp_from(Some(source), addr)
        .await
        .unwrap();
    let n = bounded("the 33rd closed", extra.read(&mut buf))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0, "the 33rd connection of one address is closed");
    let (code, _) = http(&srv, "GET", "/api/stats", Some(&token(&srv))).await;
    assert_eq!(code, 200);
    // A connection that never sends its request head is closed (after 10 s).
    let mut silent = held.pop().unwrap();
    let n = bounded("silent connection closed", silent.read(&mut buf))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0);
}
