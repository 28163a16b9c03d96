//! Operating a cluster from any node: three nodes behind HAProxy on one Redis. The admin of
//! one node lists every node's sessions and ends one on another node (CLI and API); with
//! `[state] share_users` a user added or deleted on one node is known or gone on every node
//! (and their sessions there end); lftp mirrors a tree up and down through the balancer.

use std::process::Command;
use std::time::Duration;

use ftpsd::admin::ops::{Request, Response, handle_live};
use ftpsd_e2e::cluster::Cluster;
use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::{TestServer, bounded};

fn user(name: &str) -> String {
    format!(
        "[[user]]\nname = \"{name}\"\npassword = \"{}\"\nhome = \"{{SHARED}}/{name}\"\nrights = \"a\"\n",
        TestServer::hash(&format!("{name}-pass"))
    )
}

/// The sessions node `i`'s admin lists, as (node, id, ip).
async fn listed(c: &Cluster, i: usize) -> Vec<(String, u64, String)> {
    match handle_live(&c.node(i).server.ctx, Request::Sessions).await {
        Response::Sessions(s) => s
            .into_iter()
            .map(|s| (s.node.unwrap_or_default(), s.id, s.ip))
            .collect(),
        other => panic!("{other:?}"),
    }
}

/// Polls an async condition (bounded like every step).
async fn until_async<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    bounded(what, async {
        while !f().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

fn admin(c: &Cluster, i: usize, args: &[&str]) -> Command {
    let mut cmd = Command::new(ftpsd_bin());
    cmd.arg("admin")
        .arg("--config")
        .arg(c.node(i).config_file())
        .args(args);
    cmd
}

fn knows(c: &Cluster, i: usize, name: &str) -> bool {
    c.node(i).server.ctx.auth.users().find(name).is_some()
}

#[tokio::test]
async fn the_admin_of_any_node_lists_and_kicks_every_nodes_sessions_and_users_changes_reach_every_node()
 {
    let c = Cluster::start_with(&[], &user("bob"), |i, cfg| {
        cfg.state.node = Some(format!("node{i}"));
        cfg.state.share_users = true;
    })
    .await;
    std::fs::create_dir_all(c.shared().join("bob")).unwrap();

    // In step: one users file for all (the first node's; the others keep theirs beside).
    let users = |i: usize| std::fs::read(c.node(i).users_file()).unwrap();
    ftpsd_e2e::until("every node holds the cluster's users file", || {
        users(0) == users(1) && users(1) == users(2)
    })
    .await;
    let kept = (0..3)
        .filter(|&i| {
            let mut p = c.node(i).users_file().into_os_string();
            p.push(".before-cluster");
            std::path::Path::new(&p).exists()
        })
        .count();
    assert_eq!(
        kept, 2,
        "the two nodes that joined kept their own file beside"
    );

    // Three clients, one per node (round-robin); node 0's admin lists all three.
    let mut clients = Vec::new();
    for k in 0..3 {
        clients.push(
            c.login_from(&format!("127.0.0.{}", 90 + k), "bob", "bob-pass")
                .await,
        );
    }
    // What each node holds, named as node 0 lists it.
    let mut held: Vec<(String, u64, String)> = (0..3)
        .flat_map(|i| {
            let ctx = &c.node(i).server.ctx;
            ctx.sessions
                .list()
                .into_iter()
                .map(move |s| (format!("node{i}"), s.id, s.ip))
        })
        .collect();
    held.sort();
    assert_eq!(held.len(), 3);
    assert!(held.iter().any(|s| s.0 != "node0"), "round-robin: {held:?}");
    until_async("node 0 lists every node's sessions", || async {
        let mut l = listed(&c, 0).await;
        l.sort();
        l == held
    })
    .await;
    let out = run(admin(&c, 0, &["sessions"])).await;
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert!(printed.starts_with("NODE"), "{printed}");
    for k in 0..3 {
        assert!(
            printed.contains(&format!("127.0.0.{}", 90 + k)),
            "{printed}"
        );
    }

    // Kick, from node 0's CLI, the session of a client on another node.
    let (node, id, ip) = listed(&c, 0)
        .await
        .into_iter()
        .find(|s| s.0 != "node0")
        .unwrap();
    let k = (0..3)
        .find(|k| ip == format!("127.0.0.{}", 90 + k))
        .unwrap();
    let out = run(admin(&c, 0, &["kick", &id.to_string(), "--node", &node])).await;
    assert!(
        out.status.success() && text(&out).contains("1 session(s) disconnected"),
        "{}",
        text(&out)
    );
    let gone = bounded("the kicked client hears it", clients[k].read_reply()).await;
    assert!(matches!(gone.code, 0 | 421), "{gone:?}");
    until_async("the kicked session leaves the listing", || async {
        listed(&c, 0).await.iter().all(|s| s.2 != ip)
    })
    .await;
    // The others live on.
    for (j, client) in clients.iter_mut().enumerate().filter(|(j, _)| *j != k) {
        assert_eq!(client.cmd("NOOP").await.code, 200, "client {j}");
    }

    // Wrong node or session: a clear refusal, nothing ended.
    let out = run(admin(&c, 0, &["kick", "9999", "--node", &node])).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("no session 9999 on node '{node}'")),
        "{}",
        text(&out)
    );
    let out = run(admin(&c, 0, &["kick", "1", "--node", "nodeX"])).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("no node 'nodeX' in the cluster (nodes: node0"),
        "{}",
        text(&out)
    );

    // A user added through node 1's admin API logs in on every node.
    let r = handle_live(
        &c.node(1).server.ctx,
        Request::AddUser(ftpsd::users::manage::NewUser {
            name: "carol".into(),
            password: Some("carol-pass".into()),
            home: c.shared().join("carol"),
            rights: ftpsd::fs::Rights::All,
            quota_mb: None,
            groups: vec![],
        }),
    )
    .await;
    assert!(matches!(r, Response::Done(_)), "{r:?}");
    ftpsd_e2e::until("every node knows carol", || {
        (0..3).all(|i| knows(&c, i, "carol"))
    })
    .await;
    assert!(
        String::from_utf8_lossy(&users(2)).contains("carol"),
        "persisted on node 2"
    );
    let mut carols = Vec::new();
    for k in 0..3 {
        let mut s = c
            .login_from(&format!("127.0.0.{}", 100 + k), "carol", "carol-pass")
            .await;
        s.stor("hello.txt", b"hi").await;
        carols.push(s);
    }

    // Deleted through node 2's admin API: gone everywhere, her sessions on every node end.
    let r = handle_live(
        &c.node(2).server.ctx,
        Request::DeleteUser {
            name: "carol".into(),
        },
    )
    .await;
    assert!(matches!(r, Response::Done(_)), "{r:?}");
    ftpsd_e2e::until("no node knows carol", || {
        (0..3).all(|i| !knows(&c, i, "carol"))
    })
    .await;
    for s in &mut carols {
        let r = bounded("carol's session ends", s.read_reply()).await;
        assert!(matches!(r.code, 0 | 421), "{r:?}");
    }
    let mut refused = c.connect_from("127.0.0.110").await;
    refused.cmd_ok("USER carol", 331).await;
    assert_eq!(refused.cmd("PASS carol-pass").await.code, 530);

    // Changes made one right after the other on two nodes (the second node has not taken
    // the first change yet): both reach every node, neither is lost.
    let add = |i: usize, name: &str| {
        handle_live(
            &c.node(i).server.ctx,
            Request::AddUser(ftpsd::users::manage::NewUser {
                name: name.into(),
                password: Some(format!("{name}-pass")),
                home: c.shared().join(name),
                rights: ftpsd::fs::Rights::Read,
                quota_mb: None,
                groups: vec![],
            }),
        )
    };
    assert!(matches!(add(0, "dave").await, Response::Done(_)));
    assert!(matches!(add(1, "erin").await, Response::Done(_)));
    assert!(matches!(add(2, "finn").await, Response::Done(_)));
    ftpsd_e2e::until("every node knows dave, erin and finn", || {
        (0..3).all(|i| {
            ["dave", "erin", "finn", "bob"]
                .iter()
                .all(|u| knows(&c, i, u))
        })
    })
    .await;
    ftpsd_e2e::until("one users file again", || {
        users(0) == users(1) && users(1) == users(2)
    })
    .await;

    // A kick without --node for a session on another node says where it is. A session on
    // another node: the balancer decides where each login lands (the one on
    // another node may have been the one kicked above), so log in until one leaves node 0.
    let mut extra = Vec::new();
    let mut elsewhere = None;
    for k in 0..8u8 {
        let ip = format!("127.0.0.{}", 120 + k);
        extra.push(c.login_from(&ip, "bob", "bob-pass").await);
        let on_other = (1..3).any(|n| {
            c.node(n)
                .server
                .ctx
                .sessions
                .list()
                .iter()
                .any(|s| s.ip == ip)
        });
        if on_other {
            elsewhere = Some(ip);
            break;
        }
    }
    let ip = elsewhere.expect("8 logins through the balancer never left node 0");
    let (other, id, _) = bounded("node 0 lists it", async {
        loop {
            if let Some(s) = listed(&c, 0).await.into_iter().find(|s| s.2 == ip) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mine: Vec<u64> = c
        .node(0)
        .server
        .ctx
        .sessions
        .list()
        .iter()
        .map(|s| s.id)
        .collect();
    if !mine.contains(&id) {
        let out = run(admin(&c, 0, &["kick", &id.to_string()])).await;
        assert!(!out.status.success());
        assert!(
            text(&out).contains(&format!("it is on node '{other}'; add --node {other}")),
            "{}",
            text(&out)
        );
    }

    // lftp (GnuTLS), default passive mode, through the balancer: a tree up and down.
    let local = c.shared().join("tree");
    std::fs::create_dir_all(local.join("sub")).unwrap();
    let mut files = Vec::new();
    for i in 0..20u32 {
        let rel = if i % 2 == 0 {
            format!("f{i}.bin")
        } else {
            format!("sub/f{i}.bin")
        };
        let data: Vec<u8> = (0..(i * 7919 + 1)).map(|b| (b % 251) as u8).collect();
        std::fs::write(local.join(&rel), &data).unwrap();
        files.push((rel, data));
    }
    let down = c.shared().join("down");
    let script = format!(
        "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file {}; \
         set ssl:check-hostname no; set net:max-retries 1; \
         open -u bob,bob-pass ftp://127.0.0.1:{}; mirror -R --parallel=4 {} up; \
         mirror --parallel=4 up {}",
        c.cert.display(),
        c.addr.port(),
        local.display(),
        down.display()
    );
    let mut lftp = Command::new("lftp");
    lftp.args(["-c", &script]);
    let out = run(lftp).await;
    assert!(out.status.success(), "{}", text(&out));
    for (rel, data) in &files {
        assert_eq!(
            &std::fs::read(c.shared().join("bob/up").join(rel)).unwrap(),
            data,
            "{rel}"
        );
        assert_eq!(&std::fs::read(down.join(rel)).unwrap(), data, "{rel}");
    }
}
