//! Transfers: binary and ASCII, both passive forms and active mode, resume both ways,
//! APPE, STOU, ABOR mid-transfer, STAT during a transfer, CCC.

use ftpsd_e2e::{FtpClient, Storage, TestServer, bounded, on_both_storages, pattern, sha256};

on_both_storages!(
    binary_round_trip_over_pasv_and_epsv,
    many_protected_transfers_on_one_session,
    ascii_mode_converts_line_endings_both_ways,
    appe_and_stou,
    abor_during_download_then_session_goes_on,
    active_mode_with_port_and_eprt_over_tls,
    plain_binary_downloads_are_exact_across_rest_offsets_and_map_windows,
);
use tokio::net::TcpStream;

async fn binary_round_trip_over_pasv_and_epsv(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    let data = pattern(3 * 1024 * 1024 + 17, 1);
    let mut c = srv.alice().await;
    c.stor("big.bin", &data).await;
    assert_eq!(sha256(&srv.read("alice", "big.bin")), sha256(&data));
    assert_eq!(sha256(&c.retr("big.bin").await), sha256(&data));
    // EPSV
    let addr = c.epsv().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (_, mut conn) = c.transfer_on("RETR big.bin", tcp).await.unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).await.unwrap();
    assert_eq!(c.read_reply().await.code, 226);
    assert_eq!(sha256(&got), sha256(&data));
    c.cmd_ok("EPSV 2", 522).await;
    c.cmd_ok("EPSV ALL", 200).await;
    c.cmd_ok("PASV", 501).await;
    c.cmd_ok("EPRT |1|127.0.0.1|5000|", 501).await;
}

async fn many_protected_transfers_on_one_session(storage: Storage) {
    // rustls clients use each TLS 1.3 ticket once; downloads must keep them supplied.
    let srv = TestServer::start_on(storage).await;
    srv.write("alice", "f", b"data");
    let mut c = srv.alice().await;
    for _ in 0..12 {
        assert_eq!(c.retr("f").await, b"data");
    }
    for i in 0..3 {
        c.stor(&format!("u{i}"), b"up").await;
        assert_eq!(c.retr("f").await, b"data");
    }
}

#[tokio::test]
async fn data_tls_handshake_before_the_transfer_command_is_answered_at_once() {
    // curl's order: EPSV, connect, ClientHello, and only then TYPE/SIZE/RETR on the control
    // connection. The handshake must complete without a transfer command in sight.
    let srv = TestServer::start().await;
    let data = pattern(200_000, 7);
    srv.write("alice", "f", &data);
    let mut c = srv.alice().await;
    for _ in 0..10 {
        let addr = c.epsv().await;
        let mut conn = bounded(
            "TLS handshake before RETR",
            FtpClient::early_data_tls(addr, c.tls.clone()),
        )
        .await
        .expect("early handshake resumes the control session");
        c.cmd_ok("SIZE f", 213).await;
        c.cmd_ok("RETR f", 150).await;
        let mut got = Vec::new();
        let read = bounded("data", conn.read_to_end(&mut got)).await;
        let done = c.read_reply().await;
        assert_eq!(done.code, 226, "{done:?}");
        read.expect("the download ends with close_notify");
        assert_eq!(sha256(&got), sha256(&data));
    }
    // Uploads too: the early handshake sends no tickets, so nothing is left unread.
    let addr = c.epsv().await;
    let mut conn = FtpClient::early_data_tls(addr, c.tls.clone())
        .await
        .unwrap();
    c.cmd_ok("STOR up", 150).await;
    conn.write_all(&data).await.unwrap();
    conn.shutdown().await.unwrap();
    assert_eq!(c.read_reply().await.code, 226);
    assert_eq!(sha256(&srv.read("alice", "up")), sha256(&data));
}

