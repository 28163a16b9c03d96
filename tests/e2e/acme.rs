//! Certificates from an ACME CA: Debian's `pebble` (a real RFC 8555 server, started here on
//! loopback with its own HTTPS certificate) issues for `localhost` after checking the
//! challenge against the server's responder, HTTP-01 and TLS-ALPN-01. curl then connects
//! over FTPS trusting only pebble's root. Also: a CA that cannot be reached leaves the
//! placeholder in service, and a restart reuses the account and the certificate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ftpsd::acme::section::{AcmeSection, Challenge};
use ftpsd_e2e::TestServer;
use ftpsd_e2e::tools::{run, text};

/// A port free now (bound then released): pebble and the responder need fixed numbers.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Pebble {
    child: Option<Child>,
    /// (directory, management, http, tls) ports, to start a forgetful twin on the same ones.
    ports: (u16, u16, u16, u16),
    _dir: tempfile::TempDir,
    directory: String,
    management: SocketAddr,
    /// The certificate pebble's own HTTPS uses (self-signed, for localhost/127.0.0.1).
    https_cert: PathBuf,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Pebble {
    /// Starts pebble; it checks HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`.
    async fn start(http_port: u16, tls_port: u16) -> Pebble {
        // Its two own ports are picked free and bound by pebble a moment later: a parallel
        // test may take one in between, so a pebble that exits is started again elsewhere.
        for _ in 0..3 {
            if let Some(p) = Self::start_on((free_port(), free_port(), http_port, tls_port)).await {
                return p;
            }
        }
        panic!("pebble exited three times (its ports were taken)");
    }

    /// Whether the pebble process ended (its ports were taken between `free_port` and its
    /// bind by a parallel test).
    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().is_ok_and(|s| s.is_some()))
    }

    /// A new pebble on the same ports: same directory URL, but it knows no accounts.
    /// (Its HTTPS certificate stays the same, as the server's `ca_root` names it.)
    async fn restarted(mut self) -> Pebble {
        let ports = self.ports;
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        Self::start_in(ports, dir)
            .await
            .expect("pebble restarted on its ports")
    }

    async fn start_on(ports: (u16, u16, u16, u16)) -> Option<Pebble> {
        let dir = tempfile::tempdir().unwrap();
        let g = ftpsd::tls::generate(&ftpsd::tls::CertRequest::for_names(
            "localhost",
            &["127.0.0.1"],
            30,
        ))
        .unwrap();
        g.write_to(dir.path()).unwrap();
        Self::start_in(ports, dir).await
    }

    async fn start_in(ports: (u16, u16, u16, u16), dir: tempfile::TempDir) -> Option<Pebble> {
        let (listen, management, http_port, tls_port) = ports;
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            // No random waits before validating, no deliberately refused nonces.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (apt-get install pebble; cargo xtask test installs it)");
        let mut pebble = Pebble {
            child: Some(child),
            ports,
            directory: format!("https://127.0.0.1:{listen}/dir"),
            management: ([127, 0, 0, 1], management).into(),
            https_cert: dir.path().join("cert.pem"),
            _dir: dir,
        };
        // Ready when its directory answers.
        let url = pebble.directory.clone();
        let ca = pebble.https_cert.clone();
        let up = ftpsd_e2e::bounded("pebble up", async {
            loop {
                let out = run(curl(&ca, &url)).await;
                if out.status.success() {
                    return true;
                }
                if pebble.exited() {
                    return false;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
        .await;
        up.then_some(pebble)
    }

    /// Pebble's root: what a client trusts to accept what pebble issued.
    async fn root(&self, to: &Path) {
        let out = run(curl(
            &self.https_cert,
            &format!("https://{}/roots/0", self.management),
        ))
        .await;
        assert!(out.status.success(), "{}", text(&out));
        std::fs::write(to, &out.stdout).unwrap();
    }

    fn section(&self, challenge: Challenge, listen: u16) -> AcmeSection {
        AcmeSection {
            domains: vec!["localhost".into()],
            contact: vec!["mailto:ops@example.com".into()],
            directory: self.directory.clone(),
            challenge,
            listen: Some(([127, 0, 0, 1], listen).into()),
            ca_root: Some(self.https_cert.clone()),
            renew_before_days: 30,
            retry_secs: 1,
        }
    }
}

fn curl(ca: &Path, url: &str) -> Command {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .arg(url);
    c
}

/// The certificate file holds one issued by a CA (not the self-signed placeholder).
fn issued(cert: &Path) -> bool {
    let pem = std::fs::read(cert).ok();
    matches!(
        ftpsd::acme::renew::due(pem.as_deref(), &["localhost".into()], 0, 30),
        ftpsd::acme::renew::Due::At(_)
    )
}

/// curl over explicit FTPS to `localhost`, trusting only `root`: lists alice's home.
async fn curl_lists(srv: &TestServer, root: &Path) -> std::process::Output {
    let port = srv.explicit().port();
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "15", "--ssl-reqd", "--cacert"])
        .arg(root)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .args(["-u", "alice:alice-pass"])
        .arg(format!("ftp://localhost:{port}/"));
    run(c).await
}

async fn issues_with(challenge: Challenge) {
    let (http_port, tls_port) = (free_port(), free_port());
    let pebble = Pebble::start(http_port, tls_port).await;
    let listen = match challenge {
        Challenge::Http01 => http_port,
        Challenge::TlsAlpn01 => tls_port,
    };
    let section = pebble.section(challenge, listen);
    let srv = TestServer::builder()
        .config(move |c| c.acme = Some(section))
        .start()
        .await;
    let (cert, _, _) = srv.config.tls_paths();
    assert!(cert.starts_with(srv.config.data_dir().join("acme")));
    std::fs::write(srv.config.data_dir().join("homes/alice/hello.txt"), "hi").unwrap();
    ftpsd_e2e::until("a certificate from pebble", || issued(&cert)).await;
    let root = srv.config.data_dir().join("pebble-root.pem");
    pebble.root(&root).await;
    let out = curl_lists(&srv, &root).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello.txt"),
        "{}",
        text(&out)
    );
    // The key is private to the server; the account is kept for renewals.
    let key_mode = std::fs::metadata(srv.config.data_dir().join("acme/key.pem"))
        .unwrap()
        .permissions();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key_mode.mode() & 0o777, 0o600);
    let account = srv.config.data_dir().join("acme/account.json");
    assert!(
        std::fs::read_to_string(&account)
            .unwrap()
            .contains(&pebble.directory)
    );
    // A restart keeps the issued certificate in service: curl still trusts what it is shown,
    // and the files are the ones issued before.
    let before = (
        std::fs::read(&cert).unwrap(),
        std::fs::read(&account).unwrap(),
    );
    let srv = srv.restart().await;
    let out = curl_lists(&srv, &root).await;
    assert!(out.status.success(), "after restart: {}", text(&out));
    assert_eq!(
        before,
        (
            std::fs::read(&cert).unwrap(),
            std::fs::read(&account).unwrap()
        )
    );
    if challenge != Challenge::Http01 {
        return;
    }
    // The CA forgets the account (a new pebble on the same URL): the next order registers a
    // new one instead of failing for ever.
    let pebble = pebble.restarted().await;
    let stopped = srv.stop().await;
    std::fs::remove_file(&cert).unwrap();
    std::fs::remove_file(stopped.config.data_dir().join("acme/key.pem")).unwrap();
    let srv = stopped.start().await;
    ftpsd_e2e::until("a certificate from the new pebble", || issued(&cert)).await;
    assert_ne!(std::fs::read(&account).unwrap(), before.1, "a new account");
    pebble.root(&root).await;
    let out = curl_lists(&srv, &root).await;
    assert!(out.status.success(), "from the new CA: {}", text(&out));
}

