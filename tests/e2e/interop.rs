//! Interoperability with real clients: curl (OpenSSL), lftp (GnuTLS), Python ftplib.

use std::process::Command;

use ftpsd_e2e::tools::{run, text};
use ftpsd_e2e::{Storage, TestServer, on_both_storages, pattern, sha256};

on_both_storages!(
    curl_explicit_upload_download_list_with_session_reuse,
    lftp_mirror_both_ways,
    python_ftplib_with_session_reuse,
    tls_1_2_clients_resume_their_session_curl_and_lftp,
    over_quota_mid_upload_is_a_552_for_curl,
);

fn curl(srv: &TestServer) -> Command {
    let mut c = Command::new("curl");
    c.args(["--silent", "--show-error", "--max-time", "30", "--cacert"])
        .arg(srv.cert_path())
        .args(["-u", "alice:alice-pass"]);
    c
}

async fn curl_explicit_upload_download_list_with_session_reuse(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    let data = pattern(2 * 1024 * 1024 + 3, 11);
    let src = srv.dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let base = format!("ftp://127.0.0.1:{}", srv.explicit().port());

    let out = run({
        let mut c = curl(&srv);
        c.arg("--ssl-reqd")
            .arg("-T")
            .arg(&src)
            .arg(format!("{base}/dir%20with%20space/up.bin"))
            .arg("--ftp-create-dirs");
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        sha256(&srv.read("alice", "dir with space/up.bin")),
        sha256(&data)
    );

    let dst = srv.dir.path().join("dst.bin");
    let out = run({
        let mut c = curl(&srv);
        c.arg("--ssl-reqd")
            .arg("-o")
            .arg(&dst)
            .arg(format!("{base}/dir%20with%20space/up.bin"));
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha256(&std::fs::read(&dst).unwrap()), sha256(&data));

    let out = run({
        let mut c = curl(&srv);
        c.arg("--ssl-reqd")
            .arg(format!("{base}/dir%20with%20space/"));
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("up.bin"));

    // Resume a download with a byte range (REST).
    let out = run({
        let mut c = curl(&srv);
        c.arg("--ssl-reqd")
            .args(["-C", "1000000"])
            .arg(format!("{base}/dir%20with%20space/up.bin"));
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha256(&out.stdout), sha256(&data[1_000_000..]));
}

#[tokio::test]
async fn curl_implicit_and_pasv() {
    let srv = TestServer::start().await;
    srv.write("alice", "hello.txt", b"hello from ftpsd\n");
    let implicit = format!("ftps://127.0.0.1:{}/hello.txt", srv.implicit().port());
    let out = run({
        let mut c = curl(&srv);
        c.arg(&implicit);
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(out.stdout, b"hello from ftpsd\n");

    let explicit = format!("ftp://127.0.0.1:{}/hello.txt", srv.explicit().port());
    let out = run({
        let mut c = curl(&srv);
        c.arg("--ssl-reqd").arg("--disable-epsv").arg(&explicit);
        c
    })
    .await;
    assert!(out.status.success(), "PASV: {}", text(&out));
    assert_eq!(out.stdout, b"hello from ftpsd\n");
    // Active FTPS is not tested with curl: curl 7.87/7.88 (Debian 12) cannot do it with any
    // server (curl/curl#10666); lftp covers active FTPS, curl covers active plain FTP.
}

#[tokio::test]
async fn curl_ccc_both_shutdown_modes() {
    // After CCC curl stops offering its TLS session (its ClientHello carries no PSK), so CCC
    // with curl needs require_session_reuse = false (README). Refused with reuse required:
    let srv = TestServer::start().await;
    srv.write("alice", "hello.txt", b"hello from ftpsd\n");
    let url = format!("ftp://127.0.0.1:{}/hello.txt", srv.explicit().port());
    let out = run({
        let mut c = curl(&srv);
        c.arg("--ssl-reqd").arg("--ftp-ssl-ccc").arg(&url);
        c
    })
    .await;
    assert!(!out.status.success(), "{}", text(&out));
    let srv = TestServer::builder()
        .config(|c| {
            c.explicit.as_mut().unwrap().require_session_reuse = ftpsd::tls::SessionReuse::Off
        })
        .start()
        .await;
    srv.write("alice", "hello.txt", b"hello from ftpsd\n");
    let url = format!("ftp://127.0.0.1:{}/hello.txt", srv.explicit().port());
    for mode in ["passive", "active"] {
        let out = run({
            let mut c = curl(&srv);
            c.arg("--ssl-reqd")
                .args(["--ftp-ssl-ccc", "--ftp-ssl-ccc-mode", mode])
                .arg(&url);
            c
        })
        .await;
        assert!(out.status.success(), "{mode}: {}", text(&out));
        assert_eq!(out.stdout, b"hello from ftpsd\n", "{mode}");
    }
}

#[tokio::test]
async fn curl_active_mode_on_a_plain_listener() {
    let srv = TestServer::start_tls_optional().await;
    srv.write("alice", "a.txt", b"active plain");
    let out = run({
        let mut c = curl(&srv);
        c.args(["--ftp-port", "-"])
            .arg(format!("ftp://127.0.0.1:{}/a.txt", srv.explicit().port()));
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(out.stdout, b"active plain");
}

#[tokio::test]
async fn lftp_active_mode_over_tls() {
    let srv = TestServer::start().await;
    srv.write("alice", "a.txt", b"active tls");
    let script = format!(
        "set ssl:ca-file {ca}; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ftp:passive-mode off; \
         set net:max-retries 1; set net:timeout 20; open -u alice,alice-pass ftp://127.0.0.1:{port}; cat a.txt; bye",
        ca = srv.cert_path().display(),
        port = srv.explicit().port(),
    );
    let out = run({
        let mut c = Command::new("lftp");
        c.arg("-c").arg(script);
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(out.stdout, b"active tls");
}

#[tokio::test]
async fn curl_is_refused_without_tls() {
    let srv = TestServer::start().await;
    let out = run({
        let mut c = curl(&srv);
        c.arg(format!("ftp://127.0.0.1:{}/", srv.explicit().port()));
        c
    })
    .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("530"),
        "{}",
        text(&out)
    );
}

async fn lftp_mirror_both_ways(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    let local = srv.dir.path().join("lftp-local");
    std::fs::create_dir_all(local.join("sub dir")).unwrap();
    let a = pattern(700_000, 21);
    let b = pattern(3_000, 22);
    std::fs::write(local.join("a.bin"), &a).unwrap();
    std::fs::write(local.join("sub dir/b ü.bin"), &b).unwrap();
    let script = format!(
        "set ssl:ca-file {ca}; set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate true; \
         set net:max-retries 1; set net:timeout 20; \
         open -u alice,alice-pass ftp://127.0.0.1:{port}; mirror -R {local} up; mirror up {back}; ls up; bye",
        ca = srv.cert_path().display(),
        port = srv.explicit().port(),
        local = local.display(),
        back = srv.dir.path().join("lftp-back").display(),
    );
    let out = run({
        let mut c = Command::new("lftp");
        c.arg("-c").arg(script);
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha256(&srv.read("alice", "up/a.bin")), sha256(&a));
    assert_eq!(sha256(&srv.read("alice", "up/sub dir/b ü.bin")), sha256(&b));
    let back = srv.dir.path().join("lftp-back");
    assert_eq!(
        sha256(&std::fs::read(back.join("a.bin")).unwrap()),
        sha256(&a)
    );
    assert_eq!(
        sha256(&std::fs::read(back.join("sub dir/b ü.bin")).unwrap()),
        sha256(&b)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("a.bin"));
}

const PYTHON_CLIENT: &str = r#"
import ftplib, ssl, sys, io, hashlib
port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

class ReusingFTP_TLS(ftplib.FTP_TLS):
    """The usual fix: wrap data connections with the control connection's session."""
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size

ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
cls = ReusingFTP_TLS if mode == "reuse" else ftplib.FTP_TLS
ftp = cls(context=ctx, timeout=20)
ftp.connect("127.0.0.1", port)
ftp.login("alice", "alice-pass")
ftp.prot_p()
data = bytes(range(256)) * 4000
ftp.storbinary("STOR py.bin", io.BytesIO(data))
out = io.BytesIO()
ftp.retrbinary("RETR py.bin", out.write)
assert out.getvalue() == data, "content mismatch"
names = ftp.nlst()
assert "py.bin" in names, names
ftp.quit()
print("OK", hashlib.sha256(data).hexdigest())
"#;

async fn python(srv: &TestServer, port: u16, mode: &str) -> std::process::Output {
    let script = srv.dir.path().join("client.py");
    std::fs::write(&script, PYTHON_CLIENT).unwrap();
    run({
        let mut c = Command::new("python3");
        c.arg(&script)
            .arg(port.to_string())
            .arg(srv.cert_path())
            .arg(mode);
        c
    })
    .await
}

async fn python_ftplib_with_session_reuse(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    let out = python(&srv, srv.explicit().port(), "reuse").await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK "));
    assert_eq!(srv.read("alice", "py.bin").len(), 256 * 4000);
}

#[tokio::test]
async fn stock_python_ftplib_needs_reuse_off() {
    // Stock ftplib does not resume the control session on data connections: refused by default…
    let srv = TestServer::start().await;
    let out = python(&srv, srv.explicit().port(), "stock").await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // The upload connection is closed right after the handshake: ftplib fails while sending
    // (EOF or reset, depending on timing), after a successful login.
    assert!(
        err.contains("storbinary") && err.contains("Error"),
        "{}",
        text(&out)
    );
    assert!(
        !srv.exists("alice", "py.bin") || srv.read("alice", "py.bin").is_empty(),
        "no data accepted"
    );
    // …and served on a listener with require_session_reuse = false.
    let srv = TestServer::builder()
        .config(|c| {
            c.explicit.as_mut().unwrap().require_session_reuse = ftpsd::tls::SessionReuse::Off
        })
        .start()
        .await;
    let out = python(&srv, srv.explicit().port(), "stock").await;
    assert!(out.status.success(), "{}", text(&out));
}

async fn tls_1_2_clients_resume_their_session_curl_and_lftp(storage: Storage) {
    // With TLS 1.2 clients resume by session ID (curl/OpenSSL) or ticket (lftp/GnuTLS); with
    // session reuse required (the default) both must work for downloads and uploads.
    let srv = TestServer::start_on(storage).await;
    let data = pattern(1024 * 1024 + 17, 12);
    let src = srv.dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let base = format!("ftp://127.0.0.1:{}", srv.explicit().port());
    let out = run({
        let mut c = curl(&srv);
        c.args(["--ssl-reqd", "--tlsv1.2", "--tls-max", "1.2", "-T"])
            .arg(&src)
            .arg(format!("{base}/curl12.bin"));
        c
    })
    .await;
    assert!(out.status.success(), "curl upload: {}", text(&out));
    assert_eq!(sha256(&srv.read("alice", "curl12.bin")), sha256(&data));
    let out = run({
        let mut c = curl(&srv);
        c.args(["--ssl-reqd", "--tlsv1.2", "--tls-max", "1.2"])
            .arg(format!("{base}/curl12.bin"));
        c
    })
    .await;
    assert!(out.status.success(), "curl download: {}", text(&out));
    assert_eq!(sha256(&out.stdout), sha256(&data));
    let script = format!(
        "set ssl:ca-file {ca}; set ssl:priority NORMAL:-VERS-TLS1.3; set ftp:ssl-force true; \
         set ftp:ssl-protect-data true; set net:max-retries 1; set net:timeout 20; \
         open -u alice,alice-pass ftp://127.0.0.1:{port}; put {src} -o lftp12.bin; cat curl12.bin; bye",
        ca = srv.cert_path().display(),
        port = srv.explicit().port(),
        src = src.display(),
    );
    let out = run({
        let mut c = Command::new("lftp");
        c.arg("-c").arg(script);
        c
    })
    .await;
    assert!(out.status.success(), "lftp: {}", text(&out));
    assert_eq!(sha256(&out.stdout), sha256(&data));
    assert_eq!(sha256(&srv.read("alice", "lftp12.bin")), sha256(&data));
}

#[tokio::test]
async fn long_sessions_keep_resuming_curl_and_lftp() {
    // 40 downloads on one control connection issue 80 tickets on top of the control
    // handshake's 8, more than a session remembers unpinned. curl offers the newest ticket;
    // lftp offers the control connection's own session on every data connection, so the
    // control handshake's tickets must never be forgotten.
    let srv = TestServer::start().await;
    for i in 1..=40 {
        srv.write(
            "alice",
            &format!("n/f{i}.txt"),
            format!("file {i}\n").as_bytes(),
        );
    }
    let url = format!("ftp://127.0.0.1:{}/n/f[1-40].txt", srv.explicit().port());
    for version in [
        ["--tlsv1.3", "--tls-max", "1.3"],
        ["--tlsv1.2", "--tls-max", "1.2"],
    ] {
        let out = run({
            let mut c = curl(&srv);
            c.arg("--ssl-reqd").args(version).arg(&url);
            c
        })
        .await;
        assert!(out.status.success(), "{version:?}: {}", text(&out));
        let expected: String = (1..=40).map(|i| format!("file {i}\n")).collect();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "{version:?}"
        );
    }
    let dst = srv.dir.path().join("mirror");
    let script = format!(
        "set ssl:ca-file {ca}; set ftp:ssl-force true; set ftp:ssl-protect-data true; \
         set net:max-retries 1; set net:timeout 20; \
         open -u alice,alice-pass ftp://127.0.0.1:{port}; mirror n {dst}; bye",
        ca = srv.cert_path().display(),
        port = srv.explicit().port(),
        dst = dst.display(),
    );
    let out = run({
        let mut c = Command::new("lftp");
        c.arg("-c").arg(script);
        c
    })
    .await;
    assert!(out.status.success(), "lftp: {}", text(&out));
    for i in 1..=40 {
        let got = std::fs::read_to_string(dst.join(format!("f{i}.txt"))).unwrap_or_default();
        assert_eq!(got, format!("file {i}\n"), "lftp f{i}.txt");
    }
}

#[tokio::test]
async fn multi_line_banner_and_welcome_message_reach_real_clients() {
    // The classic welcome text: a banner over several lines and a login message (from a file
    // in a real config: see the config tests), sent as 220-/230- replies that curl, ftplib and
    // the test client all read.
    let srv = TestServer::builder()
        .config(move |c| {
            c.server.banner = "Example FTPS\nAuthorized use only.".into();
            c.server.login_message =
                "Welcome, {user}!\r\n\r\n230 is not the end\nBe nice.\n\n".into();
        })
        .start()
        .await;
    let (c, banner) = ftpsd_e2e::FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(
        (banner.code, banner.text.as_str()),
        (220, "Example FTPS\nAuthorized use only.")
    );
    drop(c);
    let mut c = srv.alice().await;
    let r = c.cmd_ok("NOOP", 200).await;
    assert_eq!(r.text, "NOOP ok.", "the multi-line 230 was read whole");
    drop(c);
    // The raw 230: the welcome lines, a middle line that looks like a code indented, the end.
    let mut c = ftpsd_e2e::FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER alice", 331).await;
    let r = c.cmd_ok("PASS alice-pass", 230).await;
    assert_eq!(
        r.text,
        "Welcome, {user}!\n\n 230 is not the end\nBe nice.\nUser alice logged in."
    );
    // curl logs in and lists through both multi-line replies.
    srv.write("alice", "seen.txt", b"x");
    let out = run({
        let mut c = curl(&srv);
        c.arg("--ssl-reqd")
            .arg("-l")
            .arg(format!("ftp://127.0.0.1:{}/", srv.explicit().port()));
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("seen.txt"));
    // Python ftplib returns the whole welcome.
    let script = format!(
        "import ftplib, ssl\n\
         ctx = ssl.create_default_context(cafile={cert:?})\n\
         f = ftplib.FTP_TLS(context=ctx)\n\
         print(f.connect('127.0.0.1', {port}))\n\
         print(f.login('alice', 'alice-pass'))\n\
         f.quit()\n",
        cert = srv.cert_path().display().to_string(),
        port = srv.explicit().port()
    );
    let out = run({
        let mut c = Command::new("python3");
        c.arg("-c").arg(script);
        c
    })
    .await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        said.contains("220-Example FTPS\n220 Authorized use only.")
            && said.contains("230-Welcome, {user}!")
            && said.contains("230 User alice logged in."),
        "{said}"
    );
}

/// A quota reached mid-upload: the client still sending is read to the end (bounded), so it
/// sees the 552 as the upload's answer, not a broken pipe.
async fn over_quota_mid_upload_is_a_552_for_curl(storage: Storage) {
    let srv = TestServer::builder()
        .storage(storage)
        .users_toml(&format!(
            "[[user]]\nname = \"q\"\npassword = \"{}\"\n[[user.mount]]\npath = \"{{STORE}}/q\"\nrights = \"a\"\nquota_mb = 1\n",
            TestServer::hash("q-pass")
        ))
        .start()
        .await;
    if storage == Storage::Local {
        std::fs::create_dir_all(srv.dir.path().join("q")).unwrap();
    }
    let src = srv.dir.path().join("big.bin");
    std::fs::write(&src, pattern(3 << 20, 4)).unwrap();
    for round in 0..3 {
        let out = run({
            let mut c = Command::new("curl");
            c.args(["--silent", "--show-error", "--max-time", "30", "--cacert"])
                .arg(srv.cert_path())
                .args(["-u", "q:q-pass", "--ssl-reqd", "-T"])
                .arg(&src)
                .arg(format!("ftp://127.0.0.1:{}/big.bin", srv.explicit().port()));
            c
        })
        .await;
        // curl 70 is its name for a 552 ("Exceeded storage allocation"); 55 a broken pipe.
        assert_eq!(out.status.code(), Some(70), "round {round}: {}", text(&out));
    }
    match &srv.store {
        Some(s3) => {
            let bucket = ftpsd_e2e::server::BUCKET;
            assert_eq!(s3.keys(bucket, "q/"), Vec::<String>::new(), "no object");
            assert_eq!(s3.open_uploads(bucket), Vec::<String>::new(), "no upload");
        }
        None => assert!(
            std::fs::read_dir(srv.dir.path().join("q"))
                .unwrap()
                .next()
                .is_none(),
            "nothing left behind"
        ),
    }
}

/// OpenSSL clients list AES-256-GCM-SHA384 first; the server chooses AES-128-GCM (SHA-256 key
/// schedule with CPU help, 10 rounds), on TLS 1.3 and 1.2 alike.
#[tokio::test]
async fn openssl_clients_get_aes_128_gcm() {
    let srv = TestServer::start().await;
    let script = r#"
import ftplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
if sys.argv[3] == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
f = ftplib.FTP_TLS(context=ctx, timeout=20)
f.connect("127.0.0.1", int(sys.argv[1]))
f.auth()
print(f.sock.version(), f.sock.cipher()[0])
f.quit()
"#;
    for (version, want) in [
        ("1.3", "TLSv1.3 TLS_AES_128_GCM_SHA256"),
        ("1.2", "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"),
    ] {
        let out = run({
            let mut c = Command::new("python3");
            c.args(["-c", script])
                .arg(srv.explicit().port().to_string())
                .arg(srv.cert_path())
                .arg(version);
            c
        })
        .await;
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
    }
}