#[tokio::test]
async fn early_data_handshake_still_checks_session_reuse_and_protection() {
    let srv = TestServer::start_tls_optional().await;
    srv.write("alice", "f", b"secret");
    let mut c = srv.alice().await;
    // A fresh client session (not resuming the control one) is refused at the transfer.
    let addr = c.epsv().await;
    let stranger = ftpsd_e2e::client::tls_config(&srv.cert);
    let conn = FtpClient::early_data_tls(addr, stranger).await;
    c.cmd_ok("RETR f", 150).await;
    let r = c.read_reply().await;
    assert_eq!(r.code, 522, "{r:?}");
    if let Ok(mut conn) = conn {
        let mut got = Vec::new();
        let _ = conn.read_to_end(&mut got).await;
        assert!(got.is_empty(), "no file bytes on a refused connection");
    }
    // Secured early, then PROT C: refused, not sent in clear or over the wrong protection.
    let addr = c.epsv().await;
    let _conn = FtpClient::early_data_tls(addr, c.tls.clone())
        .await
        .unwrap();
    c.cmd_ok("PROT C", 200).await;
    c.cmd_ok("RETR f", 150).await;
    let r = c.read_reply().await;
    assert_eq!(r.code, 425, "{r:?}");
    // The session goes on.
    c.protect().await;
    assert_eq!(c.retr("f").await, b"secret");
}

async fn ascii_mode_converts_line_endings_both_ways(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    srv.write("alice", "unix.txt", b"line1\nline2\n\nend");
    let mut c = srv.alice().await;
    c.cmd_ok("TYPE A", 200).await;
    assert_eq!(c.retr("unix.txt").await, b"line1\r\nline2\r\n\r\nend");
    c.stor("up.txt", b"a\r\nb\r\nc").await;
    assert_eq!(srv.read("alice", "up.txt"), b"a\nb\nc");
    c.cmd_ok("TYPE I", 200).await;
    assert_eq!(c.retr("unix.txt").await, b"line1\nline2\n\nend");
}

#[tokio::test]
async fn rest_resumes_downloads_and_uploads() {
    let srv = TestServer::builder()
        .users_toml(&format!(
            "[[user]]\nname = \"res\"\npassword = \"{}\"\n[[user.mount]]\npath = \"{{DIR}}/res\"\nrights = \"rw\"\nmode = \"resumable\"\n",
            TestServer::hash("res-pass")
        ))
        .start()
        .await;
    let data = pattern(500_000, 2);
    srv.write("alice", "r.bin", &data);
    let mut c = srv.alice().await;
    c.cmd_ok("REST 123456", 350).await;
    assert_eq!(c.retr("r.bin").await, &data[123_456..]);
    // REST applies once.
    assert_eq!(c.retr("r.bin").await.len(), data.len());
    // REST beyond the end.
    c.cmd_ok("REST 99999999", 350).await;
    let r = c.download("RETR r.bin").await.unwrap_err();
    assert_eq!(r.code, 554, "{r:?}");
    // Upload resume on an atomic folder (the default): prefix kept, tail replaced, atomically.
    srv.write("alice", "partial.bin", &data[..200_000]);
    c.cmd_ok("REST 200000", 350).await;
    c.stor("partial.bin", &data[200_000..]).await;
    assert_eq!(sha256(&srv.read("alice", "partial.bin")), sha256(&data));
    let names: Vec<_> = std::fs::read_dir(srv.home("alice"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().starts_with(".ftpsd-upload-")),
        "{names:?}"
    );
    // An interrupted atomic resume leaves the old partial file as it was.
    srv.write("alice", "partial.bin", &data[..200_000]);
    c.cmd_ok("REST 100000", 350).await;
    let (_, mut conn) = c.open_transfer("STOR partial.bin").await.unwrap();
    conn.write_all(&data[100_000..150_000]).await.unwrap();
    drop(conn);
    assert_eq!(c.read_reply().await.code, 426);
    assert_eq!(srv.read("alice", "partial.bin"), &data[..200_000]);
    // On a resumable folder: first part on disk, the rest sent after REST.
    let res_dir = srv.dir.path().join("res");
    std::fs::create_dir_all(&res_dir).unwrap();
    std::fs::write(res_dir.join("partial.bin"), &data[..200_000]).unwrap();
    let mut r = srv.login_as("res", "res-pass").await;
    r.cmd_ok("REST 200000", 350).await;
    r.stor("partial.bin", &data[200_000..]).await;
    assert_eq!(
        sha256(&std::fs::read(res_dir.join("partial.bin")).unwrap()),
        sha256(&data)
    );
}

