//! `~name` shares: what bob shares reaches the users and groups he names, as `~bob/...`, with
//! the rights he granted and against his quota; nothing else of bob's is reachable; `~` is home;
//! ordinary names that start with `~` stay ordinary; the CLI changes shares on a running server.

use std::process::Command;

use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::{TestServer, pattern, until};

fn bob_and_dave() -> String {
    format!(
        r#"
[[group]]
name = "staff"

[[user]]
name = "bob"
password = "{bob}"
[[user.mount]]
path = "{{DIR}}/bob"
at = "/"
rights = "a"
quota_mb = 1
[[user.share]]
path = "/public"
with = ["alice"]
rights = "r"
[[user.share]]
path = "/drop"
with = ["@staff"]
rights = "w"
[[user.share]]
path = "/link"
with = ["alice"]
rights = "r"

[[user]]
name = "dave"
password = "{dave}"
home = "{{DIR}}/dave"
rights = "a"
groups = ["staff"]
"#,
        bob = TestServer::hash("bob-pass"),
        dave = TestServer::hash("dave-pass"),
    )
}

async fn server() -> TestServer {
    let srv = TestServer::builder()
        .user("carol", "carol-pass", ftpsd::fs::Rights::All)
        .users_toml(&bob_and_dave())
        .start()
        .await;
    let d = srv.dir.path();
    for sub in ["bob/public", "bob/drop", "bob/private", "dave", "secret"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("bob/public/song.txt"), b"la la la").unwrap();
    std::fs::write(d.join("bob/private/diary.txt"), b"dear diary").unwrap();
    std::fs::write(d.join("secret/key.txt"), b"outside bob's home").unwrap();
    // A shared symlink leading out of bob's home: it must not become a way out.
    std::os::unix::fs::symlink(d.join("secret"), d.join("bob/link")).unwrap();
    srv
}

#[tokio::test]
async fn a_share_is_reached_as_tilde_owner_with_the_granted_rights_only() {
    let srv = server().await;
    let mut alice = srv.alice().await;
    alice.cmd_ok("CWD ~bob", 250).await;
    assert!(alice.cmd_ok("PWD", 257).await.text.contains("\"/~bob\""));
    // alice sees only what is shared with her (not the staff drop box, not the broken link).
    assert_eq!(alice.list("NLST").await.trim(), "public");
    assert_eq!(alice.retr("public/song.txt").await, b"la la la");
    assert_eq!(alice.retr("~bob/public/song.txt").await, b"la la la");
    assert_eq!(alice.retr("/~bob/public/song.txt").await, b"la la la");
    alice.cmd_ok("CWD ~BOB/public", 250).await; // user names are case-insensitive
    assert_eq!(
        alice.upload("STOR mine.txt", b"x").await.code,
        550,
        "shared read-only"
    );
    alice.cmd_ok("DELE song.txt", 550).await;
    alice.cmd_ok("MKD new", 550).await;
    // Nothing else of bob's, however it is written.
    for path in [
        "~bob/private",
        "/~bob/private",
        "~bob/public/../private",
        "~bob/drop",
        "~bob/link",
        "~bob/..",
    ] {
        let r = alice.cmd(&format!("CWD {path}")).await;
        let pwd = alice.cmd_ok("PWD", 257).await.text;
        assert!(
            r.code == 550 || pwd.contains("\"/\""),
            "CWD {path}: {r:?}, now at {pwd}"
        );
        alice.cmd_ok("CWD ~bob/public", 250).await;
    }
    assert!(
        alice
            .download("RETR ~bob/public/../private/diary.txt")
            .await
            .is_err()
    );
    assert!(alice.download("RETR ~bob/link/key.txt").await.is_err());
    assert!(alice.download("RETR ~bob/drop/x").await.is_err());
    alice.cmd_ok("SIZE ~bob/private/diary.txt", 550).await;
    alice.cmd_ok("MKD ~bob/mine", 550).await;
    alice.cmd_ok("RMD ~bob", 550).await;
    alice.cmd_ok("RNFR ~bob/public", 550).await;

    // `~` is home; the share folder is reached by name, never listed in the root.
    alice.cmd_ok("CWD ~", 250).await;
    assert!(alice.cmd_ok("PWD", 257).await.text.contains("\"/\""));
    assert!(!alice.list("NLST").await.contains("~bob"));
    // Names that merely start with `~` are ordinary files (Office lock files, notes).
    for name in ["~$report.docx", "~notes", "~carol"] {
        alice.stor(name, name.as_bytes()).await;
        assert_eq!(alice.retr(name).await, name.as_bytes());
        assert_eq!(srv.read("alice", name), name.as_bytes());
    }

    // carol is offered nothing: `~bob` is just a name that does not exist for her.
    let mut carol = srv.login_as("carol", "carol-pass").await;
    carol.cmd_ok("CWD ~bob", 550).await;
    assert!(carol.download("RETR ~bob/public/song.txt").await.is_err());
    assert!(carol.download("RETR /~bob/public/song.txt").await.is_err());
    // carol was in the withdrawn folder: CDUP takes her to the nearest folder that is left.
    let up = carol.cmd_ok("CDUP", 250).await;
    assert!(!up.text.contains("public"), "{up:?}");
    let pwd = carol.cmd_ok("PWD", 257).await;
    assert!(!pwd.text.contains("public"), "{pwd:?}");
    carol.cmd_ok("CWD .", 250).await;
}

