//! The security invariants: no path outside the home, no FTP bounce, data connections only
//! from the control peer and only resuming this control connection's TLS session.

use std::sync::Arc;

use ftpsd_e2e::client::{server_name, tls_config};
use ftpsd_e2e::{FtpClient, TestServer};
use tokio::net::{TcpSocket, TcpStream};

#[tokio::test]
async fn traversal_and_absolute_paths_stay_inside_the_home() {
    let srv = TestServer::start().await;
    // A file next to the home that must never be reachable.
    std::fs::write(
        srv.home("alice").parent().unwrap().join("outside.txt"),
        b"secret",
    )
    .unwrap();
    srv.write("alice", "inside.txt", b"ok");
    let mut c = srv.alice().await;
    for path in [
        "../outside.txt",
        "../../outside.txt",
        "/../outside.txt",
        "sub/../../outside.txt",
        "/etc/passwd",
        "../../../../etc/passwd",
    ] {
        let r = c.download(&format!("RETR {path}")).await.unwrap_err();
        assert_eq!(r.code, 550, "{path}: {r:?}");
    }
    c.cmd_ok("CWD ../../..", 250).await;
    assert!(c.cmd_ok("PWD", 257).await.text.starts_with("\"/\""));
    assert_eq!(c.retr("inside.txt").await, b"ok");
    assert_eq!(c.upload("STOR ../escape.txt", b"x").await.code, 226);
    assert!(srv.exists("alice", "escape.txt"), "clamped to the home");
    assert!(
        !srv.home("alice")
            .parent()
            .unwrap()
            .join("escape.txt")
            .exists()
    );
}

#[tokio::test]
async fn hostile_bytes_in_names_are_refused() {
    let srv = TestServer::start().await;
    let mut c = srv.alice().await;
    c.send_raw(b"MKD a\0b\r\n").await;
    assert_eq!(c.read_reply().await.code, 553);
    c.cmd_ok("MKD ..\\..\\x", 553).await;
    c.cmd_ok(&format!("MKD {}", "n".repeat(300)), 553).await;
    c.cmd_ok("MKD ok", 257).await;
}

