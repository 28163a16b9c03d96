//! Bad input and bad clients: long lines, invalid UTF-8, timeouts, limits, vanishing clients.

use std::time::Duration;

use ftpsd_e2e::{FtpClient, TestServer, pattern};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn overlong_lines_and_garbage_get_500_and_the_session_goes_on() {
    let srv = TestServer::start().await;
    let mut c = srv.alice().await;
    let long = format!("NOOP {}\r\n", "x".repeat(5000));
    c.send_raw(long.as_bytes()).await;
    assert_eq!(c.read_reply().await.code, 500);
    // 1 MiB without a newline, then a newline: one 500, no buffering of the megabyte.
    c.send_raw(&vec![b'A'; 1 << 20]).await;
    c.send_raw(b"\r\n").await;
    assert_eq!(c.read_reply().await.code, 500);
    c.send_raw(b"USER \xff\xfe\xfd\r\n").await;
    let r = c.read_reply().await;
    assert_eq!(r.code, 500);
    assert!(r.text.contains("UTF-8"), "{r:?}");
    c.cmd_ok("FOO", 500).await;
    c.cmd_ok("SITE NOSUCH 777 x", 502).await;
    c.cmd_ok("ACCT x", 502).await;
    c.cmd_ok("RETR", 501).await;
    c.cmd_ok("PORT 1,2,3", 501).await;
    c.send_raw(b"\x1b[31mEVIL\r\n").await;
    let r = c.read_reply().await;
    assert_eq!(r.code, 500);
    assert!(!r.text.contains('\x1b'));
    // Empty lines are ignored; the session is still fine.
    c.send_raw(b"\r\n").await;
    c.cmd_ok("NOOP", 200).await;
}

#[tokio::test]
async fn a_line_that_does_not_parse_is_a_command_in_between() {
    let srv = TestServer::start().await;
    srv.write("alice", "f.txt", b"0123456789");
    let mut c = srv.alice().await;
    // REST applies only to the command right after it (data setup aside): a garbage line or a
    // verb with a bad argument drops it, so the whole file comes back.
    for between in ["XYZZY", "SIZE"] {
        c.cmd_ok("REST 3", 350).await;
        assert_eq!(c.cmd(between).await.code / 100, 5, "{between}");
        assert_eq!(c.retr("f.txt").await, b"0123456789", "after {between}");
    }
    // A transfer verb behind Telnet IAC bytes (as before ABOR) with a bad argument ends the
    // pending passive listener like any refused transfer command.
    let data = c.epsv().await;
    c.send_raw(b"\xff\xf4\xff\xf2RETR\r\n").await;
    assert_eq!(c.read_reply().await.code, 501);
    let refused = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(data)).await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "the listener at {data} should be gone"
    );
    c.cmd_ok("NOOP", 200).await;
}

#[tokio::test]
async fn idle_timeout_closes_with_421() {
    let srv = TestServer::builder()
        .config(|c| c.server.idle_timeout_secs = 1)
        .start()
        .await;
    let mut c = srv.alice().await;
    let r = ftpsd_e2e::bounded("idle timeout", c.read_reply()).await;
    assert_eq!(r.code, 421, "{r:?}");
    assert!(r.text.contains("Idle timeout"));
    assert!(c.is_closed().await);
}

#[tokio::test]
async fn login_timeout_closes_with_421() {
    let srv = TestServer::builder()
        .config(|c| c.server.login_timeout_secs = 1)
        .start()
        .await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("NOOP", 200).await;
    let r = ftpsd_e2e::bounded("login timeout", c.read_reply()).await;
    assert_eq!(r.code, 421, "{r:?}");
    assert!(r.text.contains("Login timeout"));
}

#[tokio::test]
async fn tls_handshake_timeout_drops_silent_clients() {
    let srv = TestServer::builder()
        .config(|c| c.server.tls_handshake_timeout_secs = 1)
        .start()
        .await;
    // Implicit port: connect and say nothing.
    let mut tcp = TcpStream::connect(srv.implicit()).await.unwrap();
    let mut buf = [0u8; 16];
    let n = ftpsd_e2e::bounded("handshake timeout", tcp.read(&mut buf))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a word");
    // Explicit: AUTH TLS, then silence.
    let (mut c, first) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(first.code, 220);
    c.cmd_ok("AUTH TLS", 234).await;
    assert!(ftpsd_e2e::bounded("auth timeout", c.is_closed()).await);
}

