//! Uploads racing other sessions on the same file: the quota counts what is on disk (a version
//! replaced or deleted meanwhile is not freed twice), and a drop box never replaces a file that
//! appeared while its upload ran.

use ftpsd_e2e::TestServer;

/// The users file; `box_dir` exists (with its files) before the server starts, so the quota's
/// first scan sees them.
fn users(box_dir: &std::path::Path) -> String {
    format!(
        r#"
[[user]]
name = "bob"
password = "{bob}"
[[user.mount]]
path = "{box}"
at = "/"
rights = "a"
quota_mb = 1

[[user]]
name = "dropper"
password = "{dropper}"
[[user.mount]]
path = "{box}"
at = "/"
rights = "w"
quota_mb = 1
"#,
        bob = TestServer::hash("bob-pass"),
        dropper = TestServer::hash("dropper-pass"),
        box = box_dir.display(),
    )
}

fn disk_usage(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[tokio::test]
async fn a_version_replaced_during_an_upload_is_freed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let box_dir = tmp.path().to_path_buf();
    std::fs::write(box_dir.join("F.bin"), vec![7u8; 600 * 1024]).unwrap();
    let srv = TestServer::builder()
        .users_toml(&users(&box_dir))
        .start()
        .await;
    let quota = srv.server.ctx.quotas.get(&box_dir, 1024 * 1024);
    for round in 0..3 {
        let mut s1 = srv.login_as("bob", "bob-pass").await;
        let mut s2 = srv.login_as("bob", "bob-pass").await;
        let (_, mut conn) = s1.open_transfer("STOR F.bin").await.unwrap();
        conn.write_all(&[round; 1000]).await.unwrap();
        // Meanwhile another session replaces (round 0, 2) or deletes (round 1) the file.
        if round == 1 {
            s2.cmd_ok("DELE F.bin", 250).await;
        } else {
            s2.stor("F.bin", b"x").await;
        }
        conn.shutdown().await.ok();
        assert_eq!(ftpsd_e2e::bounded("final", s1.read_reply()).await.code, 226);
        assert_eq!(
            std::fs::read(box_dir.join("F.bin")).unwrap(),
            vec![round; 1000]
        );
        assert_eq!(
            quota.used(),
            disk_usage(&box_dir),
            "round {round}: the quota counts what is on disk"
        );
    }
}

#[tokio::test]
async fn a_drop_box_upload_never_replaces_a_file_that_appeared_meanwhile() {
    let tmp = tempfile::tempdir().unwrap();
    let box_dir = tmp.path().to_path_buf();
    let srv = TestServer::builder()
        .users_toml(&users(&box_dir))
        .start()
        .await;
    let mut dropper = srv.login_as("dropper", "dropper-pass").await;
    let mut bob = srv.login_as("bob", "bob-pass").await;
    let (_, mut conn) = dropper.open_transfer("STOR race.txt").await.unwrap();
    conn.write_all(b"dropper's version").await.unwrap();
    bob.stor("race.txt", b"bob's version").await;
    conn.shutdown().await.ok();
    let r = ftpsd_e2e::bounded("final", dropper.read_reply()).await;
    assert_eq!(r.code, 550, "{r:?}");
    assert_eq!(
        std::fs::read(box_dir.join("race.txt")).unwrap(),
        b"bob's version"
    );
    let left: Vec<_> = std::fs::read_dir(&box_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "no temporary left: {left:?}");
    // A new name still lands.
    dropper.stor("fresh.txt", b"new").await;
    assert_eq!(std::fs::read(box_dir.join("fresh.txt")).unwrap(), b"new");
    let quota = srv.server.ctx.quotas.get(&box_dir, 1024 * 1024);
    assert_eq!(quota.used(), disk_usage(&box_dir));
}

