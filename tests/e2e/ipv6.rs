//! IPv6: listeners on [::1], EPSV and EPRT with IPv6 addresses, PASV refused with a pointer to
//! EPSV, the bounce rule across address families, and curl over an IPv6 literal.

use std::process::Command;

use ftpsd_e2e::tools::{run, text};
use ftpsd_e2e::{FtpClient, TestServer, pattern, sha256};

async fn v6_server() -> TestServer {
    TestServer::builder()
        .config(|c| {
            c.explicit.as_mut().unwrap().listen = "[::1]:0".parse().unwrap();
            c.implicit.as_mut().unwrap().listen = "[::1]:0".parse().unwrap();
        })
        .start()
        .await
}

#[tokio::test]
async fn explicit_and_implicit_tls_over_ipv6_with_epsv_and_eprt() {
    let srv = v6_server().await;
    assert!(srv.explicit().is_ipv6() && srv.implicit().is_ipv6());
    let data = pattern(3 * 1024 * 1024 + 5, 61);
    let mut c = srv.alice().await;
    // Uploads and downloads over EPSV (the client picks EPSV on IPv6).
    c.stor("v6.bin", &data).await;
    assert_eq!(sha256(&srv.read("alice", "v6.bin")), sha256(&data));
    assert_eq!(sha256(&c.retr("v6.bin").await), sha256(&data));
    assert!(c.list("LIST").await.contains("v6.bin"));
    // PASV cannot describe an IPv6 address: a clear refusal naming EPSV.
    let r = c.cmd_ok("PASV", 425).await;
    assert!(r.text.contains("EPSV"), "{r:?}");
    c.cmd_ok("EPSV 1", 522).await;
    // Active mode to the client's own IPv6 address works, protected.
    let l = c.eprt_listener().await;
    let (got, from) = c.active_download(&l, "RETR v6.bin").await;
    assert!(from.ip().is_loopback() && from.is_ipv6(), "{from}");
    assert_eq!(sha256(&got), sha256(&data));
    // No bounce to another address, in either family.
    c.cmd_ok("EPRT |1|127.0.0.1|10240|", 504).await;
    c.cmd_ok("EPRT |2|::2|10240|", 504).await;
    c.cmd_ok("PORT 127,0,0,1,40,0", 504).await;
    // Implicit TLS on [::1] too.
    let mut i = FtpClient::connect_implicit(srv.implicit(), &srv.cert).await;
    i.login("alice", "alice-pass").await;
    i.cmd_ok("PBSZ 0", 200).await;
    i.cmd_ok("PROT P", 200).await;
    i.cmd_ok("TYPE I", 200).await;
    assert_eq!(sha256(&i.retr("v6.bin").await), sha256(&data));
}

#[tokio::test]
async fn curl_over_an_ipv6_literal() {
    let srv = v6_server().await;
    srv.write("alice", "hello.txt", b"hello over IPv6\n");
    let url = format!("ftp://[::1]:{}/", srv.explicit().port());
    let get = run({
        let mut c = Command::new("curl");
        c.args(["--silent", "--show-error", "--max-time", "30", "-g"])
            .arg("--cacert")
            .arg(srv.cert_path())
            .args(["-u", "alice:alice-pass", "--ssl-reqd"])
            .arg(format!("{url}hello.txt"));
        c
    })
    .await;
    assert!(get.status.success(), "{}", text(&get));
    assert_eq!(get.stdout, b"hello over IPv6\n");
    let src = srv.dir.path().join("up.txt");
    std::fs::write(&src, b"uploaded over IPv6").unwrap();
    let put = run({
        let mut c = Command::new("curl");
        c.args(["--silent", "--show-error", "--max-time", "30", "-g"])
            .arg("--cacert")
            .arg(srv.cert_path())
            .args(["-u", "alice:alice-pass", "--ssl-reqd", "-T"])
            .arg(&src)
            .arg(&url);
        c
    })
    .await;
    assert!(put.status.success(), "{}", text(&put));
    assert_eq!(srv.read("alice", "up.txt"), b"uploaded over IPv6");
}

