//! Data-channel limits that must hold against attackers without hurting slow clients: a slow
//! but steady download is never "stalled", unused passive listeners go back to the range after
//! the data timeout, and no address or account holds more than its share of the ports.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ftpsd_e2e::{FtpClient, TestServer, bounded, pattern, sha256, until};

/// A data connection with a small receive window, so the server's writes wait on the client.
async fn small_window(addr: SocketAddr) -> tokio::net::TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(32 * 1024).unwrap();
    sock.connect(addr).await.unwrap()
}

/// Downloads `path` reading 64 KiB every 50 ms (about 1.3 MB/s, far below what loopback
/// moves, so the server's send buffer stays full); returns bytes and reply.
async fn slow_retr(c: &mut FtpClient, path: &str) -> (Vec<u8>, u16) {
    let addr = c.pasv().await;
    let tcp = small_window(addr).await;
    let (_, mut conn) = c.transfer_on(&format!("RETR {path}"), tcp).await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        // One read may return less than asked: fill the 64 KiB (or reach the end).
        let mut filled = 0;
        while filled < buf.len() {
            let n = conn.read(&mut buf[filled..]).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            filled += n;
        }
        got.extend_from_slice(&buf[..filled]);
        if filled < buf.len() {
            break;
        }
    }
    (got, c.read_reply().await.code)
}

#[tokio::test]
async fn a_slow_steady_download_outlasts_the_data_timeout_plain_and_tls() {
    // 12 MB at ~1.3 MB/s takes ~9 s; the data timeout is 1 s. The server's send buffer (up
    // to 4 MB) turns writable only when half of it is free again: single writes wait longer
    // than the data timeout while the client keeps reading.
    let srv = TestServer::builder()
        .config(|c| {
            c.server.data_timeout_secs = 1;
            c.explicit.as_mut().unwrap().require_tls = false;
        })
        .start()
        .await;
    let data = pattern(12 << 20, 7);
    srv.write("alice", "big.bin", &data);
    let mut c = srv.alice().await;
    let started = Instant::now();
    let (got, code) = bounded("slow TLS download", slow_retr(&mut c, "big.bin")).await;
    assert_eq!(code, 226);
    assert_eq!(sha256(&got), sha256(&data));
    assert!(started.elapsed() > Duration::from_secs(2), "it was slow");
    c.unprotect().await;
    let (got, code) = bounded("slow plain download", slow_retr(&mut c, "big.bin")).await;
    assert_eq!(code, 226);
    assert_eq!(sha256(&got), sha256(&data));
    // A client that stops reading altogether is still cut off.
    c.protect().await;
    let addr = c.pasv().await;
    let tcp = small_window(addr).await;
    let (_, _conn) = c.transfer_on("RETR big.bin", tcp).await.unwrap();
    let r = bounded("stalled download", c.read_reply()).await;
    assert_eq!(r.code, 426, "{r:?}");
    assert!(r.text.contains("no bytes moved"), "{r:?}");
}

#[tokio::test]
async fn unused_passive_listeners_are_reclaimed_after_the_data_timeout() {
    let srv = TestServer::builder()
        .config(|c| {
            c.server.data_timeout_secs = 2;
            c.passive.max_listeners_per_ip = 0;
            c.passive.max_listeners_per_user = 0;
        })
        .start()
        .await;
    let caps = srv.server.ctx.passive_caps.clone();
    let mut sessions = Vec::new();
    for i in 0..200u32 {
        let from: IpAddr = format!("127.0.0.{}", 10 + i % 20).parse().unwrap();
        let mut c = srv.login_from(Some(from), "alice", "alice-pass").await;
        c.epsv().await;
        sessions.push(c);
    }
    assert!(caps.open_total() >= 190, "{} open", caps.open_total());
    until("every unused listener closed", || caps.open_total() == 0).await;
    // A transfer on an expired plan says so, and the sessions go on.
    let c = &mut sessions[0];
    let r = c.cmd("LIST").await;
    assert_eq!(r.code, 425, "{r:?}");
    assert!(r.text.contains("send PASV or EPSV again"), "{r:?}");
    srv.write("alice", "f.txt", b"still works");
    assert_eq!(c.retr("f.txt").await, b"still works");
}

#[tokio::test]
async fn passive_listeners_are_capped_per_address_and_per_account() {
    let srv = TestServer::builder()
        .user("bob", "bob-pass", ftpsd::fs::Rights::All)
        .config(|c| {
            c.passive.max_listeners_per_ip = 4;
            c.passive.max_listeners_per_user = 6;
        })
        .start()
        .await;
    let a: IpAddr = "127.0.0.31".parse().unwrap();
    let b: IpAddr = "127.0.0.32".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = srv.login_from(Some(a), "alice", "alice-pass").await;
        c.epsv().await;
        held.push(c);
    }
    // A fifth from the same address: refused; the same session can try again later.
    let mut fifth = srv.login_from(Some(a), "alice", "alice-pass").await;
    let r = fifth.cmd("EPSV").await;
    assert_eq!(r.code, 425, "{r:?}");
    assert!(r.text.contains("your address"), "{r:?}");
    // Another user from another address is not affected; alice from there is, at 6.
    let mut other = srv.login_from(Some(b), "bob", "bob-pass").await;
    other.epsv().await;
    for _ in 0..2 {
        let mut c = srv.login_from(Some(b), "alice", "alice-pass").await;
        c.epsv().await;
        held.push(c);
    }
    let mut seventh = srv.login_from(Some(b), "alice", "alice-pass").await;
    let r = seventh.cmd("EPSV").await;
    assert_eq!(r.code, 425, "{r:?}");
    assert!(r.text.contains("your account"), "{r:?}");
    // A session replacing its own plan never counts twice; using it frees the place.
    let c = &mut held[0];
    c.epsv().await;
    c.epsv().await;
    srv.write("alice", "f.txt", b"x");
    assert_eq!(c.retr("f.txt").await, b"x");
    let r = fifth.cmd("EPSV").await;
    assert_eq!(r.code, 229, "{r:?}");
}

#[tokio::test]
async fn when_the_range_is_exhausted_the_heaviest_address_makes_way() {
    let srv = TestServer::builder()
        .config(|c| {
            c.passive.port_min = 47100;
            c.passive.port_max = 47109;
        })
        .start()
        .await;
    let a: IpAddr = "127.0.0.41".parse().unwrap();
    let b: IpAddr = "127.0.0.42".parse().unwrap();
    // Until the range is exhausted: 10 ports, fewer if the kernel lent one of them to some
    // outgoing connection as its ephemeral port meanwhile (the machine is shared).
    let mut hoard = Vec::new();
    let refused = loop {
        let mut c = srv.login_from(Some(a), "alice", "alice-pass").await;
        let r = c.cmd("EPSV").await;
        if r.code != 229 {
            break r;
        }
        hoard.push(c);
        assert!(hoard.len() <= 10, "only 10 ports in the range");
    };
    assert!(hoard.len() >= 5, "{} listeners", hoard.len());
    assert_eq!(
        refused.code, 425,
        "the heaviest address gets no more: {refused:?}"
    );
    // Another address still gets a port: a's oldest unused listener made way.
    let mut other = srv.login_from(Some(b), "alice", "alice-pass").await;
    srv.write("alice", "f.txt", b"fair");
    assert_eq!(other.retr("f.txt").await, b"fair");
    let r = hoard[0].cmd("LIST").await;
    assert_eq!(r.code, 425, "{r:?}");
    assert!(r.text.contains("make room"), "{r:?}");
}