async fn appe_and_stou(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    let mut c = srv.alice().await;
    if storage == Storage::S3 {
        // Objects cannot grow: APPE is refused with the reason, and nothing is stored.
        let r = c.upload("APPE log.txt", b"one,").await;
        assert_eq!(r.code, 504, "{r:?}");
        assert!(!srv.exists("alice", "log.txt"));
        c.stor("log.txt", b"one,two").await;
    } else {
        assert_eq!(c.upload("APPE log.txt", b"one,").await.code, 226);
        assert_eq!(c.upload("APPE log.txt", b"two").await.code, 226);
    }
    assert_eq!(srv.read("alice", "log.txt"), b"one,two");
    let (prelim, mut conn) = c.open_transfer("STOU log.txt").await.unwrap();
    assert!(prelim.text.starts_with("FILE: log.txt.1"), "{prelim:?}");
    conn.write_all(b"unique").await.unwrap();
    conn.shutdown().await.unwrap();
    let done = c.read_reply().await;
    assert_eq!(done.code, 226);
    assert!(done.text.contains("log.txt.1"), "{done:?}");
    assert_eq!(srv.read("alice", "log.txt.1"), b"unique");
    assert_eq!(srv.read("alice", "log.txt"), b"one,two");
    // STOU dir/name stores in dir, and names the path; without a name, `file`, `file.1`.
    c.cmd_ok("MKD sub", 257).await;
    let (prelim, mut conn) = c.open_transfer("STOU sub/log.txt").await.unwrap();
    assert!(prelim.text.starts_with("FILE: /sub/log.txt"), "{prelim:?}");
    conn.write_all(b"in sub").await.unwrap();
    conn.shutdown().await.unwrap();
    assert_eq!(c.read_reply().await.code, 226);
    assert_eq!(srv.read("alice", "sub/log.txt"), b"in sub");
    for expected in ["file", "file.1"] {
        let (prelim, mut conn) = c.open_transfer("STOU").await.unwrap();
        assert!(
            prelim.text.starts_with(&format!("FILE: {expected}")),
            "{prelim:?}"
        );
        conn.shutdown().await.unwrap();
        assert_eq!(c.read_reply().await.code, 226);
    }
}

async fn abor_during_download_then_session_goes_on(storage: Storage) {
    // Protected downloads (read path) and plain ones (mapped pages) alike.
    let srv = TestServer::start_tls_optional_on(storage).await;
    srv.write("alice", "huge.bin", &pattern(64 * 1024 * 1024, 3));
    srv.write("alice", "small", b"still works");
    for protected in [true, false] {
        let mut c = srv.alice().await;
        if !protected {
            c.unprotect().await;
        }
        let (_, mut conn) = c.open_transfer("RETR huge.bin").await.unwrap();
        let mut buf = vec![0u8; 65536];
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0);
        // STAT during the transfer reports progress.
        let stat = c.cmd_ok("STAT", 213).await;
        assert!(stat.text.contains("RETR /huge.bin"), "{stat:?}");
        // ABOR with the Telnet interrupt sequence, as clients send it.
        c.send_raw(b"\xff\xf4\xff\xf2ABOR\r\n").await;
        let first = c.read_reply().await;
        let second = c.read_reply().await;
        assert_eq!(
            (first.code, second.code),
            (426, 226),
            "{first:?} {second:?}"
        );
        drop(conn);
        c.cmd_ok("NOOP", 200).await;
        c.cmd_ok("ABOR", 225).await;
        assert_eq!(c.retr("small").await, b"still works");
    }
}

#[tokio::test]
async fn ccc_returns_control_to_plaintext_and_data_stays_protected() {
    let srv = TestServer::start().await;
    srv.write("alice", "secret.txt", b"protected payload");
    let mut c = srv.alice().await;
    let r = c.ccc().await;
    assert_eq!(r.code, 200, "{r:?}");
    // Plaintext commands now, data connections still TLS.
    c.cmd_ok("NOOP", 200).await;
    c.cmd_ok("PWD", 257).await;
    assert_eq!(c.retr("secret.txt").await, b"protected payload");
    c.cmd_ok("CCC", 533).await;
    c.cmd_ok("QUIT", 221).await;
}

#[tokio::test]
async fn ccc_needs_login_and_tls() {
    let srv = TestServer::start_tls_optional().await;
    let mut c = FtpClient::connect_plain(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("CCC", 533).await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("CCC", 533).await;
}

async fn active_mode_with_port_and_eprt_over_tls(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    srv.write("alice", "act.txt", b"active data");
    let mut c = srv.alice().await;
    for verb in ["EPRT", "PORT"] {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        if verb == "EPRT" {
            c.cmd_ok(&format!("EPRT |1|127.0.0.1|{port}|"), 200).await;
        } else {
            c.cmd_ok(
                &format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff),
                200,
            )
            .await;
        }
        let (got, _) = c.active_download(&l, "RETR act.txt").await;
        assert_eq!(got, b"active data");
    }
}

