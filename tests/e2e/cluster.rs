//! Three ftpsd nodes behind a real HAProxy (TCP mode, PROXY v2, round-robin control
//! connections, one passive slice per node) sharing a real redis-server: bans, failure counts
//! and ratios follow the client from node to node; a dead node or a Redis outage behaves as the
//! README says. See `ftpsd_e2e::cluster` for the layout.

use std::process::Command;

use ftpsd::state::KvStore;
use ftpsd_e2e::cluster::Cluster;
use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::{FtpClient, TestServer, built_plugin};

/// A users-file entry with its home in the shared folder.
fn user(name: &str, extra: &str) -> String {
    format!(
        "[[user]]\nname = \"{name}\"\npassword = \"{}\"\nhome = \"{{SHARED}}/{name}\"\nrights = \"a\"\n{extra}\n",
        TestServer::hash(&format!("{name}-pass"))
    )
}

/// The node that holds the session of a client at `ip`, if any.
fn node_of(c: &Cluster, ip: &str) -> Option<usize> {
    (0..c.nodes.len()).find(|&i| {
        c.nodes[i]
            .as_ref()
            .is_some_and(|n| n.server.ctx.sessions.list().iter().any(|s| s.ip == ip))
    })
}

/// A client logged in (from 127.0.0.`from`, .`from+1`, ...) on a node not in `avoid`, and
/// that node: round-robin gets there at once, a few more tries allow for a redispatch.
async fn login_elsewhere(c: &Cluster, avoid: &[usize], from: u8) -> (FtpClient, usize) {
    for i in 0..8 {
        let ip = format!("127.0.0.{}", from + i);
        let client = c.login_from(&ip, "bob", "bob-pass").await;
        let n = node_of(c, &ip).unwrap();
        if !avoid.contains(&n) {
            return (client, n);
        }
    }
    panic!("8 logins through the balancer never left nodes {avoid:?}");
}

async fn first_reply(c: &Cluster, source: &str) -> (u16, String) {
    let (_c, r) = FtpClient::connect_raw_from(Some(source.parse().unwrap()), c.addr, &c.cert).await;
    (r.code, r.text)
}

async fn failed_login(c: &Cluster, source: &str) -> u16 {
    let mut f = c.connect_from(source).await;
    f.cmd_ok("USER bob", 331).await;
    f.cmd("PASS wrong").await.code
}

