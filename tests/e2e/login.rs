//! Connecting, TLS negotiation, login and the informational commands.

use std::time::Instant;

use ftpsd_e2e::{FtpClient, TestServer};

#[tokio::test]
async fn explicit_tls_login_and_session_commands() {
    let srv = TestServer::start().await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.login("alice", "alice-pass").await;
    c.cmd_ok("SYST", 215).await;
    c.cmd_ok("NOOP", 200).await;
    let pwd = c.cmd_ok("PWD", 257).await;
    assert!(pwd.text.starts_with("\"/\""), "{pwd:?}");
    let stat = c.cmd_ok("STAT", 211).await;
    assert!(
        stat.text.contains("Logged in as alice") && stat.text.contains("TLS"),
        "{stat:?}"
    );
    let help = c.cmd_ok("HELP", 214).await;
    assert!(help.text.contains("MLSD") && help.text.lines().count() > 2);
    c.cmd_ok("HELP RETR", 214).await;
    c.cmd_ok("HELP SITE", 214).await;
    c.cmd_ok("HELP XCRC", 214).await;
    c.cmd_ok("HELP XYZZY", 502).await;
    c.cmd_ok("QUIT", 221).await;
    assert!(c.is_closed().await);
}

#[tokio::test]
async fn feat_lists_exactly_what_is_implemented() {
    let srv = TestServer::start().await;
    let mut c = FtpClient::connect_plain(srv.explicit(), srv.cert_path()).await;
    let feat = c.cmd_ok("FEAT", 211).await;
    let mut lines: Vec<&str> = feat.text.lines().skip(1).map(str::trim).collect();
    lines.pop(); // "End"
    assert_eq!(
        lines,
        [
            "AUTH TLS",
            "AUTH SSL",
            "PBSZ",
            "PROT",
            "CCC",
            "EPRT",
            "EPSV",
            "MDTM",
            "SIZE",
            "REST STREAM",
            "TVFS",
            "UTF8",
            "MFMT",
            "AVBL",
            "XCRC",
            "XMD5",
            "XSHA1",
            "XSHA256",
            "HASH SHA-256*;SHA-1;MD5;CRC32",
            "MLST type*;size*;modify*;perm*;"
        ]
    );
}

#[tokio::test]
async fn implicit_tls_login_and_transfer_default_to_protected_data() {
    let srv = TestServer::start().await;
    srv.write("alice", "f.txt", b"implicit");
    let mut c = FtpClient::connect_implicit(srv.implicit(), srv.cert_path()).await;
    c.login("alice", "alice-pass").await;
    // No PBSZ/PROT sent: implicit FTPS protects data connections from the start.
    c.cmd_ok("TYPE I", 200).await;
    assert_eq!(c.retr("f.txt").await, b"implicit");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let srv = TestServer::start().await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER alice", 331).await;
    let t = Instant::now();
    let wrong = c.cmd("PASS nope").await;
    let wrong_time = t.elapsed();
    c.cmd_ok("USER nobody", 331).await;
    let t = Instant::now();
    let unknown = c.cmd("PASS nope").await;
    let unknown_time = t.elapsed();
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.code, 530);
    // Both pay the configured failure delay (100 ms in tests) plus one argon2 verification.
    assert!(
        wrong_time.as_millis() >= 100 && unknown_time.as_millis() >= 100,
        "{wrong_time:?} {unknown_time:?}"
    );
    // After failures a correct login still works on the same connection.
    c.login("alice", "alice-pass").await;
}

#[tokio::test]
async fn require_tls_refuses_plaintext_login_and_clear_data() {
    let srv = TestServer::start().await;
    let mut c = FtpClient::connect_plain(srv.explicit(), srv.cert_path()).await;
    let r = c.cmd_ok("USER alice", 530).await;
    assert!(r.text.contains("AUTH TLS"), "{r:?}");
    c.cmd_ok("PBSZ 0", 503).await;

    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.login("alice", "alice-pass").await;
    c.cmd_ok("PROT P", 503).await; // PBSZ first
    c.cmd_ok("PBSZ 0", 200).await;
    c.cmd_ok("PROT C", 534).await;
    // Never sent PROT P: transfers are refused with 521 before any data connection.
    c.pasv().await;
    let r = c.cmd_ok("LIST", 521).await;
    assert!(r.text.contains("PROT P"), "{r:?}");
    c.cmd_ok("PROT S", 536).await;
}

#[tokio::test]
async fn plaintext_listener_when_tls_not_required() {
    let srv = TestServer::start_tls_optional().await;
    srv.write("alice", "p.txt", b"plain ftp");
    let mut c = FtpClient::connect_plain(srv.explicit(), srv.cert_path()).await;
    c.login("alice", "alice-pass").await;
    c.cmd_ok("TYPE I", 200).await;
    assert_eq!(c.retr("p.txt").await, b"plain ftp");
}

#[tokio::test]
async fn commands_before_login_are_refused() {
    let srv = TestServer::start().await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    for cmd in [
        "PWD", "CWD /", "LIST", "RETR x", "STOR x", "PASV", "MKD d", "DELE x", "SIZE x",
    ] {
        c.cmd_ok(cmd, 530).await;
    }
    c.cmd_ok("PASS x", 503).await;
    c.cmd_ok("AUTH TLS", 503).await;
}

#[tokio::test]
async fn auth_ssl_and_tls_p_imply_protected_data() {
    let srv = TestServer::start().await;
    srv.write("alice", "x", b"xyz");
    for (mech, protected) in [
        ("SSL", true),
        ("TLS-P", true),
        ("TLS-C", false),
        ("tls", false),
    ] {
        let mut c = FtpClient::connect_plain(srv.explicit(), srv.cert_path()).await;
        c.auth(mech).await;
        c.login("alice", "alice-pass").await;
        let stat = c.cmd_ok("STAT", 211).await;
        assert_eq!(
            stat.text.contains("private (TLS)"),
            protected,
            "{mech}: {stat:?}"
        );
        if protected {
            c.data_tls = true;
            c.cmd_ok("TYPE I", 200).await;
            assert_eq!(c.retr("x").await, b"xyz", "{mech}");
        }
    }
    let mut c = FtpClient::connect_plain(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("AUTH KERBEROS_V4", 504).await;
    c.cmd_ok("AUTH", 501).await;
}