#[tokio::test]
async fn active_mode_can_be_disabled_and_passive_too() {
    let srv = TestServer::builder()
        .config(|c| {
            c.active.enabled = false;
            c.passive.enabled = false;
        })
        .start()
        .await;
    let mut c = srv.alice().await;
    c.cmd_ok("PORT 127,0,0,1,20,0", 502).await;
    c.cmd_ok("EPRT |1|127.0.0.1|5120|", 502).await;
    c.cmd_ok("PASV", 502).await;
    c.cmd_ok("EPSV", 502).await;
    c.cmd_ok("RETR x", 425).await;
}

#[tokio::test]
async fn exhausted_passive_range_is_a_clear_425() {
    // Hold the only port of the range ourselves.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let srv = TestServer::builder()
        .config(move |c| {
            c.passive.port_min = port;
            c.passive.port_max = port;
        })
        .start()
        .await;
    let mut c = srv.alice().await;
    let r = c.cmd_ok("PASV", 425).await;
    assert!(r.text.contains(&format!("{port}-{port}")), "{r:?}");
    c.cmd_ok("EPSV", 425).await;
    drop(holder);
    c.pasv().await;
}

#[tokio::test]
async fn passive_advertised_address_and_overrides() {
    let srv = TestServer::builder()
        .config(|c| {
            c.passive.advertise = Some(ftpsd::config::PassiveAddress::Ip(
                "203.0.113.9".parse().unwrap(),
            ));
            c.passive.overrides = vec![ftpsd::config::PassiveOverride {
                clients: "127.0.0.0/8".parse().unwrap(),
                advertise: ftpsd::config::PassiveAddress::Host("localhost".into()),
            }];
        })
        .start()
        .await;
    let mut c = srv.alice().await;
    // Loopback clients match the override (a host name resolved now).
    assert_eq!(c.pasv().await.ip().to_string(), "127.0.0.1");
    let srv2 = TestServer::builder()
        .config(|c| {
            c.passive.advertise = Some(ftpsd::config::PassiveAddress::Ip(
                "203.0.113.9".parse().unwrap(),
            ))
        })
        .start()
        .await;
    let mut c2 = srv2.alice().await;
    assert_eq!(c2.pasv().await.ip().to_string(), "203.0.113.9");
}

async fn plain_binary_downloads_are_exact_across_rest_offsets_and_map_windows(storage: Storage) {
    // PROT C binary downloads send mapped pages 8 MiB at a time; offsets that are not
    // page-aligned and files that end mid-page must come out byte for byte.
    let srv = TestServer::start_tls_optional_on(storage).await;
    let data = pattern((20 << 20) + 77, 11);
    srv.write("alice", "f.bin", &data);
    let mut c = srv.alice().await;
    c.unprotect().await;
    assert_eq!(sha256(&c.retr("f.bin").await), sha256(&data));
    for rest in [
        1usize,
        4095,
        5000,
        (8 << 20) - 1,
        (8 << 20) + 123,
        data.len() - 1,
    ] {
        c.cmd_ok(&format!("REST {rest}"), 350).await;
        assert_eq!(
            sha256(&c.retr("f.bin").await),
            sha256(&data[rest..]),
            "REST {rest}"
        );
    }
    c.cmd_ok(&format!("REST {}", data.len()), 350).await;
    assert!(c.retr("f.bin").await.is_empty());
    srv.write("alice", "empty", b"");
    assert!(c.retr("empty").await.is_empty());
}