#[tokio::test]
async fn symlinks_cannot_escape() {
    let srv = TestServer::start().await;
    let home = srv.home("alice");
    let outside = home.parent().unwrap().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink(&outside, home.join("link-out")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", home.join("passwd")).unwrap();
    std::fs::create_dir_all(home.join("real")).unwrap();
    std::fs::write(home.join("real/in.txt"), b"inside").unwrap();
    std::os::unix::fs::symlink("real", home.join("link-in")).unwrap();
    let mut c = srv.alice().await;
    assert_eq!(
        c.download("RETR link-out/secret.txt")
            .await
            .unwrap_err()
            .code,
        550
    );
    assert_eq!(c.download("RETR passwd").await.unwrap_err().code, 550);
    c.cmd_ok("CWD link-out", 550).await;
    assert_eq!(c.upload("STOR link-out/new.txt", b"x").await.code, 550);
    assert!(!outside.join("new.txt").exists());
    // A symlink that stays inside works; escaping ones are hidden from listings.
    assert_eq!(c.retr("link-in/in.txt").await, b"inside");
    let names = c.list("NLST").await;
    assert!(
        names.contains("link-in") && !names.contains("link-out") && !names.contains("passwd"),
        "{names}"
    );
}

#[tokio::test]
async fn no_ftp_bounce() {
    let srv = TestServer::start().await;
    let mut c = srv.alice().await;
    c.cmd_ok("PORT 127,0,0,2,40,0", 504).await;
    c.cmd_ok("PORT 10,0,0,1,40,0", 504).await;
    c.cmd_ok("EPRT |1|127.0.0.2|10240|", 504).await;
    c.cmd_ok("EPRT |2|::1|10240|", 504).await;
    let r = c.cmd_ok("PORT 127,0,0,1,0,21", 504).await;
    assert!(r.text.contains("privileged"), "{r:?}");
    c.cmd_ok("EPRT |1|127.0.0.1|1023|", 504).await;
    c.cmd_ok("PORT 127,0,0,1,4,0", 200).await; // 1024 is fine
}

#[tokio::test]
async fn data_connection_from_another_address_is_refused() {
    let srv = TestServer::start().await;
    srv.write("alice", "f.txt", b"for alice only");
    let mut c = srv.alice().await;
    let addr = c.pasv().await;
    // The intruder connects first, from 127.0.0.2.
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut intruder = sock.connect(addr).await.unwrap();
    let real = TcpStream::connect(addr).await.unwrap();
    let (_, mut conn) = c.transfer_on("RETR f.txt", real).await.unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"for alice only");
    assert_eq!(c.read_reply().await.code, 226);
    // The intruder got nothing but a closed connection.
    let mut buf = [0u8; 16];
    let n = tokio::io::AsyncReadExt::read(&mut intruder, &mut buf)
        .await
        .unwrap_or(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn data_tls_must_resume_this_control_session() {
    must_resume_this_control_session(false).await;
}

#[tokio::test]
async fn data_tls_1_2_must_resume_this_control_session() {
    // TLS 1.2 resumes by session ID or ticket and carries no token: the server finds only the
    // sessions of the control session at hand (curl --tls-max 1.2 and lftp rely on this).
    must_resume_this_control_session(true).await;
}

/// The client's TLS config: the tests' default (TLS 1.3), or TLS 1.2 only.
fn client_tls(srv: &TestServer, tls12_only: bool) -> Arc<rustls::ClientConfig> {
    if !tls12_only {
        return tls_config(srv.cert_path());
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::pem::PemObject::pem_file_iter(srv.cert_path()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn must_resume_this_control_session(tls12_only: bool) {
    let srv = TestServer::builder()
        .user("bob", "bob-pass", ftpsd::fs::Rights::All)
        .start()
        .await;
    srv.write("alice", "f.txt", b"data");
    let login = |cfg: Arc<rustls::ClientConfig>| {
        let srv = &srv;
        async move {
            let mut c = FtpClient::connect_explicit_with(srv.explicit(), cfg).await;
            c.login("alice", "alice-pass").await;
            c.protect().await;
            c
        }
    };

    // 1. A client that does not resume at all.
    let mut cfg = (*client_tls(&srv, tls12_only)).clone();
    cfg.resumption = rustls::client::Resumption::disabled();
    let mut c = login(Arc::new(cfg)).await;
    let (_, mut conn) = c.open_transfer("RETR f.txt").await.unwrap();
    let mut buf = Vec::new();
    let _ = conn.read_to_end(&mut buf).await;
    assert!(buf.is_empty());
    let r = c.read_reply().await;
    assert_eq!(r.code, 522, "{r:?}");
    assert!(r.text.contains("session reuse"), "{r:?}");

    // 2. A data connection that offers *another* control connection's session. The other
    //    connection is a stranger at the same address that has not logged in: its keys may be
    //    resumed only tentatively (user mode, see tls::scope) and count only if it logs in as
    //    alice. It leaves instead: refused, and no data went over it.
    let mut a = login(client_tls(&srv, tls12_only)).await;
    for stranger_logs_in_as in [None, Some(("bob", "bob-pass"))] {
        let other_cfg = client_tls(&srv, tls12_only);
        let mut b = FtpClient::connect_explicit_with(srv.explicit(), other_cfg.clone()).await;
        b.cmd_ok("NOOP", 200).await; // reading delivers the session tickets
        let addr = a.pasv().await;
        a.cmd_ok("RETR f.txt", 150).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(other_cfg)
            .connect(server_name(), tcp)
            .await;
        match stranger_logs_in_as {
            None => {
                b.cmd_ok("QUIT", 221).await;
            }
            Some((user, pass)) => b.login(user, pass).await,
        };
        if let Ok(mut tls) = tls {
            let mut buf = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut buf).await;
            assert!(buf.is_empty(), "no data over a foreign session");
        }
        assert_eq!(a.read_reply().await.code, 522);
    }

    // 3. The client resuming its own session works on the same control connection, also for
    //    uploads and again after them.
    assert_eq!(a.retr("f.txt").await, b"data");
    a.stor("up.txt", b"up").await;
    assert_eq!(a.retr("up.txt").await, b"up");

    // 4. A new control connection of a client may resume its earlier session (no full
    //    handshake), and its data connections then resume that session too.
    let cfg = client_tls(&srv, tls12_only);
    let mut first = login(cfg.clone()).await;
    assert_eq!(first.retr("f.txt").await, b"data");
    first.cmd_ok("QUIT", 221).await;
    let mut again = login(cfg).await;
    assert_eq!(
        again.control_handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    assert_eq!(again.retr("f.txt").await, b"data");
    again.stor("up2.txt", b"up2").await;
    assert_eq!(again.retr("up2.txt").await, b"up2");
}

#[tokio::test]
async fn session_reuse_check_can_be_switched_off_per_listener() {
    let srv = TestServer::builder()
        .config(|c| {
            c.explicit.as_mut().unwrap().require_session_reuse = ftpsd::tls::SessionReuse::Off
        })
        .start()
        .await;
    srv.write("alice", "f.txt", b"data");
    let mut cfg = (*tls_config(srv.cert_path())).clone();
    cfg.resumption = rustls::client::Resumption::disabled();
    let mut c = FtpClient::connect_explicit_with(srv.explicit(), Arc::new(cfg)).await;
    c.login("alice", "alice-pass").await;
    c.protect().await;
    assert_eq!(c.retr("f.txt").await, b"data");
}

#[tokio::test]
async fn tls_min_version_1_3_refuses_tls_1_2_clients() {
    let srv = TestServer::builder()
        .config(|c| c.tls.min_version = ftpsd::tls::MinVersion::Tls13)
        .start()
        .await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::pem::PemObject::pem_file_iter(srv.cert_path()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls12_only = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(srv.implicit()).await.unwrap();
    let refused = tokio_rustls::TlsConnector::from(Arc::new(tls12_only))
        .connect(server_name(), tcp)
        .await;
    assert!(refused.is_err(), "TLS 1.2 handshake must fail");
    // TLS 1.3 clients are served.
    let mut c = FtpClient::connect_implicit(srv.implicit(), srv.cert_path()).await;
    c.login("alice", "alice-pass").await;
}

#[tokio::test]
async fn active_mode_source_port_is_control_port_minus_one() {
    // The port below the server's (kernel-chosen) control port can be in use by another test's
    // socket; the server then answers 425 "cannot bind", and the test tries a new server.
    for _attempt in 0..5 {
        let srv = TestServer::builder()
            .config(|c| c.active.source_port_minus_one = true)
            .start()
            .await;
        srv.write("alice", "f", b"from port minus one");
        let mut c = srv.alice().await;
        let l = c.eprt_listener().await;
        c.cmd_ok("RETR f", 150).await;
        let tcp = tokio::select! {
            accepted = l.accept() => {
                let (tcp, from) = accepted.unwrap();
                assert_eq!(from.port(), srv.explicit().port() - 1);
                tcp
            }
            refused = c.read_reply() => {
                assert!(refused.code == 425 && refused.text.contains("cannot bind"), "{refused:?}");
                continue;
            }
            _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {
                panic!("timed out: the server neither connected nor answered")
            }
        };
        let mut tls = tokio_rustls::TlsConnector::from(c.tls.clone())
            .connect(server_name(), tcp)
            .await
            .unwrap();
        let mut got = Vec::new();
        ftpsd_e2e::bounded(
            "data",
            tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut got),
        )
        .await
        .unwrap();
        assert_eq!(got, b"from port minus one");
        assert_eq!(c.read_reply().await.code, 226);
        return;
    }
    panic!("the port below the control port was busy in 5 servers in a row");
}

#[tokio::test]
async fn names_with_line_breaks_cannot_forge_listing_entries() {
    // A file made outside FTP whose name holds CR LF and a fake `ls -l` line would, listed
    // as is, show the client an entry that does not exist. Such names are not listed at all.
    let srv = TestServer::start().await;
    let home = srv.home("alice");
    let forged = "x\r\n-rw-r--r-- 1 ftp ftp 666 Jan  1 00:00 forged.exe";
    std::fs::write(home.join(forged), b"hidden").unwrap();
    std::fs::write(home.join("lf\nname"), b"hidden").unwrap();
    std::fs::write(home.join("real.txt"), b"real").unwrap();
    let mut c = srv.alice().await;
    for cmd in ["LIST", "NLST", "MLSD"] {
        let listing = c.list(cmd).await;
        assert!(listing.contains("real.txt"), "{cmd}: {listing:?}");
        assert!(
            !listing.contains("forged") && !listing.contains("name"),
            "{cmd}: {listing:?}"
        );
        assert_eq!(listing.lines().count(), 1, "{cmd}: {listing:?}");
    }
    let stat = c.cmd_ok("STAT .", 213).await;
    assert!(!stat.text.contains("forged"), "{stat:?}");
}

#[tokio::test]
async fn a_fifo_in_a_home_is_refused_not_waited_on() {
    // A FIFO (or device) put in a home by other means: reading it would wait forever and
    // hold the session (and, for HASH, the checksum turn of every user).
    let srv = TestServer::start().await;
    let fifo = srv.home("alice").join("pipe");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    srv.write("alice", "f.txt", b"abc");
    let mut c = srv.alice().await;
    for line in ["HASH pipe", "XCRC pipe"] {
        let r = ftpsd_e2e::bounded(line, c.cmd(line)).await;
        assert_eq!(r.code, 550, "{line}: {r:?}");
        assert!(r.text.contains("Not a regular file"), "{r:?}");
    }
    for line in ["RETR pipe", "APPE pipe"] {
        c.pasv().await;
        let r = ftpsd_e2e::bounded(line, c.cmd(line)).await;
        assert_eq!(r.code, 550, "{line}: {r:?}");
    }
    // The session and checksums go on.
    assert_eq!(c.cmd_ok("HASH f.txt", 213).await.code, 213);
    // A huge REST offset is answered as past the end, not as a permission problem.
    c.cmd_ok("REST 1125899906842624", 350).await;
    c.pasv().await;
    let r = c.cmd("RETR f.txt").await;
    assert_eq!(r.code, 554, "{r:?}");
}