#[tokio::test]
async fn a_group_drop_box_counts_against_the_owners_quota() {
    let srv = server().await;
    let mut dave = srv.login_as("dave", "dave-pass").await;
    dave.cmd_ok("CWD ~bob", 250).await;
    assert_eq!(dave.list("NLST").await.trim(), "drop");
    dave.stor("~bob/drop/report.txt", b"quarterly").await;
    assert_eq!(
        std::fs::read(srv.dir.path().join("bob/drop/report.txt")).unwrap(),
        b"quarterly"
    );
    assert!(
        dave.download("RETR ~bob/drop/report.txt").await.is_err(),
        "w is a drop box"
    );
    // bob's quota is 1 MB: dave cannot fill bob's disk through the share.
    let r = dave
        .upload("STOR ~bob/drop/big.bin", &pattern(1536 * 1024, 3))
        .await;
    assert_eq!(r.code, 552, "{r:?}");
    assert!(!srv.dir.path().join("bob/drop/big.bin").exists());
    // and bob's own uploads share the same count.
    let mut bob = srv.login_as("bob", "bob-pass").await;
    assert!(
        !bob.cmd_ok("STAT", 211).await.text.contains("/~"),
        "bob is offered nothing"
    );
    assert_eq!(bob.retr("/drop/report.txt").await, b"quarterly");
}

#[tokio::test]
async fn curl_downloads_and_lists_through_a_share() {
    let srv = server().await;
    let base = format!("ftp://127.0.0.1:{}", srv.explicit().port());
    let curl = |url: String| {
        let mut c = Command::new("curl");
        c.args([
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--ssl-reqd",
            "--cacert",
        ])
        .arg(srv.cert_path())
        .args(["-u", "alice:alice-pass"])
        .arg(url);
        c
    };
    let out = run(curl(format!("{base}/~bob/public/song.txt"))).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(out.stdout, b"la la la");
    let out = run(curl(format!("{base}/~bob/public/"))).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("song.txt"),
        "{}",
        text(&out)
    );
    let out = run(curl(format!("{base}/~bob/private/diary.txt"))).await;
    assert!(!out.status.success(), "{}", text(&out));
}