#[tokio::test]
async fn downloads_of_a_file_not_in_memory_are_exact() {
    // A file evicted from the page cache is read on the blocking pool (TLS and plain alike),
    // chunk by chunk until its pages are cached again; the bytes must not change on the way.
    let srv = TestServer::start_tls_optional().await;
    let data = pattern((18 << 20) + 4321, 23);
    let path = srv.write("alice", "cold.bin", &data);
    let evict = || {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(&path).unwrap();
        f.sync_all().unwrap();
        // SAFETY: advice on an open descriptor; clean pages are simply dropped.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        // SAFETY: fstatfs fills the zeroed struct it is given.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        unsafe { libc::fstatfs(f.as_raw_fd(), &mut fs) };
        let tmpfs = fs.f_type == libc::TMPFS_MAGIC;
        // Where the kernel can tell (cachestat) and the filesystem can evict (not tmpfs, whose
        // pages are the file), the file really is cold now.
        let cached = ftpsd::data::page_cache::fully_cached(&f, 0, data.len() as u64, 4096);
        assert!(
            tmpfs || cached != Some(true),
            "the test file is still cached"
        );
    };
    let mut c = srv.alice().await;
    for protect in [true, false] {
        if !protect {
            c.unprotect().await;
        }
        evict();
        assert_eq!(
            sha256(&c.retr("cold.bin").await),
            sha256(&data),
            "protected: {protect}"
        );
        evict();
        c.cmd_ok("REST 5000000", 350).await;
        assert_eq!(
            sha256(&c.retr("cold.bin").await),
            sha256(&data[5_000_000..]),
            "REST, protected: {protect}"
        );
    }
}

/// Python's plain `ftplib.FTP.abort()` sends `ABOR\r\n` with MSG_OOB, which makes its last
/// byte urgent; without SO_OOBINLINE the kernel takes that `\n` out of the stream, the server
/// never sees a whole ABOR line, and the transfer runs on until the data timeout.
#[tokio::test]
async fn python_ftplib_abort_with_urgent_data_ends_uploads_and_downloads_at_once() {
    let srv = TestServer::start_tls_optional_on(Storage::Local).await;
    srv.write("alice", "huge.bin", &pattern(64 * 1024 * 1024, 3));
    let script = format!(
        "import ftplib\n\
         f = ftplib.FTP(timeout=10)\n\
         f.connect('127.0.0.1', {port})\n\
         f.login('alice', 'alice-pass')\n\
         conn = f.transfercmd('STOR cut.bin')\n\
         conn.sendall(b'x' * 1000000)\n\
         print('upload', f.abort()[:3], f.getline()[:3])\n\
         conn.close()\n\
         conn = f.transfercmd('RETR huge.bin')\n\
         got = 0\n\
         while got < 1000000: got += len(conn.recv(65536))\n\
         print('download', f.abort()[:3], f.getline()[:3])\n\
         conn.close()\n\
         print('then', f.sendcmd('NOOP')[:3], f.size('huge.bin'))\n\
         f.quit()\n",
        port = srv.explicit().port()
    );
    let out = ftpsd_e2e::tools::run_within(
        {
            let mut c = std::process::Command::new("python3");
            c.arg("-c").arg(script);
            c
        },
        std::time::Duration::from_secs(60),
    )
    .await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", ftpsd_e2e::tools::text(&out));
    assert_eq!(
        said,
        "upload 426 226\ndownload 426 226\nthen 200 67108864\n",
        "{}",
        ftpsd_e2e::tools::text(&out)
    );
}

#[tokio::test]
async fn in_clear_an_early_data_connection_does_not_hold_up_the_control_connection() {
    // PROT C: a client that connects (or even sends its upload) before the command is not
    // starting a TLS handshake, so nothing waits for one (the handshake timeout is 60 s here;
    // `bounded` fails the test long before that).
    let srv = TestServer::builder()
        .config(|c| {
            c.server.tls_handshake_timeout_secs = 60;
            c.explicit.as_mut().unwrap().require_tls = false;
        })
        .start()
        .await;
    let mut c = srv.alice().await;
    c.unprotect().await;
    let addr = c.pasv().await;
    drop(TcpStream::connect(addr).await.unwrap());
    bounded("NOOP after an early connection", c.cmd_ok("NOOP", 200)).await;
    let addr = c.pasv().await;
    let mut d = TcpStream::connect(addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    d.write_all(b"sent before STOR, ").await.unwrap();
    bounded("150 for STOR", c.cmd_ok("STOR early.txt", 150)).await;
    d.write_all(b"then the rest").await.unwrap();
    d.shutdown().await.unwrap();
    drop(d);
    assert_eq!(bounded("226", c.read_reply()).await.code, 226);
    assert_eq!(
        srv.read("alice", "early.txt"),
        b"sent before STOR, then the rest"
    );
}
