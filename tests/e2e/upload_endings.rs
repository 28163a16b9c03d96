//! However an upload ends, nothing is left behind and nothing lies: every abandoned upload
//! removes its temporary at once (the folder can be removed right after), every transfer is
//! counted once, and an upload without TLS close_notify is refused with a reply that says so
//! — or kept, when the operator chose `require_close_notify = false`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ftpsd_e2e::{FtpClient, TestServer, bounded, pattern, until};

/// Names in the user's `dir` on disk, hidden ones included.
fn on_disk(srv: &TestServer, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(srv.home("alice").join(dir))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn counts(srv: &TestServer) -> (u64, u64) {
    let m = &srv.server.ctx.metrics;
    (
        m.transfers_ok.load(Ordering::Relaxed),
        m.transfers_failed.load(Ordering::Relaxed),
    )
}

#[tokio::test]
async fn every_abandoned_upload_leaves_nothing_and_is_counted_once() {
    let srv = TestServer::builder()
        .plugin(
            "block-ext",
            ftpsd_e2e::built_plugin("block_ext.wasm"),
            "settings = { patterns = [\"*.exe\"] }",
        )
        .users_toml(&format!(
            "[[user]]\nname = \"q\"\npassword = \"{}\"\n[[user.mount]]\npath = \"{{DIR}}/q\"\nrights = \"a\"\nquota_mb = 1\n",
            TestServer::hash("q-pass")
        ))
        .config(|c| c.server.data_timeout_secs = 1)
        .start()
        .await;
    std::fs::create_dir_all(srv.home("alice").join("in")).unwrap();
    let mut c = srv.alice().await;
    let before = counts(&srv);

    // 522: the data connection does not resume the session.
    let saved = c.tls.clone();
    let mut fresh = (*saved).clone();
    fresh.resumption = rustls::client::Resumption::disabled();
    c.tls = Arc::new(fresh);
    let r = c.upload("STOR in/a.bin", b"x").await;
    assert_eq!(r.code, 522, "{r:?}");
    c.tls = saved;
    assert!(
        on_disk(&srv, "in").is_empty(),
        "522: {:?}",
        on_disk(&srv, "in")
    );

    // 425: the client never connects.
    c.epsv().await;
    c.cmd_ok("STOR in/b.bin", 150).await;
    let r = bounded("425", c.read_reply()).await;
    assert_eq!(r.code, 425, "{r:?}");
    assert!(
        on_disk(&srv, "in").is_empty(),
        "425: {:?}",
        on_disk(&srv, "in")
    );

    // The client vanishes mid-upload: control and data connections closed at once.
    let mut gone = srv.alice().await;
    let (_, mut conn) = gone.open_transfer("STOR in/c.bin").await.unwrap();
    conn.write_all(&pattern(200_000, 1)).await.unwrap();
    drop(conn);
    drop(gone);
    until("the vanished client's temporary is gone", || {
        on_disk(&srv, "in").is_empty()
    })
    .await;

    // ABOR.
    let (_, mut conn) = c.open_transfer("STOR in/d.bin").await.unwrap();
    conn.write_all(&pattern(100_000, 2)).await.unwrap();
    c.send_raw(b"ABOR\r\n").await;
    let (a, b) = (c.read_reply().await, c.read_reply().await);
    assert_eq!((a.code, b.code), (426, 226));
    drop(conn);
    assert!(
        on_disk(&srv, "in").is_empty(),
        "ABOR: {:?}",
        on_disk(&srv, "in")
    );

    // The folder is empty for real: RMD works.
    c.cmd_ok("RMD in", 250).await;
    // Every ended transfer was counted once as failed (522, 425, vanished, ABOR).
    until("four failed transfers counted", || {
        counts(&srv) == (before.0, before.1 + 4)
    })
    .await;

    // Quota: 552 mid-upload, nothing left; a plugin refusal: nothing starts.
    std::fs::create_dir_all(srv.dir.path().join("q")).unwrap();
    let mut q = srv.login_as("q", "q-pass").await;
    let r = q.upload("STOR big.bin", &pattern(2 << 20, 3)).await;
    assert_eq!(r.code, 552, "{r:?}");
    let r = q.upload("STOR other.exe", b"x").await;
    assert_eq!(r.code, 553, "{r:?}");
    assert!(
        std::fs::read_dir(srv.dir.path().join("q"))
            .unwrap()
            .next()
            .is_none(),
        "quota/plugin: nothing left"
    );
}

#[tokio::test]
async fn an_upload_without_close_notify_is_refused_with_a_reason_or_kept_if_allowed() {
    for require in [true, false] {
        let srv = TestServer::builder()
            .config(move |c| c.tls.require_close_notify = require)
            .start()
            .await;
        let mut c: FtpClient = srv.alice().await;
        let data = pattern(50_000, 4);
        let (_, mut conn) = c.open_transfer("STOR f.bin").await.unwrap();
        conn.write_all(&data).await.unwrap();
        conn.flush().await.unwrap();
        // Close the socket without close_notify (netkit ftp-ssl does this).
        conn.close_without_notify();
        let r = bounded("final reply", c.read_reply()).await;
        if require {
            assert_eq!(r.code, 426, "{r:?}");
            assert!(
                r.text.contains("without TLS close_notify") && r.text.contains("not kept"),
                "{r:?}"
            );
            assert!(!srv.exists("alice", "f.bin"));
        } else {
            assert_eq!(r.code, 226, "{r:?}");
            assert_eq!(srv.read("alice", "f.bin"), data);
        }
    }
}