#[tokio::test]
async fn max_users_and_per_ip_limits_answer_421_before_the_banner() {
    let srv = TestServer::builder()
        .config(|c| c.server.max_connections_per_ip = 2)
        .start()
        .await;
    let (_a, ra) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    let (_b, rb) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!((ra.code, rb.code), (220, 220));
    let (_c, rc) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(rc.code, 421, "{rc:?}");
    assert!(rc.text.contains("from your address"));
    // The implicit listener refuses inside TLS, so the client can read why.
    let tcp = TcpStream::connect(srv.implicit()).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(ftpsd_e2e::client::tls_config(srv.cert_path()))
        .connect(ftpsd_e2e::client::server_name(), tcp)
        .await
        .unwrap();
    let mut text = String::new();
    let _ = tls.read_to_string(&mut text).await;
    assert!(text.starts_with("421 "), "{text:?}");

    let srv = TestServer::builder()
        .config(|c| c.server.max_users = 1)
        .start()
        .await;
    let (_a, ra) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(ra.code, 220);
    let (_b, rb) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(rb.code, 421);
    assert!(rb.text.contains("Too many users"));
}

#[tokio::test]
async fn limits_are_exact_under_50_parallel_connections() {
    let srv = TestServer::builder()
        .config(|c| c.server.max_users = 10)
        .start()
        .await;
    let addr = srv.explicit();
    let cert = srv.cert_path().to_path_buf();
    let mut tasks = Vec::new();
    let (hold_tx, hold_rx) = tokio::sync::watch::channel(false);
    for _ in 0..50 {
        let cert = cert.clone();
        let mut rx = hold_rx.clone();
        tasks.push(tokio::spawn(async move {
            let (c, first) = FtpClient::connect_raw(addr, &cert).await;
            let code = first.code;
            let _ = rx.wait_for(|v| *v).await;
            drop(c);
            code
        }));
    }
    // Wait until every client has its first reply, while all still hold their connections.
    while srv.server.ctx.limits.current() < 10 {
        tokio::task::yield_now().await;
    }
    let mut codes = Vec::new();
    let _ = hold_tx.send(true);
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 220).count(), 10, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 421).count(), 40, "{codes:?}");
}

