//! What a user must not see: another session's upload temporaries (to any command, not only
//! listings), and entries hidden from listings (escaping symlinks) through error texts. And
//! quota accounting of replacements as documented.

use ftpsd_e2e::{TestServer, pattern};

#[tokio::test]
async fn upload_temporaries_are_invisible_to_every_command() {
    let srv = TestServer::start().await;
    let mut up = srv.alice().await;
    let (_, mut conn) = up.open_transfer("STOR big.bin").await.unwrap();
    conn.write_all(&pattern(64 * 1024, 1)).await.unwrap();
    conn.flush().await.unwrap();
    let home = srv.home("alice");
    let temp = ftpsd_e2e::until("the temporary exists", || {
        std::fs::read_dir(&home).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".ftpsd-upload-")
        })
    });
    temp.await;
    let name = std::fs::read_dir(&home)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(".ftpsd-upload-"))
        .unwrap();
    let mut c = srv.alice().await;
    for cmd in ["SIZE", "MDTM", "MLST", "DELE", "RNFR", "RMD", "CWD"] {
        let r = c.cmd(&format!("{cmd} {name}")).await;
        assert_eq!(r.code, 550, "{cmd}: {r:?}");
        assert!(r.text.contains("No such file"), "{cmd}: {r:?}");
    }
    let r = c.cmd(&format!("STAT {name}")).await;
    assert!(
        r.code >= 400 && r.text.contains("No such file"),
        "STAT: {r:?}"
    );
    assert_eq!(
        c.download(&format!("RETR {name}")).await.unwrap_err().code,
        550
    );
    assert!(!c.list("NLST -a").await.contains(".ftpsd-upload-"));
    for line in [format!("STOR {name}"), format!("APPE {name}")] {
        let r = c.upload(&line, b"x").await;
        assert_eq!(r.code, 553, "{line}: {r:?}");
    }
    // The upload it belongs to is untouched and completes.
    let data = pattern(64 * 1024, 1);
    conn.shutdown().await.unwrap();
    drop(conn);
    assert_eq!(up.read_reply().await.code, 226);
    assert_eq!(srv.read("alice", "big.bin"), data);
}

#[tokio::test]
async fn replies_never_reveal_entries_hidden_from_listings() {
    let srv = TestServer::start().await;
    let home = srv.home("alice");
    std::os::unix::fs::symlink("/etc", home.join("esc")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x", home.join("dangling")).unwrap();
    let mut c = srv.alice().await;
    for name in ["esc", "dangling", "esc/passwd"] {
        for cmd in ["SIZE", "MDTM", "MLST", "CWD", "RNFR", "DELE", "RMD"] {
            let r = c.cmd(&format!("{cmd} {name}")).await;
            assert_eq!(r.code, 550, "{cmd} {name}: {r:?}");
            assert!(r.text.contains("No such file"), "{cmd} {name}: {r:?}");
        }
        let r = c.download(&format!("RETR {name}")).await.unwrap_err();
        assert!(r.text.contains("No such file"), "RETR {name}: {r:?}");
    }
    // Creating over a hidden name fails without saying that something is there.
    for (cmd, name) in [("MKD", "esc"), ("MKD", "dangling")] {
        let r = c.cmd(&format!("{cmd} {name}")).await;
        assert_eq!(r.code, 550, "{cmd} {name}: {r:?}");
        assert!(!r.text.contains("exists"), "{cmd} {name}: {r:?}");
    }
    let r = c.upload("STOR esc/new.txt", b"x").await;
    assert!(r.code >= 500 && !r.text.contains("exists"), "{r:?}");
    let r = c.cmd("LIST esc").await;
    assert!(r.code >= 400, "{r:?}");
}

#[tokio::test]
async fn uploads_and_renames_never_replace_a_hidden_entry() {
    let srv = TestServer::start().await;
    let home = srv.home("alice");
    std::os::unix::fs::symlink("/etc", home.join("esc")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x", home.join("dangling")).unwrap();
    let mut c = srv.alice().await;
    c.stor("mine.txt", b"mine").await;
    for name in ["esc", "dangling"] {
        for cmd in ["STOR", "APPE"] {
            let r = c.upload(&format!("{cmd} {name}"), b"replaced").await;
            assert_eq!(r.code, 550, "{cmd} {name}: {r:?}");
            assert!(r.text.contains("Permission denied"), "{cmd} {name}: {r:?}");
        }
        c.cmd_ok("RNFR mine.txt", 350).await;
        let r = c.cmd(&format!("RNTO {name}")).await;
        assert_eq!(r.code, 550, "RNTO {name}: {r:?}");
        assert!(r.text.contains("Permission denied"), "RNTO {name}: {r:?}");
        let link = home.join(name).symlink_metadata().unwrap();
        assert!(link.file_type().is_symlink(), "{name} is still the link");
    }
    assert_eq!(std::fs::read(home.join("mine.txt")).unwrap(), b"mine");
    assert!(std::fs::read_link(home.join("esc")).unwrap() == std::path::Path::new("/etc"));
}

fn quota_user() -> String {
    format!(
        "[[user]]\nname = \"q\"\npassword = \"{}\"\n[[user.mount]]\npath = \"{{DIR}}/q\"\nat = \"/\"\nrights = \"a\"\nquota_mb = 1\n",
        TestServer::hash("q-pass")
    )
}

#[tokio::test]
async fn replacing_a_file_may_use_the_old_versions_space() {
    let srv = TestServer::builder()
        .users_toml(&quota_user())
        .start()
        .await;
    std::fs::create_dir_all(srv.dir.path().join("q")).unwrap();
    let mut c = srv.login_as("q", "q-pass").await;
    let kb = 1000;
    c.stor("f.bin", &pattern(700 * kb, 1)).await;
    // 700 KB replaced by 700 KB under a 1 MB quota: the old version's space is reused.
    c.stor("f.bin", &pattern(700 * kb, 2)).await;
    assert_eq!(
        srv.dir.path().join("q/f.bin").metadata().unwrap().len(),
        700_000
    );
    // APPE within the quota works; past it, 552 and the file is cut back.
    c.upload("APPE f.bin", &pattern(200 * kb, 3)).await;
    let r = c.upload("APPE f.bin", &pattern(400 * kb, 4)).await;
    assert_eq!(r.code, 552, "{r:?}");
    assert_eq!(
        srv.dir.path().join("q/f.bin").metadata().unwrap().len(),
        900_000
    );
    // A replacement larger than the old version plus the free space is refused, and the
    // old version stays.
    let r = c.upload("STOR f.bin", &pattern(1100 * kb, 5)).await;
    assert_eq!(r.code, 552, "{r:?}");
    assert_eq!(
        srv.dir.path().join("q/f.bin").metadata().unwrap().len(),
        900_000
    );
    let stat = c.cmd_ok("STAT", 211).await;
    assert!(stat.text.contains("0.9 of 1.0 MB used"), "{stat:?}");
}
