//! The gates path verbs share (host/src/session/gates.rs): a plugin that refuses the `command`
//! hook refuses every verb that reads a folder or a file's attributes, not only LIST; CWD, PWD
//! and transfers are not command-gated; and any refused transfer command ends the pending
//! data plan, whatever refused it.

use ftpsd_e2e::TestServer;
use ftpsd_e2e::wat::{Behavior, plugin};

#[tokio::test]
async fn a_command_hook_refusal_covers_stat_mlst_size_and_mdtm_like_list() {
    let srv = TestServer::builder()
        .plugin(
            "no-looking",
            plugin(
                "no-looking",
                &["command"],
                Behavior::Deny(550, "Not for you."),
            ),
            "",
        )
        .start()
        .await;
    std::fs::create_dir_all(srv.home("alice").join("dir")).unwrap();
    std::fs::write(srv.home("alice").join("dir/f.txt"), b"12345").unwrap();
    let mut c = srv.alice().await;
    for line in [
        "STAT dir",
        "STAT dir/f.txt",
        "MLST dir",
        "MLST dir/f.txt",
        "SIZE dir/f.txt",
        "MDTM dir/f.txt",
        "HASH dir/f.txt",
        "XCRC dir/f.txt",
        "MKD new",
        "DELE dir/f.txt",
    ] {
        let r = c.cmd(line).await;
        assert_eq!((r.code, r.text.as_str()), (550, "Not for you."), "{line}");
    }
    let r = c.download("LIST dir").await.unwrap_err();
    assert_eq!((r.code, r.text.as_str()), (550, "Not for you."));
    // Not command-gated: moving around, status without a path, and transfers.
    c.cmd_ok("CWD dir", 250).await;
    c.cmd_ok("PWD", 257).await;
    c.cmd_ok("STAT", 211).await;
    let (data, _) = c.download("RETR f.txt").await.unwrap();
    assert_eq!(data, b"12345");
}

#[tokio::test]
async fn a_refused_transfer_command_ends_the_pending_data_plan() {
    let srv = TestServer::builder()
        .user("reader", "reader-pass", ftpsd::fs::Rights::Read)
        .plugin(
            "no-listing",
            plugin(
                "no-listing",
                &["command"],
                Behavior::Deny(550, "No listing."),
            ),
            "",
        )
        .start()
        .await;
    std::fs::write(srv.home("reader").join("f.txt"), b"x").unwrap();
    let mut c = srv.login_as("reader", "reader-pass").await;
    // Refused by the filesystem, by a right, by a plugin: each time the PASV is used up.
    for line in ["RETR missing.txt", "STOR new.txt", "LIST"] {
        c.pasv().await;
        let r = c.cmd(line).await;
        assert_eq!(r.code, 550, "{line}: {r:?}");
        let r = c.cmd("RETR f.txt").await;
        assert_eq!(r.code, 425, "after a refused {line}: {r:?}");
    }
    // Refused before it is even a command (no argument): the plan ends too.
    for line in ["RETR", "STOR", "appe"] {
        c.pasv().await;
        let r = c.cmd(line).await;
        assert_eq!(r.code, 501, "{line}: {r:?}");
        let r = c.cmd("RETR f.txt").await;
        assert_eq!(r.code, 425, "after {line}: {r:?}");
    }
}