#[tokio::test]
async fn pebble_issues_a_certificate_through_http_01_and_curl_trusts_it() {
    issues_with(Challenge::Http01).await;
}

#[tokio::test]
async fn pebble_issues_a_certificate_through_tls_alpn_01_and_curl_trusts_it() {
    issues_with(Challenge::TlsAlpn01).await;
}

#[tokio::test]
async fn an_unreachable_ca_leaves_the_placeholder_in_service() {
    let (closed, listen) = (free_port(), free_port());
    let section = AcmeSection {
        domains: vec!["localhost".into()],
        contact: vec![],
        directory: format!("https://127.0.0.1:{closed}/dir"),
        challenge: Challenge::Http01,
        listen: Some(([127, 0, 0, 1], listen).into()),
        ca_root: None,
        renew_before_days: 30,
        retry_secs: 3600,
    };
    let srv = TestServer::builder()
        .config(move |c| c.acme = Some(section))
        .start()
        .await;
    // The placeholder names the domain; a client that accepts it logs in.
    let (cert, _, _) = srv.config.tls_paths();
    let mut c = ftpsd_e2e::FtpClient::connect_plain(srv.explicit(), &cert).await;
    c.cmd_ok("NOOP", 200).await;
    assert!(!issued(&cert));
    // The responder answers only what an order waits for.
    let mut get = Command::new("curl");
    get.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "5",
    ])
    .arg(format!(
        "http://127.0.0.1:{listen}/.well-known/acme-challenge/nothing-pending"
    ));
    let out = run(get).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "404",
        "{}",
        text(&out)
    );
    // A damaged certificate file does not stop the next start: it is set aside and the
    // placeholder serves again until the CA's certificate arrives.
    drop(c);
    let stopped = srv.stop().await;
    std::fs::write(&cert, "garbage").unwrap();
    let srv = stopped.start().await;
    let mut c = ftpsd_e2e::FtpClient::connect_plain(srv.explicit(), &cert).await;
    c.cmd_ok("NOOP", 200).await;
    let aside = srv.config.data_dir().join("acme/cert.pem.damaged");
    assert_eq!(std::fs::read(aside).unwrap(), b"garbage");
}

