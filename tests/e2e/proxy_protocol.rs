//! The PROXY protocol from a trusted balancer: the client it names is the client for IP
//! rules, the session list and the passive theft check; untrusted and headerless connections
//! are refused. (HAProxy itself sends the headers in the cluster tests.)

use std::net::SocketAddr;
use std::time::Duration;

use ftpsd_e2e::client::{proxy_v2_header, tls_config};
use ftpsd_e2e::{FtpClient, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn proxied_server() -> TestServer {
    TestServer::builder()
        .config(|c| {
            c.proxy_protocol.trusted = vec!["127.0.0.1".parse().unwrap()];
            c.proxy_protocol.header_timeout_secs = 1;
            c.access.deny = vec!["203.0.113.66".parse().unwrap()];
        })
        .start()
        .await
}

fn client(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 40123)
}

/// Everything the connection sends until it closes (bounded).
async fn until_closed(tcp: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn the_client_a_trusted_proxy_names_is_the_client_everywhere() {
    let srv = proxied_server().await;
    let tls = tls_config(srv.cert_path());
    let mut c =
        FtpClient::connect_explicit_proxied(client("203.0.113.7"), srv.explicit(), tls.clone())
            .await
            .expect("greeting");
    c.login("alice", "alice-pass").await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    let sessions = srv.server.ctx.sessions.list();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].ip, "203.0.113.7", "the session is the client's");
    // Data connections come through the proxy too, with the same client.
    c.stor("through.bin", &[7u8; 100_000]).await;
    assert_eq!(c.retr("through.bin").await, vec![7u8; 100_000]);

    // Another client of the balancer cannot take this one's passive port.
    let port = c.pasv().await;
    let mut thief = TcpStream::connect(port).await.unwrap();
    thief
        .write_all(&proxy_v2_header(client("203.0.113.8"), port))
        .await
        .unwrap();
    assert_eq!(until_closed(&mut thief).await, "", "refused, nothing sent");
    let mut own = TcpStream::connect(port).await.unwrap();
    own.write_all(&proxy_v2_header(client("203.0.113.7"), port))
        .await
        .unwrap();
    let (_, mut data) = c.transfer_on("RETR through.bin", own).await.expect("150");
    let mut got = Vec::new();
    data.read_to_end(&mut got).await.unwrap();
    drop(data);
    assert_eq!(c.read_reply().await.code, 226);
    assert_eq!(
        got.len(),
        100_000,
        "the client's own connection still works"
    );

    // The IP rules judge the named client, not the balancer.
    let denied = FtpClient::connect_explicit_proxied(client("203.0.113.66"), srv.explicit(), tls)
        .await
        .err()
        .expect("refused");
    assert_eq!(denied.code, 421, "{denied:?}");
}

#[tokio::test]
async fn v1_headers_work_and_bad_or_missing_headers_and_direct_clients_are_refused() {
    let srv = proxied_server().await;
    // A v1 text header, as older balancers send.
    let mut tcp = TcpStream::connect(srv.explicit()).await.unwrap();
    tcp.write_all(b"PROXY TCP4 198.51.100.4 127.0.0.1 5555 21\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4];
    tcp.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"220 ");
    // From the trusted proxy without a header: closed, no greeting.
    for bad in [
        &b"USER alice\r\n"[..],
        b"PROXY TCP4 1.2.3.4 nonsense\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35\r\n",
        b"\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff",
        b"",
    ] {
        let mut tcp = TcpStream::connect(srv.explicit()).await.unwrap();
        tcp.write_all(bad).await.unwrap();
        assert_eq!(until_closed(&mut tcp).await, "", "{bad:?}");
    }
    // A direct client (not a trusted proxy) is told to come through the balancer, and a
    // header it sends is not believed.
    let mut direct =
        ftpsd_e2e::client::tcp_from(Some("127.0.0.2".parse().unwrap()), srv.explicit())
            .await
            .unwrap();
    direct
        .write_all(&proxy_v2_header(client("203.0.113.9"), srv.explicit()))
        .await
        .unwrap();
    let text = until_closed(&mut direct).await;
    assert!(
        text.starts_with("421 ") && text.contains("load balancer"),
        "{text}"
    );
    assert!(srv.server.ctx.sessions.list().is_empty());
}
