//! Certificates an operator renews: changed files are picked up without SIGHUP (certbot
//! renewals), the expiry date is a metric and is warned about, and `ftpsd cert csr` writes a
//! request a CA (here: openssl) accepts.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use ftpsd_e2e::TestServer;
use ftpsd_e2e::tools::{ftpsd_bin, run, text};

fn cert_for(days: u32) -> ftpsd::tls::GeneratedCert {
    ftpsd::tls::generate(&ftpsd::tls::CertRequest::for_names(
        "localhost",
        &["127.0.0.1"],
        days,
    ))
    .unwrap()
}

/// Writes `bytes` next to `path` and renames it into place, as renewal tools do.
fn replace(path: &std::path::Path, bytes: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn a_renewed_certificate_is_used_without_sighup_and_its_expiry_is_a_metric() {
    let srv = TestServer::start().await;
    let (cert, key, _) = srv.config.tls_paths();
    let renewed = cert_for(30);
    let dir = tempfile::tempdir().unwrap();
    let renewed_cert = dir.path().join("renewed.pem");
    std::fs::write(&renewed_cert, &renewed.cert_pem).unwrap();
    let trusts_renewed = ftpsd_e2e::client::tls_config(&renewed_cert);
    let login = || {
        ftpsd_e2e::client::try_login(
            srv.explicit(),
            trusts_renewed.clone(),
            None,
            "alice",
            "alice-pass",
        )
    };
    // Before the renewal a client that trusts only the new certificate cannot connect.
    assert_eq!(login().await, None);
    let old_expiry = srv.server.ctx.tls.load().not_after.unwrap();
    replace(&key, renewed.key_pem.as_bytes());
    replace(&cert, renewed.cert_pem.as_bytes());
    // The watcher applies it within its quiet time; bounded wait for the first handshake.
    let picked_up = ftpsd_e2e::bounded("renewed certificate in use", async {
        loop {
            if login().await == Some(230) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    picked_up.await;
    let metrics = ftpsd::admin::ops::metrics(&srv.server.ctx).await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("ftpsd_certificate_expiry_seconds "))
        .unwrap_or_else(|| panic!("no expiry metric in\n{metrics}"));
    let t: i64 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (29 * 86_400..=31 * 86_400).contains(&(t - now)) && t != old_expiry,
        "{line}"
    );
    // A broken renewal (a key that does not match) keeps the working certificate.
    replace(&key, cert_for(30).key_pem.as_bytes());
    let said = ftpsd::reconfigure::certificates::reload(&srv.server.ctx);
    assert!(said.starts_with("error: certificate kept"), "{said}");
    assert_eq!(login().await, Some(230));
}

#[tokio::test]
async fn a_certificate_close_to_expiry_is_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let g = cert_for(5);
    std::fs::write(dir.path().join("cert.pem"), &g.cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &g.key_pem).unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
    )
    .unwrap();
    let mut child = Command::new(ftpsd_bin())
        .current_dir(dir.path())
        .args(["serve", "--config", "c.toml"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let seen = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stderr.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return String::from_utf8_lossy(&all).to_string();
            }
            all.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&all);
            if text.contains("listening") && text.contains("certificate") {
                return text.to_string();
            }
        }
    });
    let seen = ftpsd_e2e::bounded("start-up log", seen).await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.contains("certificate expires in 4 days")
            || seen.contains("certificate expires in 5 days"),
        "{seen}"
    );
}

#[tokio::test]
async fn cert_csr_writes_a_request_that_openssl_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let csr = |args: &[&str]| {
        let mut c = Command::new(ftpsd_bin());
        c.current_dir(dir.path())
            .args(["cert", "csr", "--cn", "ftp.example.com", "--org", "Example"])
            .args(args);
        run(c)
    };
    let out = csr(&["--san", "files.example.com", "--out", "req"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let req = dir.path().join("req/request.csr");
    let key = dir.path().join("req/key.pem");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let shown = run({
        let mut c = Command::new("openssl");
        c.args(["req", "-in"])
            .arg(&req)
            .args(["-noout", "-verify", "-text"]);
        c
    })
    .await;
    let all = text(&shown);
    assert!(shown.status.success(), "{all}");
    assert!(
        all.contains("CN=ftp.example.com") || all.contains("CN = ftp.example.com"),
        "{all}"
    );
    assert!(
        all.contains("DNS:ftp.example.com") && all.contains("DNS:files.example.com"),
        "{all}"
    );
    // The key belongs to the request: openssl derives the same public key from both.
    let pub_of = |args: Vec<String>| async move {
        let mut c = Command::new("openssl");
        c.args(args);
        String::from_utf8_lossy(&run(c).await.stdout).to_string()
    };
    let from_req = pub_of(vec![
        "req".into(),
        "-in".into(),
        req.display().to_string(),
        "-noout".into(),
        "-pubkey".into(),
    ])
    .await;
    let from_key = pub_of(vec![
        "pkey".into(),
        "-in".into(),
        key.display().to_string(),
        "-pubout".into(),
    ])
    .await;
    assert!(from_req.contains("BEGIN PUBLIC KEY") && from_req == from_key);
    // A second request into the same folder never replaces the key.
    let out = csr(&["--out", "req"]).await;
    assert!(
        !out.status.success() && text(&out).contains("key.pem exists"),
        "{}",
        text(&out)
    );
    // Names that cannot be in a certificate are refused.
    let out = csr(&["--san", "bad name", "--out", "other"]).await;
    assert!(
        !out.status.success() && text(&out).contains("not a host name"),
        "{}",
        text(&out)
    );
}