#[tokio::test]
async fn check_config_explains_a_wrong_acme_section() {
    let dir = tempfile::tempdir().unwrap();
    let check = |acme: &str| {
        let cfg = format!("[explicit]\nlisten = \"127.0.0.1:0\"\n{acme}\n");
        std::fs::write(dir.path().join("c.toml"), cfg).unwrap();
        let mut c = Command::new(ftpsd_e2e::tools::ftpsd_bin());
        c.current_dir(dir.path())
            .args(["check-config", "--config", "c.toml"]);
        run(c)
    };
    let good = check("[acme]\ndomains = [\"ftp.example.com\"]\nchallenge = \"tls-alpn-01\"").await;
    assert!(good.status.success(), "{}", text(&good));
    assert!(
        String::from_utf8_lossy(&good.stdout).contains("acme: certificate for ftp.example.com from https://acme-v02.api.letsencrypt.org/directory (tls-alpn-01 answered on 0.0.0.0:443)"),
        "{}",
        text(&good)
    );
    assert!(
        String::from_utf8_lossy(&good.stdout)
            .contains("acme: no certificate yet: 'ftpsd serve' orders a certificate at start"),
        "{}",
        text(&good)
    );
    for (acme, says) in [
        (
            "[acme]\ndomains = [\"*.example.com\"]\nchallenge = \"http-01\"",
            "wildcard",
        ),
        (
            "[acme]\ndomains = [\"ftp.example.com\"]\nchallenge = \"dns-01\"",
            "http-01",
        ),
        (
            "[acme]\ndomains = []\nchallenge = \"http-01\"",
            "acme.domains is empty",
        ),
        (
            "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n[acme]\ndomains = [\"a.example\"]\nchallenge = \"http-01\"",
            "remove tls.cert",
        ),
        (
            "[acme]\ndomains = [\"a.example\"]\nchallenge = \"http-01\"\nca_root = \"nope.pem\"",
            "acme.ca_root",
        ),
        (
            "[acme]\ndomains = [\"a.example\"]\nchallenge = \"http-01\"\ndirectory = \"http://ca.example/dir\"",
            "https://",
        ),
        (
            "[implicit]\nlisten = \"127.0.0.1:2990\"\n[acme]\ndomains = [\"a.example\"]\nchallenge = \"tls-alpn-01\"\nlisten = \"0.0.0.0:2990\"",
            "is also [implicit] listen",
        ),
    ] {
        let out = check(acme).await;
        assert!(!out.status.success(), "{acme}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(says) && err.contains("c.toml"),
            "{acme}: {err}"
        );
    }
}