#[tokio::test]
async fn ipv4_clients_of_a_dual_stack_listener_get_pasv_and_active_mode() {
    // listen = "[::]:port" takes IPv4 clients too; their addresses arrive IPv4-mapped
    // (::ffff:127.0.0.1) and must still work with PASV, PORT and EPRT.
    let srv = TestServer::builder()
        .config(|c| c.explicit.as_mut().unwrap().listen = "[::]:0".parse().unwrap())
        .start()
        .await;
    let data = pattern(1024 * 1024 + 9, 62);
    srv.write("alice", "d.bin", &data);
    let v4 = std::net::SocketAddr::from(([127, 0, 0, 1], srv.explicit().port()));
    let mut c = FtpClient::connect_explicit(v4, &srv.cert).await;
    c.login("alice", "alice-pass").await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    let r = c.cmd_ok("PASV", 227).await;
    assert!(r.text.contains("(127,0,0,1,"), "{r:?}");
    assert_eq!(sha256(&c.retr("d.bin").await), sha256(&data));
    for verb in ["PORT", "EPRT"] {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let cmd = if verb == "PORT" {
            format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff)
        } else {
            format!("EPRT |1|127.0.0.1|{port}|")
        };
        c.cmd_ok(&cmd, 200).await;
        let (got, _) = c.active_download(&l, "RETR d.bin").await;
        assert_eq!(sha256(&got), sha256(&data), "{verb}");
    }
    // The bounce rule names the client's address as the client knows it.
    let r = c.cmd_ok("PORT 127,0,0,2,40,0", 504).await;
    assert!(r.text.contains("(127.0.0.1)"), "{r:?}");
}

#[tokio::test]
async fn a_listener_kind_binds_several_addresses_ipv4_and_ipv6() {
    let srv = TestServer::builder()
        .config(|c| {
            c.explicit.as_mut().unwrap().listen = ftpsd::config::Listen::new(vec![
                "127.0.0.1:0".parse().unwrap(),
                "[::1]:0".parse().unwrap(),
            ])
            .unwrap();
            c.implicit.as_mut().unwrap().listen = ftpsd::config::Listen::new(vec![
                "[::1]:0".parse().unwrap(),
                "127.0.0.1:0".parse().unwrap(),
            ])
            .unwrap();
        })
        .start()
        .await;
    let bound = &srv.server.listening;
    assert_eq!(bound.len(), 4, "{bound:?}");
    srv.write("alice", "both.txt", b"from every address");
    for (kind, addr) in bound {
        let mut c = match kind {
            ftpsd::server::ListenerKind::Explicit => {
                FtpClient::connect_explicit(*addr, &srv.cert).await
            }
            ftpsd::server::ListenerKind::Implicit => {
                FtpClient::connect_implicit(*addr, &srv.cert).await
            }
        };
        c.login("alice", "alice-pass").await;
        c.protect().await;
        c.cmd_ok("TYPE I", 200).await;
        assert_eq!(
            c.retr("both.txt").await,
            b"from every address",
            "{kind:?} {addr}"
        );
    }
    // The first address of each kind is the one `explicit`/`implicit` report.
    assert!(srv.explicit().is_ipv4() && srv.implicit().is_ipv6());
}

#[tokio::test]
async fn ipv4_and_ipv6_wildcard_on_the_same_port_do_not_collide() {
    // A port free on both families right now (the listener binds it again at once).
    let port = std::net::TcpListener::bind("[::]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let srv = TestServer::builder()
        .config(move |c| {
            c.explicit.as_mut().unwrap().listen = ftpsd::config::Listen::new(vec![
                format!("127.0.0.1:{port}").parse().unwrap(),
                format!("[::]:{port}").parse().unwrap(),
            ])
            .unwrap();
        })
        .start()
        .await;
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let mut c = FtpClient::connect_explicit(addr.parse().unwrap(), &srv.cert).await;
        c.login("alice", "alice-pass").await;
        c.cmd_ok("PWD", 257).await;
    }
}