#[tokio::test]
async fn the_cli_shares_and_unshares_on_a_running_server() {
    let srv = server().await;
    let cfg = srv.config_file();
    let ctx = srv.server.ctx.clone();
    let ftpsd = |args: &[&str]| {
        let mut c = Command::new(ftpsd_bin());
        c.args(args).arg("--config").arg(&cfg);
        c
    };
    let mut carol = srv.login_as("carol", "carol-pass").await;
    carol.cmd_ok("CWD ~bob", 550).await;

    // Bad requests change nothing and say why.
    for (args, says) in [
        (
            vec!["user", "share", "bob", "/public", "--with", "@nobody"],
            "no such group",
        ),
        (
            vec!["user", "share", "bob", "/nothing-here", "--with", "carol"],
            "does not exist",
        ),
        (
            vec!["user", "share", "bob", "/../etc", "--with", "carol"],
            "must be a folder",
        ),
        (
            vec!["user", "share", "nobody", "/public", "--with", "carol"],
            "nobody",
        ),
        (
            vec!["user", "unshare", "bob", "/music"],
            "does not share /music",
        ),
        (
            vec!["user", "share", "bob", "/public", "--with", "alcie"],
            "no user 'alcie'",
        ),
        (
            vec!["user", "share", "bob", "/public", "--with", "bob"],
            "cannot share with itself",
        ),
        (
            vec![
                "user",
                "share",
                "bob",
                "/public/song.txt",
                "--with",
                "carol",
            ],
            "is not a folder",
        ),
        (
            vec!["user", "share", "bob", "/link", "--with", "carol"],
            "cannot be shared",
        ),
    ] {
        let before = std::fs::read(srv.users_file()).unwrap();
        let out = run(ftpsd(&args)).await;
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
        assert_eq!(std::fs::read(srv.users_file()).unwrap(), before, "{args:?}");
    }

    let gen0 = ctx.auth.generation();
    let out = run(ftpsd(&[
        "user",
        "share",
        "bob",
        "/public",
        "--with",
        "alice,carol",
        "--rights",
        "r",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("~bob/public"), "{}", text(&out));
    until("reload", || ctx.auth.generation() != gen0).await;
    // carol's running session gets the share from her next command.
    carol.cmd_ok("CWD ~bob/public", 250).await;
    assert_eq!(carol.retr("song.txt").await, b"la la la");
    let out = run(ftpsd(&["user", "show", "carol"])).await;
    assert!(text(&out).contains("~bob/public (r)"), "{}", text(&out));
    let out = run(ftpsd(&["user", "show", "bob"])).await;
    assert!(
        text(&out).contains("/public with alice, carol (r)"),
        "{}",
        text(&out)
    );

    let gen1 = ctx.auth.generation();
    let out = run(ftpsd(&["user", "unshare", "bob", "/public"])).await;
    assert!(out.status.success(), "{}", text(&out));
    until("reload", || ctx.auth.generation() != gen1).await;
    assert!(carol.download("RETR /~bob/public/song.txt").await.is_err());
    let mut alice = srv.alice().await;
    alice.cmd_ok("CWD ~bob/public", 550).await;

    // Deleting a group withdraws what was shared with it (and nothing else).
    let out = run(ftpsd(&["group", "del", "staff", "--force"])).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(ftpsd(&["user", "show", "bob"])).await;
    assert!(!text(&out).contains("/drop with"), "{}", text(&out));
    assert!(text(&out).contains("/link with alice"), "{}", text(&out));

    // Deleting a user withdraws what was shared with that name: a user created later under
    // it inherits nothing.
    let out = run(ftpsd(&["user", "del", "alice"])).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(ftpsd(&["user", "show", "bob"])).await;
    assert!(!text(&out).contains("/link with"), "{}", text(&out));
}

#[tokio::test]
async fn a_share_follows_its_path_and_costs_one_descriptor_for_all_sessions() {
    let srv = server().await;
    let d = srv.dir.path();
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let mut c = srv.alice().await;
        assert_eq!(c.list("NLST ~bob/public").await.trim(), "song.txt");
        sessions.push(c);
    }
    // alice's home and bob's shared folder: one descriptor each for all 8 sessions.
    assert_eq!(
        srv.server.ctx.share_dirs.open_now(),
        2,
        "one open folder each for 8 sessions"
    );

    // bob moves the shared folder into his private one and makes a new empty /public: the
    // open sessions must not follow the folder into private.
    std::fs::rename(d.join("bob/public"), d.join("bob/private/moved")).unwrap();
    std::fs::create_dir(d.join("bob/public")).unwrap();
    std::fs::write(d.join("bob/private/moved/secret.txt"), b"private now").unwrap();
    let alice = &mut sessions[0];
    assert!(alice.download("RETR ~bob/public/secret.txt").await.is_err());
    assert!(alice.download("RETR ~bob/public/song.txt").await.is_err());
    // A new session sees the new /public.
    let mut fresh = srv.alice().await;
    assert_eq!(fresh.list("NLST ~bob/public").await.trim(), "");
    assert!(fresh.download("RETR ~bob/public/secret.txt").await.is_err());
}