#[tokio::test]
async fn client_vanishing_mid_transfer_frees_everything() {
    let srv = TestServer::start().await;
    srv.write("alice", "big.bin", &pattern(32 * 1024 * 1024, 5));
    let mut c = srv.alice().await;
    let (_, mut conn) = c.open_transfer("RETR big.bin").await.unwrap();
    let mut buf = vec![0u8; 65536];
    assert!(conn.read(&mut buf).await.unwrap() > 0);
    assert_eq!(srv.server.ctx.limits.current(), 1);
    drop(conn);
    drop(c);
    ftpsd_e2e::bounded("session cleanup", async {
        while srv.server.ctx.limits.current() != 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // The server still serves.
    let mut c = srv.alice().await;
    c.cmd_ok("NOOP", 200).await;
}

#[tokio::test]
async fn upload_client_vanishing_is_reported_and_server_goes_on() {
    let srv = TestServer::start().await;
    let mut c = srv.alice().await;
    let (_, mut conn) = c.open_transfer("STOR part.bin").await.unwrap();
    conn.write_all(&pattern(100_000, 9)).await.unwrap();
    drop(conn); // no close_notify, no clean shutdown
    let r = c.read_reply().await;
    assert!(r.code == 226 || r.code == 426, "{r:?}");
    c.cmd_ok("NOOP", 200).await;
}

#[tokio::test]
async fn a_file_truncated_during_a_download_ends_only_that_transfer() {
    // Plain binary downloads send mapped page-cache pages; a file cut short under them must
    // end the transfer with an error (never SIGBUS the server); protected downloads read the
    // file, and say so too when it ends before the size it had.
    let srv = TestServer::start_tls_optional().await;
    let size = 32 << 20;
    let data = pattern(size, 5);
    for protected in [false, true] {
        let path = srv.write("alice", "big.bin", &data);
        let mut c = srv.alice().await;
        if !protected {
            c.unprotect().await;
        }
        let addr = c.pasv().await;
        // A small receive window keeps most of the file on the server's side of the socket.
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(64 * 1024).unwrap();
        let tcp = sock.connect(addr).await.unwrap();
        let (_, mut conn) = c.transfer_on("RETR big.bin", tcp).await.unwrap();
        let mut got = vec![0u8; 1 << 20];
        let mut n = 0;
        while n < got.len() {
            let k = conn.read(&mut got[n..]).await.unwrap();
            assert!(k > 0, "early end of data");
            n += k;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(4096)
            .unwrap();
        let mut rest = Vec::new();
        let _ = ftpsd_e2e::bounded("rest of the data", conn.read_to_end(&mut rest)).await;
        let done = c.read_reply().await;
        assert!(n + rest.len() < size, "the transfer stopped short");
        // Never a 226: a client would keep the short file as complete.
        assert_eq!(done.code, 451, "protected: {protected}, {done:?}");
        assert!(done.text.contains("shrank"), "{done:?}");
        // The server and the session go on.
        c.cmd_ok("NOOP", 200).await;
        assert_eq!(c.retr("big.bin").await.len(), 4096);
    }
}

/// Without `max_users` in the config, the server takes a quarter of its open-file limit as
/// the cap: a flood gets 421 before the banner instead of exhausting descriptors.
#[tokio::test]
async fn by_default_connections_are_capped_below_the_open_file_limit() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ftpsd.toml"),
        "[server]\ndata_dir = \"data\"\n[explicit]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let config = ftpsd::Config::load(&dir.path().join("ftpsd.toml")).unwrap();
    ftpsd::bootstrap::prepare(&config).unwrap();
    // 512 descriptors: at most 128 connections.
    let srv = ftpsd_e2e::tools::spawn_server_limited(dir.path(), Some(512)).await;
    let banner = |tcp: tokio::net::TcpStream| async move {
        let mut r = tokio::io::BufReader::new(tcp);
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        (r, line)
    };
    let mut held = Vec::new();
    for i in 0..128 {
        let tcp = tokio::net::TcpStream::connect(srv.ftp).await.unwrap();
        let (r, line) = ftpsd_e2e::bounded("banner", banner(tcp)).await;
        assert!(line.starts_with("220"), "connection {i}: {line}");
        held.push(r);
    }
    let tcp = tokio::net::TcpStream::connect(srv.ftp).await.unwrap();
    let (_, line) = ftpsd_e2e::bounded("refusal", banner(tcp)).await;
    assert!(line.starts_with("421"), "{line}");
    // One leaves; once the server has seen it go, one more gets in.
    drop(held.pop());
    ftpsd_e2e::bounded("a free place again", async {
        loop {
            let tcp = tokio::net::TcpStream::connect(srv.ftp).await.unwrap();
            let (r, line) = banner(tcp).await;
            if line.starts_with("220") {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_client_that_stops_reading_its_replies_is_ended_after_the_idle_timeout() {
    // Before, such a session waited in its write forever: past the idle timeout (which only
    // counted waiting for a command), and an admin kick could not reach it.
    let srv = TestServer::builder()
        .config(|c| c.server.idle_timeout_secs = 2)
        .start()
        .await;
    for i in 0..3000 {
        srv.write(
            "alice",
            &format!("big/{i:05}-a-file-name-long-enough-to-fill.txt"),
            b"x",
        );
    }
    let mut c = srv.alice().await;
    assert_eq!(srv.server.ctx.sessions.count(), 1);
    // Each STAT answers ~200 KB over the control connection; none is read.
    for _ in 0..200 {
        c.send_raw(b"STAT big\r\n").await;
    }
    ftpsd_e2e::until("the session is ended", || {
        srv.server.ctx.sessions.count() == 0
    })
    .await;
    let mut again = srv.alice().await;
    again.cmd_ok("NOOP", 200).await;
}

/// Clients that send without pause and never a whole line (4 of them, more than the server's
/// worker threads on a small machine) get their share of the server and no more: a new client
/// is greeted meanwhile, and the login timeout still ends each of them. (A plain control
/// connection is read again at once after each read, for urgent data; that re-read once
/// looped without ever giving its thread back while bytes kept coming.)
#[tokio::test]
async fn floods_without_a_line_neither_stall_others_nor_outlive_the_login_timeout() {
    let (_dir, server, _, _) = ftpsd_e2e::tools::binary_with("login_timeout_secs = 2\n", "").await;
    let addr = server.ftp;
    let (flowing, started) = std::sync::mpsc::channel();
    let floods: Vec<_> = (0..4)
        .map(|_| {
            let flowing = flowing.clone();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
                let mut banner = [0u8; 512];
                let _ = s.read(&mut banner).unwrap();
                let chunk = vec![b'A'; 256 * 1024];
                // Bounded even when the server never ends it (the test then fails, not hangs).
                let give_up = std::time::Instant::now() + Duration::from_secs(20);
                let mut sent = 0u64;
                while std::time::Instant::now() < give_up {
                    if s.write_all(&chunk).is_err() {
                        return Some(sent);
                    }
                    sent += chunk.len() as u64;
                    if sent == 1 << 20 {
                        let _ = flowing.send(());
                    }
                }
                None
            })
        })
        .collect();
    // The newcomer knocks once every flood has 1 MiB in.
    ftpsd_e2e::bounded(
        "the floods under way",
        tokio::task::spawn_blocking(move || {
            for _ in 0..4 {
                started.recv().unwrap();
            }
        }),
    )
    .await
    .unwrap();
    let greeted = tokio::time::timeout(Duration::from_secs(5), async {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while !got.ends_with(b"\r\n") {
            let n = c.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the banner");
            got.extend_from_slice(&buf[..n]);
        }
        got
    })
    .await
    .expect("a new client greeted within 5 s while 4 clients flood");
    assert!(greeted.starts_with(b"220"), "{greeted:?}");
    for f in floods {
        let ended = ftpsd_e2e::bounded(
            "the flooding clients",
            tokio::task::spawn_blocking(move || f.join().unwrap()),
        )
        .await
        .unwrap();
        assert!(
            ended.is_some_and(|sent| sent > 0),
            "the login timeout ends a flooding client"
        );
    }
    server.stop().await;
}