#[tokio::test]
async fn a_ban_made_on_one_node_refuses_the_client_on_every_node() {
    let c = Cluster::start(
        &[("bfp", built_plugin("bfp.wasm"), String::new())],
        &(user("bob", "") + &user("solo", "max_sessions = 1")),
    )
    .await;
    std::fs::create_dir_all(c.shared().join("bob")).unwrap();
    std::fs::create_dir_all(c.shared().join("solo")).unwrap();
    // The Redis store behaves as the embedded ones do.
    let store = ftpsd::state::RedisStore::open(
        &c.redis.url(),
        "conformance",
        std::time::Duration::from_secs(2),
    )
    .unwrap();
    ftpsd::state::conformance::exercise(&store);

    // max_sessions = 1 holds over the nodes: a second session, on another node, is refused
    // until the first ends.
    let mut one = c.login_from("127.0.0.50", "solo", "solo-pass").await;
    let mut two = c.connect_from("127.0.0.51").await;
    two.cmd_ok("USER solo", 331).await;
    let r = two.cmd("PASS solo-pass").await;
    assert_eq!(r.code, 530, "{r:?}");
    assert!(r.text.contains("Too many sessions"), "{r:?}");
    assert_ne!(node_of(&c, "127.0.0.50"), None);
    one.cmd_ok("QUIT", 221).await;
    let nodes_store =
        ftpsd::state::RedisStore::open(&c.redis.url(), "test", std::time::Duration::from_secs(2))
            .unwrap();
    ftpsd_e2e::until("the lease is given back", || {
        nodes_store
            .get("ftpsd.sessions", "solo", ftpsd::state::now_ms())
            .unwrap()
            .is_none()
    })
    .await;
    let mut three = c.login_from("127.0.0.52", "solo", "solo-pass").await;
    three.cmd_ok("NOOP", 200).await;
    drop(three);

    // Three failures, each on a fresh connection: round-robin puts them on three nodes.
    for _ in 0..3 {
        assert_eq!(failed_login(&c, "127.0.0.60").await, 530);
    }
    let served: usize = c
        .nodes
        .iter()
        .map(|n| {
            n.as_ref()
                .unwrap()
                .server
                .ctx
                .metrics
                .sessions_total
                .load(std::sync::atomic::Ordering::Relaxed) as usize
        })
        .filter(|&n| n > 0)
        .count();
    assert_eq!(served, 3, "the failures were spread over all nodes");
    // Banned now on every node: the next connections, whichever node they reach, are refused.
    for _ in 0..3 {
        let (code, text) = first_reply(&c, "127.0.0.60").await;
        assert_eq!(code, 421, "{text}");
        assert!(text.contains("Too many failed logins"), "{text}");
    }
    // Another client is not affected, and the nodes see it as itself (PROXY v2).
    let mut ok = c.login_from("127.0.0.61", "bob", "bob-pass").await;
    assert_eq!(node_of(&c, "127.0.0.61").is_some(), true);
    ok.stor("fine.txt", b"fine").await;
    assert_eq!(
        std::fs::read(c.shared().join("bob/fine.txt")).unwrap(),
        b"fine"
    );
    // `ftpsd bans list` on any node shows the ban (it reads the shared store).
    let mut cmd = Command::new(ftpsd_bin());
    cmd.args(["bans", "list", "--config"])
        .arg(c.node(2).config_file());
    let out = run(cmd).await;
    assert!(
        out.status.success() && text(&out).contains("127.0.0.60"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn a_ratio_holds_across_nodes_and_curl_goes_through_the_balancer() {
    let c = Cluster::start(
        &[(
            "ratio",
            built_plugin("ratio.wasm"),
            "settings = { mode = \"files\" }".into(),
        )],
        &user("bob", "ratio = \"1:1\""),
    )
    .await;
    let home = c.shared().join("bob");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("f"), b"file").unwrap();
    // One upload on one node earns one download, spent on the next node; the third node
    // knows it is spent.
    let mut up = c.login_from("127.0.0.70", "bob", "bob-pass").await;
    up.stor("gift", b"one upload").await;
    let first = node_of(&c, "127.0.0.70").unwrap();
    let (mut down, second) = login_elsewhere(&c, &[first], 71).await;
    assert_eq!(down.retr("f").await, b"file");
    let (mut again, _) = login_elsewhere(&c, &[first, second], 81).await;
    let r = again.download("RETR f").await.unwrap_err();
    assert_eq!(r.code, 550, "{r:?}");
    assert!(r.text.contains("Ratio 1:1"), "{r:?}");

    // Shared ticket keys: a client that comes back and lands on another node resumes its
    // TLS session there.
    let tls = ftpsd_e2e::client::tls_config(&c.cert);
    let mut seen = std::collections::BTreeSet::new();
    let mut kinds = Vec::new();
    // Round-robin lands on each node in turn; a few more tries allow for a redispatch.
    for i in 0..9 {
        if seen.len() == 3 {
            break;
        }
        let ip = format!("127.0.0.{}", 91 + i);
        let mut k =
            FtpClient::connect_explicit_from(Some(ip.parse().unwrap()), c.addr, tls.clone()).await;
        kinds.push(k.control_handshake_kind());
        k.login("bob", "bob-pass").await;
        seen.insert(node_of(&c, &ip).unwrap());
        k.cmd_ok("QUIT", 221).await;
    }
    assert_eq!(seen.len(), 3, "a connection on every node");
    assert!(
        kinds[1..]
            .iter()
            .all(|k| *k == Some(rustls::HandshakeKind::Resumed)),
        "resumed on the other nodes: {kinds:?}"
    );

    // curl (OpenSSL) in its default passive mode, TLS 1.3 and 1.2, through the balancer:
    // each invocation lands on another node and its data connections on that node's slice.
    let src = c.shared().join("src.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    std::fs::write(home.join("big.bin"), &data).unwrap();
    for (i, version) in ["--tlsv1.3", "--tls-max 1.2", "--tlsv1.3"]
        .iter()
        .enumerate()
    {
        let mut cmd = Command::new("curl");
        cmd.args(["--silent", "--show-error", "--max-time", "50", "--ssl-reqd"])
            .args(version.split(' '))
            .arg("--cacert")
            .arg(&c.cert)
            .args(["-u", "bob:bob-pass", "-w", "%{response_code}\\n", "-T"])
            .arg(&src)
            .arg(format!("ftp://127.0.0.1:{}/up{i}.bin", c.addr.port()));
        let out = run(cmd).await;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "226",
            "{}",
            text(&out)
        );
        assert_eq!(
            std::fs::read(home.join(format!("up{i}.bin"))).unwrap(),
            data
        );
    }
}

#[tokio::test]
async fn a_dead_node_loses_no_acknowledged_upload_and_a_redis_outage_fails_closed() {
    let mut c = Cluster::start(
        &[("bfp", built_plugin("bfp.wasm"), String::new())],
        &user("bob", ""),
    )
    .await;
    std::fs::create_dir_all(c.shared().join("bob")).unwrap();
    let data = vec![42u8; 2_000_000];
    let mut up = c.login_from("127.0.0.80", "bob", "bob-pass").await;
    up.stor("acked.bin", &data).await;
    let n = node_of(&c, "127.0.0.80").unwrap();
    c.kill(n).await;
    let gone = ftpsd_e2e::bounded("the node's sessions end", up.read_reply()).await;
    assert!(
        matches!(gone.code, 0 | 421),
        "the node's session is gone: {gone:?}"
    );
    assert_eq!(
        std::fs::read(c.shared().join("bob/acked.bin")).unwrap(),
        data
    );
    // The balancer sends new clients to the nodes left.
    for i in 0..4 {
        let mut again = c
            .login_from(&format!("127.0.0.{}", 81 + i), "bob", "bob-pass")
            .await;
        assert_eq!(again.retr("acked.bin").await, data);
    }

    // Redis hangs: the ban check times out, and a right password is answered exactly as a
    // wrong one (no password oracle while the store is down).
    c.redis.freeze(true);
    let mut replies = Vec::new();
    for (ip, pass) in [("127.0.0.95", "wrong"), ("127.0.0.96", "bob-pass")] {
        let (mut f, first) =
            FtpClient::connect_raw_from(Some(ip.parse().unwrap()), c.addr, &c.cert).await;
        if first.code != 220 {
            replies.push((first.code, first.text));
            continue;
        }
        f.cmd_ok("AUTH TLS", 234).await;
        f.start_tls().await;
        f.cmd_ok("USER bob", 331).await;
        let r = f.cmd(&format!("PASS {pass}")).await;
        replies.push((r.code, r.text));
    }
    c.redis.freeze(false);
    assert_eq!(replies[0], replies[1], "right and wrong passwords alike");
    assert_eq!(replies[0].0, 421, "{replies:?}");

    // Redis stops: the ban check cannot be made, and logins fail closed with a reason.
    c.redis.stop();
    let (code, text) = first_reply(&c, "127.0.0.90").await;
    assert_eq!(code, 421, "{text}");
    assert!(text.contains("unavailable"), "{text}");
    // Back again: logins work at once (nobody was charged for the outage).
    c.redis.restart().await;
    for i in 0..2 {
        let mut ok = c
            .login_from(&format!("127.0.0.{}", 91 + i), "bob", "bob-pass")
            .await;
        ok.stor("after.txt", b"after").await;
    }
}