/// Two appends to one file never interleave, and a failed one never cuts back what another
/// appended: while one runs, the file is busy (450) for other uploads.
#[tokio::test]
async fn a_running_append_makes_the_file_busy_for_other_uploads() {
    let tmp = tempfile::tempdir().unwrap();
    let box_dir = tmp.path().to_path_buf();
    std::fs::write(box_dir.join("log.txt"), b"start\n").unwrap();
    let srv = TestServer::builder()
        .users_toml(&users(&box_dir))
        .start()
        .await;
    let mut a = srv.login_as("bob", "bob-pass").await;
    let mut b = srv.login_as("bob", "bob-pass").await;
    let (_, mut conn) = a.open_transfer("APPE log.txt").await.unwrap();
    conn.write_all(b"from a\n").await.unwrap();
    let busy = b
        .open_transfer("APPE log.txt")
        .await
        .err()
        .expect("refused");
    assert_eq!(busy.code, 450, "{busy:?}");
    assert!(busy.text.contains("busy"), "{busy:?}");
    // The refused append changed nothing; the running one completes.
    conn.shutdown().await.ok();
    assert_eq!(ftpsd_e2e::bounded("a done", a.read_reply()).await.code, 226);
    assert_eq!(
        std::fs::read(box_dir.join("log.txt")).unwrap(),
        b"start\nfrom a\n"
    );
    // Free again once it ended.
    let (_, mut conn) = b.open_transfer("APPE log.txt").await.unwrap();
    conn.write_all(b"from b\n").await.unwrap();
    conn.shutdown().await.ok();
    assert_eq!(ftpsd_e2e::bounded("b done", b.read_reply()).await.code, 226);
    assert_eq!(
        std::fs::read(box_dir.join("log.txt")).unwrap(),
        b"start\nfrom a\nfrom b\n"
    );
}

fn resumable_user(name: &str) -> String {
    format!(
        "[[user]]\nname = \"{name}\"\npassword = \"{}\"\n[[user.mount]]\npath = \"homes/{name}\"\nrights = \"a\"\nmode = \"resumable\"\n",
        TestServer::hash(&format!("{name}-pass"))
    )
}

/// In resumable mode STOR writes in place: a second STOR of the same file, refused as busy,
/// must not have emptied the one running (found by the attack helper: the file was opened
/// with truncation before the lock was taken).
#[tokio::test]
async fn a_busy_refusal_in_resumable_mode_leaves_the_running_upload_whole() {
    let srv = TestServer::builder()
        .users_toml(&resumable_user("rita"))
        .start()
        .await;
    std::fs::create_dir_all(srv.home("rita")).unwrap();
    let first = ftpsd_e2e::pattern(30_000, 1);
    let second = ftpsd_e2e::pattern(30_000, 2);
    let mut a = srv.login_as("rita", "rita-pass").await;
    let mut b = srv.login_as("rita", "rita-pass").await;
    let (_, mut conn) = a.open_transfer("STOR x.bin").await.unwrap();
    conn.write_all(&first).await.unwrap();
    conn.flush().await.unwrap();
    ftpsd_e2e::until("the first half is on disk", || {
        std::fs::metadata(srv.home("rita").join("x.bin")).is_ok_and(|m| m.len() == 30_000)
    })
    .await;
    let busy = b.open_transfer("STOR x.bin").await.err().expect("refused");
    assert_eq!(busy.code, 450, "{busy:?}");
    assert_eq!(
        std::fs::metadata(srv.home("rita").join("x.bin"))
            .unwrap()
            .len(),
        30_000,
        "the refused STOR cut nothing"
    );
    conn.write_all(&second).await.unwrap();
    conn.shutdown().await.ok();
    assert_eq!(ftpsd_e2e::bounded("a done", a.read_reply()).await.code, 226);
    assert_eq!(srv.read("rita", "x.bin"), [first, second].concat());
}

/// ABOR right after an upload's last byte races the commit. Whatever wins, the client is told
/// the truth: 226 and the file is there, or 426 and it is not (found by the attack helper:
/// 426 for a file that was then committed, without upload-complete).
#[tokio::test]
async fn abor_racing_the_commit_never_reports_a_kept_upload_as_aborted() {
    let srv = TestServer::start().await;
    let mut c = srv.alice().await;
    let data = ftpsd_e2e::pattern(64 * 1024, 3);
    let (mut kept, mut aborted) = (0, 0);
    for i in 0..30 {
        let name = format!("race{i}.bin");
        let (_, mut conn) = c.open_transfer(&format!("STOR {name}")).await.unwrap();
        conn.write_all(&data).await.unwrap();
        conn.shutdown().await.ok();
        c.send_raw(b"ABOR\r\n").await;
        let first = ftpsd_e2e::bounded("first reply", c.read_reply()).await;
        let second = ftpsd_e2e::bounded("second reply", c.read_reply()).await;
        match (first.code, second.code) {
            (226, 225) | (226, 226) => {
                assert_eq!(srv.read("alice", &name), data, "{name}: 226 but not kept");
                kept += 1;
            }
            (426, 226) => {
                assert!(
                    !srv.exists("alice", &name),
                    "{name}: 426 but the file is there"
                );
                aborted += 1;
            }
            other => panic!("{name}: unexpected replies {other:?}: {first:?} {second:?}"),
        }
        // A new session now and then: the test client reads no tickets on uploads.
        if i % 5 == 4 {
            c = srv.alice().await;
        }
    }
    assert_eq!(kept + aborted, 30);
}
