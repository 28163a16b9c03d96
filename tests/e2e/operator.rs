//! The operator model: mounts, groups, anonymous, the message file, quotas, uploads that never
//! lose data, hot reload of the users file, CSV import, IP rules and per-user limits.

use std::process::{Command, Stdio};
use std::time::Duration;

use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::{FtpClient, TestServer, bounded, pattern, sha256};
use tokio::net::TcpSocket;

fn user_block(name: &str, extra: &str) -> String {
    format!(
        "[[user]]\nname = \"{name}\"\npassword = \"{}\"\n{extra}\n",
        TestServer::hash(&format!("{name}-pass"))
    )
}

fn mount(path: &str, at: &str, rights: &str, more: &str) -> String {
    format!(
        "[[user.mount]]\npath = \"{{DIR}}/{path}\"\nat = \"{at}\"\nrights = \"{rights}\"\n{more}\n"
    )
}

#[tokio::test]
async fn mounts_appear_as_folders_with_their_own_rights() {
    let srv = TestServer::builder()
        .users_toml(
            &(user_block("bob", "")
                + &mount("bob", "/", "a", "")
                + &mount("music", "/music", "r", "")
                + &mount("drop", "/drop", "w", "")),
        )
        .users_toml(
            &(user_block("hidden", "show_mounts = false")
                + &mount("hidden", "/", "a", "")
                + &mount("music", "/music", "r", "")),
        )
        .start()
        .await;
    let d = srv.dir.path();
    for sub in ["bob", "music", "drop", "hidden"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("music/song.ogg"), b"la la").unwrap();
    let mut c = srv.login_as("bob", "bob-pass").await;
    let root = c.list("NLST").await;
    assert!(root.contains("music") && root.contains("drop"), "{root}");
    let mlsd = c.list("MLSD").await;
    assert!(
        mlsd.lines()
            .any(|l| l.starts_with("type=dir;") && l.contains("perm=el;") && l.ends_with(" music")),
        "{mlsd}"
    );
    assert_eq!(c.retr("/music/song.ogg").await, b"la la");
    c.cmd_ok("CWD /music", 250).await;
    assert_eq!(
        c.upload("STOR new.ogg", b"x").await.code,
        550,
        "r mount refuses uploads"
    );
    c.cmd_ok("DELE song.ogg", 550).await;
    c.cmd_ok("CWD /drop", 250).await;
    c.stor("in.txt", b"dropped").await;
    assert_eq!(std::fs::read(d.join("drop/in.txt")).unwrap(), b"dropped");
    assert_eq!(
        c.download("RETR in.txt").await.unwrap_err().code,
        550,
        "w mount is a drop box"
    );
    assert_eq!(
        c.upload("STOR in.txt", b"again").await.code,
        550,
        "no overwrite in a drop box"
    );
    // A mount folder cannot be removed or renamed; renames do not cross mounts.
    c.cmd_ok("CWD /", 250).await;
    c.cmd_ok("RMD music", 550).await; // the r mount's own rights
    c.cmd_ok("RNFR music", 550).await;
    c.stor("mine.txt", b"m").await;
    c.cmd_ok("RNFR mine.txt", 350).await;
    c.cmd_ok("RNTO drop/mine.txt", 550).await;
    c.cmd_ok("MKD music", 550).await;

    let mut h = srv.login_as("hidden", "hidden-pass").await;
    assert!(
        !h.list("NLST").await.contains("music"),
        "show_mounts = false hides mount folders"
    );
    h.cmd_ok("CWD /music", 250).await;
    assert_eq!(h.retr("song.ogg").await, b"la la");
}

#[tokio::test]
async fn groups_give_mounts_and_the_users_own_entry_wins() {
    let group = "[[group]]\nname = \"staff\"\n[[group.mount]]\npath = \"{DIR}/shared\"\nat = \"/shared\"\nrights = \"rw\"\n[[group.mount]]\npath = \"{DIR}/docs\"\nat = \"/docs\"\nrights = \"r\"\n";
    let srv = TestServer::builder()
        .users_toml(group)
        .users_toml(
            &(user_block("gina", "groups = [\"staff\"]")
                + &mount("gina", "/", "a", "")
                + &mount("docs", "/docs", "a", "")),
        )
        .start()
        .await;
    for sub in ["gina", "shared", "docs"] {
        std::fs::create_dir_all(srv.dir.path().join(sub)).unwrap();
    }
    let mut c = srv.login_as("gina", "gina-pass").await;
    c.stor("/shared/s.txt", b"group rw").await;
    assert_eq!(
        std::fs::read(srv.dir.path().join("shared/s.txt")).unwrap(),
        b"group rw"
    );
    c.cmd_ok("DELE /shared/s.txt", 550).await; // rw: no delete
    c.stor("/docs/d.txt", b"own a").await;
    c.cmd_ok("DELE /docs/d.txt", 250).await; // her own /docs entry (a) wins over the group's r
}

#[tokio::test]
async fn anonymous_login_only_when_enabled_and_read_only() {
    let srv = TestServer::start().await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER anonymous", 331).await;
    c.cmd_ok("PASS guest@example.com", 530).await;

    let srv = TestServer::builder().users_toml("[anonymous]\nenabled = true\n[[anonymous.mount]]\npath = \"{DIR}/pub\"\nrights = \"r\"\n").start().await;
    std::fs::create_dir_all(srv.dir.path().join("pub")).unwrap();
    std::fs::write(srv.dir.path().join("pub/readme.txt"), b"public").unwrap();
    for name in ["anonymous", "ftp"] {
        let mut c = srv.login_as(name, "anything at all").await;
        assert_eq!(c.retr("readme.txt").await, b"public");
        assert_eq!(c.upload("STOR x.txt", b"x").await.code, 550);
        c.cmd_ok("MKD d", 550).await;
        c.cmd_ok("DELE readme.txt", 550).await;
    }
}

#[tokio::test]
async fn message_file_is_listed_downloadable_and_untouchable() {
    let srv = TestServer::builder()
        .config(|c| {
            c.message = Some(ftpsd::config::MessageSection {
                name: "WELCOME.txt".into(),
                text: "Welcome, be nice.\n".into(),
            })
        })
        .start()
        .await;
    srv.write(
        "alice",
        "WELCOME.txt",
        b"a real file with the same name is hidden",
    );
    let mut c = srv.alice().await;
    let names = c.list("NLST").await;
    assert_eq!(names.matches("WELCOME.txt").count(), 1, "{names}");
    assert_eq!(c.retr("WELCOME.txt").await, b"Welcome, be nice.\n");
    assert_eq!(c.cmd_ok("SIZE WELCOME.txt", 213).await.text, "18");
    // The message file is read-only for everyone: 550 permission denied.
    assert_eq!(c.upload("STOR WELCOME.txt", b"x").await.code, 550);
    assert_eq!(c.upload("APPE WELCOME.txt", b"x").await.code, 550);
    c.cmd_ok("DELE WELCOME.txt", 550).await;
    c.cmd_ok("RNFR WELCOME.txt", 550).await;
    c.stor("other.txt", b"o").await;
    c.cmd_ok("RNFR other.txt", 350).await;
    c.cmd_ok("RNTO WELCOME.txt", 550).await;
    assert_eq!(c.retr("WELCOME.txt").await, b"Welcome, be nice.\n");
    let mlsd = c.list("MLSD").await;
    assert!(
        mlsd.lines()
            .any(|l| l.contains("perm=r;") && l.ends_with(" WELCOME.txt")),
        "{mlsd}"
    );
}

#[tokio::test]
async fn quota_at_the_limit_one_byte_over_and_appe() {
    let srv = TestServer::builder()
        .users_toml(&(user_block("q", "") + &mount("q", "/", "a", "quota_mb = 1")))
        .start()
        .await;
    let home = srv.dir.path().join("q");
    std::fs::create_dir_all(&home).unwrap();
    let mut c = srv.login_as("q", "q-pass").await;
    let mib = 1024 * 1024;
    // One byte over: 552, nothing left behind.
    let r = c.upload("STOR over.bin", &pattern(mib + 1, 1)).await;
    assert_eq!(r.code, 552, "{r:?}");
    assert!(r.text.contains("Quota"), "{r:?}");
    assert!(
        std::fs::read_dir(&home).unwrap().next().is_none(),
        "nothing behind"
    );
    // Exactly at the limit: fine.
    c.stor("exact.bin", &pattern(mib, 2)).await;
    // Full: even one byte is refused up front.
    let r = c.upload("STOR more.bin", b"x").await;
    assert_eq!(r.code, 552, "{r:?}");
    // Delete frees space; APPE over the limit is refused and keeps the original.
    c.cmd_ok("DELE exact.bin", 250).await;
    c.stor("a.bin", &pattern(mib - 10, 3)).await;
    let r = c.upload("APPE a.bin", &pattern(100, 4)).await;
    assert_eq!(r.code, 552, "{r:?}");
    assert_eq!(
        sha256(&std::fs::read(home.join("a.bin")).unwrap()),
        sha256(&pattern(mib - 10, 3))
    );
    assert_eq!(c.upload("APPE a.bin", &pattern(10, 5)).await.code, 226);
    // Overwriting a file frees the old version's space.
    c.cmd_ok("DELE a.bin", 250).await;
    c.stor("b.bin", &pattern(600 * 1024, 6)).await;
    c.stor("b.bin", &pattern(300 * 1024, 7)).await;
    c.stor("c.bin", &pattern(600 * 1024, 8)).await;
    let stat = c.cmd_ok("STAT", 211).await;
    assert!(stat.text.contains("0.9 of 1.0 MB used"), "{stat:?}");
}

/// A folder counts 4 KiB against the quota: a full quota refuses MKD (552) instead of letting
/// a user make folders without end; RMD gives the space back.
#[tokio::test]
async fn folders_count_against_the_quota() {
    let srv = TestServer::builder()
        .users_toml(&(user_block("q", "") + &mount("q", "/", "a", "quota_mb = 1")))
        .start()
        .await;
    std::fs::create_dir_all(srv.dir.path().join("q")).unwrap();
    let mut c = srv.login_as("q", "q-pass").await;
    let mut made = 0;
    loop {
        let r = c.cmd(&format!("MKD d{made}")).await;
        if r.code != 257 {
            assert_eq!(r.code, 552, "{r:?}");
            assert!(r.text.contains("a folder counts 4 KiB"), "{r:?}");
            break;
        }
        made += 1;
        assert!(made <= 256, "more folders than 1 MB of quota allows");
    }
    assert_eq!(made, 256);
    // A full quota also refuses files; removing a folder frees its share.
    assert_eq!(c.upload("STOR f", b"x").await.code, 552);
    c.cmd_ok("RMD d0", 250).await;
    c.cmd_ok("MKD again", 257).await;
    c.cmd_ok("MKD more", 552).await;
}

#[tokio::test]
async fn atomic_upload_keeps_the_old_file_when_the_client_vanishes() {
    let srv = TestServer::start().await;
    srv.write("alice", "doc.txt", b"old version");
    let mut c = srv.alice().await;
    let (_, mut conn) = c.open_transfer("STOR doc.txt").await.unwrap();
    conn.write_all(&pattern(300_000, 9)).await.unwrap();
    drop(conn); // gone: no close_notify
    let r = c.read_reply().await;
    assert_eq!(r.code, 426, "{r:?}");
    assert_eq!(srv.read("alice", "doc.txt"), b"old version");
    let leftovers: Vec<_> = std::fs::read_dir(srv.home("alice"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary left: {leftovers:?}");
    // ABOR mid-upload: same.
    let (_, mut conn) = c.open_transfer("STOR doc.txt").await.unwrap();
    conn.write_all(&pattern(100_000, 9)).await.unwrap();
    c.send_raw(b"ABOR\r\n").await;
    let (a, b) = (c.read_reply().await, c.read_reply().await);
    assert_eq!((a.code, b.code), (426, 226));
    drop(conn);
    assert_eq!(srv.read("alice", "doc.txt"), b"old version");
    // A completed upload replaces it.
    c.stor("doc.txt", b"new version").await;
    assert_eq!(srv.read("alice", "doc.txt"), b"new version");
}

#[tokio::test]
async fn rest_stor_counts_against_the_quota() {
    let srv = TestServer::builder()
        .users_toml(
            &(user_block("rq", "") + &mount("rq", "/", "rw", "quota_mb = 1\nmode = \"resumable\"")),
        )
        .start()
        .await;
    let home = srv.dir.path().join("rq");
    std::fs::create_dir_all(&home).unwrap();
    let mut c = srv.login_as("rq", "rq-pass").await;
    c.stor("p.bin", &pattern(600 * 1024, 1)).await;
    // Resuming at 300 KiB replaces the tail: 300 KiB kept + 800 KiB new > 1 MiB.
    c.cmd_ok("REST 307200", 350).await;
    let r = c.upload("STOR p.bin", &pattern(800 * 1024, 2)).await;
    assert_eq!(r.code, 552, "{r:?}");
    assert_eq!(
        std::fs::metadata(home.join("p.bin")).unwrap().len(),
        307_200,
        "cut back to the restart point"
    );
    c.cmd_ok("REST 307200", 350).await;
    c.stor("p.bin", &pattern(700 * 1024, 3)).await;
    assert_eq!(
        std::fs::metadata(home.join("p.bin")).unwrap().len(),
        307_200 + 700 * 1024
    );
}

/// A server whose user `r` (password `r-pass`) has a resumable home; the home's path.
async fn resumable_account(
    builder: ftpsd_e2e::TestServerBuilder,
) -> (TestServer, std::path::PathBuf) {
    let srv = builder
        .users_toml(&(user_block("r", "") + &mount("r", "/", "rw", "mode = \"resumable\"")))
        .start()
        .await;
    let home = srv.dir.path().join("r");
    std::fs::create_dir_all(&home).unwrap();
    (srv, home)
}

#[tokio::test]
async fn resumable_mode_keeps_the_partial_file_for_rest() {
    let (srv, home) = resumable_account(TestServer::builder()).await;
    let data = pattern(400_000, 10);
    let mut c = srv.login_as("r", "r-pass").await;
    let (_, mut conn) = c.open_transfer("STOR big.bin").await.unwrap();
    conn.write_all(&data[..150_000]).await.unwrap();
    drop(conn);
    assert_eq!(c.read_reply().await.code, 426);
    let have = std::fs::metadata(home.join("big.bin")).unwrap().len();
    assert!(
        have > 0 && have <= 150_000,
        "partial kept under its final name: {have}"
    );
    c.cmd_ok(&format!("REST {have}"), 350).await;
    c.stor("big.bin", &data[have as usize..]).await;
    assert_eq!(
        sha256(&std::fs::read(home.join("big.bin")).unwrap()),
        sha256(&data)
    );
}

#[tokio::test]
async fn resumable_mode_keeps_all_of_a_large_partial_upload_written_past_the_page_cache() {
    // Past 4 MiB a synced upload is written with O_DIRECT a MiB at a time; a cut upload must
    // still keep every byte that arrived (the unaligned tail included) for its REST.
    let (srv, home) = resumable_account(TestServer::builder()).await;
    let data = pattern(9_000_000, 12);
    let cut = 7_000_003;
    let mut c = srv.login_as("r", "r-pass").await;
    let (_, mut conn) = c.open_transfer("STOR big.bin").await.unwrap();
    conn.write_all(&data[..cut]).await.unwrap();
    // Everything out of the client's TLS buffer, then cut without close_notify.
    conn.flush().await.unwrap();
    drop(conn);
    assert_eq!(c.read_reply().await.code, 426);
    let kept = std::fs::read(home.join("big.bin")).unwrap();
    assert_eq!(kept.len(), cut, "every byte that arrived is kept");
    assert!(kept == data[..cut], "the kept part is what was sent");
    c.cmd_ok(&format!("REST {cut}"), 350).await;
    c.stor("big.bin", &data[cut..]).await;
    assert_eq!(
        sha256(&std::fs::read(home.join("big.bin")).unwrap()),
        sha256(&data)
    );
}

#[tokio::test]
async fn resumable_mode_keeps_a_cut_append_and_curl_resumes_the_upload_with_appe() {
    // curl's `-C -` resumes an upload with SIZE and APPE: on a flaky link each attempt must
    // keep what arrived, or the file never completes.
    let (srv, home) = resumable_account(TestServer::builder()).await;
    let data = pattern(3_000_000, 14);
    let mut c = srv.login_as("r", "r-pass").await;
    c.stor("up.bin", &data[..1_000_001]).await;
    // An APPE cut without close_notify (the link dropped).
    let (_, mut conn) = c.open_transfer("APPE up.bin").await.unwrap();
    conn.write_all(&data[1_000_001..2_000_003]).await.unwrap();
    conn.flush().await.unwrap();
    drop(conn);
    assert_eq!(c.read_reply().await.code, 426);
    let kept = std::fs::read(home.join("up.bin")).unwrap();
    assert_eq!(kept.len(), 2_000_003, "the cut append keeps what arrived");
    assert!(kept == data[..2_000_003]);
    c.cmd_ok("QUIT", 221).await;

    let src = srv.dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let out = run({
        let mut cmd = Command::new("curl");
        cmd.args(["--silent", "--show-error", "--max-time", "30", "--ssl-reqd"])
            .arg("--cacert")
            .arg(srv.cert_path())
            .args(["-u", "r:r-pass", "-C", "-", "-T"])
            .arg(&src)
            .arg(format!("ftp://127.0.0.1:{}/up.bin", srv.explicit().port()));
        cmd
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        sha256(&std::fs::read(home.join("up.bin")).unwrap()),
        sha256(&data)
    );
}

#[tokio::test]
async fn uploads_not_synced_are_stored_whole_in_both_modes() {
    // `[server] sync_uploads = false`: no early writeback, no O_DIRECT, no fsync; the file
    // must still be complete and committed the same way.
    let builder = TestServer::builder().config(|c| c.server.sync_uploads = false);
    let (srv, home) = resumable_account(builder).await;
    let data = pattern(6_000_001, 13);
    let mut c = srv.login_as("r", "r-pass").await;
    c.stor("big.bin", &data).await;
    assert!(std::fs::read(home.join("big.bin")).unwrap() == data);
    c.cmd_ok("REST 3000000", 350).await;
    c.stor("big.bin", &data[3_000_000..]).await;
    assert!(std::fs::read(home.join("big.bin")).unwrap() == data);
}

#[tokio::test]
async fn server_killed_mid_upload_leaves_the_old_file_and_cleans_up_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.toml"), "[explicit]\nlisten = \"127.0.0.1:0\"\nrequire_session_reuse = true\n[implicit]\nlisten = \"127.0.0.1:0\"\n[passive]\nport_min = 46000\nport_max = 46999\n").unwrap();
    let start = {
        let d = dir.path().to_path_buf();
        move || {
            let d = d.clone();
            move || {
                let mut child = Command::new(ftpsd_bin())
                    .args(["serve", "--config", "k.toml"])
                    .current_dir(&d)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let stdout = child.stdout.take().unwrap();
                let (addr, pass) = read_welcome(stdout);
                (child, addr, pass)
            }
        }
    };
    let (mut child, addr, pass) = tokio::task::spawn_blocking(start()).await.unwrap();
    let pass = pass.expect("first start prints the admin password");
    let files = dir.path().join("ftpsd-data/files");
    std::fs::write(files.join("keep.bin"), b"the previous version").unwrap();
    let cert = dir.path().join("ftpsd-data/tls/cert.pem");
    let mut c = FtpClient::connect_explicit(addr, &cert).await;
    c.login("admin", &pass).await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    let (_, mut conn) = c.open_transfer("STOR keep.bin").await.unwrap();
    conn.write_all(&pattern(2_000_000, 11)).await.unwrap();
    // Wait until the server has written part of the temporary file, then SIGKILL it.
    bounded("temporary file appears", async {
        loop {
            let temp = std::fs::read_dir(&files).unwrap().flatten().find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".ftpsd-upload-")
            });
            if temp.is_some_and(|t| t.metadata().map(|m| m.len() > 0).unwrap_or(false)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(conn);
    assert_eq!(
        std::fs::read(files.join("keep.bin")).unwrap(),
        b"the previous version"
    );
    // Next start removes the leftover temporary.
    let (mut child, _, _) = tokio::task::spawn_blocking(start()).await.unwrap();
    let names: Vec<String> = std::fs::read_dir(&files)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(names, vec!["keep.bin".to_string()]);
}

/// Reads the welcome text: the explicit address and, on first start, the admin password.
pub(crate) fn read_welcome(
    stdout: std::process::ChildStdout,
) -> (std::net::SocketAddr, Option<String>) {
    use std::io::BufRead;
    let mut addr = None;
    let mut pass = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.contains("explicit FTPS") {
            addr = line
                .split("ftp://")
                .nth(1)
                .map(|a| a.trim().parse().unwrap());
        }
        if let Some(p) = line.trim().strip_prefix("password: ") {
            pass = Some(p.to_string());
        }
        if line.trim().starts_with("curl ") || line.contains("Manage users with") {
            break;
        }
    }
    (addr.expect("address printed"), pass)
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    bounded(what, async {
        while !f() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test]
async fn users_file_hot_reload_applies_without_restart() {
    let srv = TestServer::builder()
        .user("bob", "bob-pass", ftpsd::fs::Rights::All)
        .user("carol", "carol-pass", ftpsd::fs::Rights::All)
        .start()
        .await;
    let mut bob = srv.login_as("bob", "bob-pass").await;
    let mut carol = srv.login_as("carol", "carol-pass").await;
    bob.stor("before.txt", b"ok").await;
    let ctx = srv.server.ctx.clone();
    let gen0 = ctx.auth.generation();

    // Change bob to read-only and delete carol, as an operator editing the file would.
    let mut users = ftpsd::users::UsersFile::load(&srv.users_file()).unwrap();
    users.find_mut("bob").unwrap().rights = Some(ftpsd::fs::Rights::Read);
    users.remove("carol").unwrap();
    let started = std::time::Instant::now();
    users.save().unwrap();
    until("reload", || ctx.auth.generation() != gen0).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "applied within 1 s: {took:?}"
    );
    // Carol's live session is ended; bob's next command sees the new rights.
    let r = bounded("carol ended", carol.read_reply()).await;
    assert_eq!(r.code, 421, "{r:?}");
    assert_eq!(bob.upload("STOR after.txt", b"no").await.code, 550);
    assert_eq!(bob.retr("before.txt").await, b"ok");

    // A broken file is rejected with line and column; the previous users stay in force.
    let gen1 = ctx.auth.generation();
    std::fs::write(
        srv.users_file(),
        "[[user]]\nname = \"bob\"\npassword = 12\n",
    )
    .unwrap();
    until("rejection", || {
        ctx.users_reload_error.lock().unwrap().is_some()
    })
    .await;
    let err = ctx.users_reload_error.lock().unwrap().clone().unwrap();
    assert!(err.contains("users.toml:3:"), "{err}");
    assert_eq!(ctx.auth.generation(), gen1);
    let mut again = srv.login_as("bob", "bob-pass").await;
    again.cmd_ok("NOOP", 200).await;
}

#[tokio::test]
async fn csv_import_with_good_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let mut csv =
        b"\xEF\xBB\xBFname;password;path1;rights1;quota1;path2;rights2;quota2;ratio;groups\r\n"
            .to_vec();
    csv.extend_from_slice(b"anna;\"se;cret\";anna;rw;10;music;r;;1:3;\r\n");
    csv.extend_from_slice(b"bad name;x;b;r;;;;;;\r\n");
    csv.extend_from_slice(b"j\xfcrgen;pw;j;r;;;;;;\r\n"); // Latin-1, and an invalid name
    csv.extend_from_slice(b"otto;pw;otto;rwx;;;;;;\r\n");
    std::fs::write(dir.path().join("users.csv"), &csv).unwrap();
    let import = |strict: bool| {
        let mut c = Command::new(ftpsd_bin());
        c.current_dir(dir.path())
            .args(["user", "import", "users.csv", "--config", "c.toml"]);
        if strict {
            c.arg("--strict");
        }
        c
    };
    let out = run(import(true)).await;
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("row 3:")
            && err.contains("row 4:")
            && err.contains("row 5:")
            && err.contains("rwx")
            && err.contains("ASCII letters"),
        "{err}"
    );
    assert!(
        !dir.path().join("ftpsd-data/users.toml").exists()
            || !std::fs::read_to_string(dir.path().join("ftpsd-data/users.toml"))
                .unwrap()
                .contains("anna")
    );
    let out = run(import(false)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 1 user(s), 3 row(s) skipped"),
        "{}",
        text(&out)
    );
    let users = std::fs::read_to_string(dir.path().join("ftpsd-data/users.toml")).unwrap();
    assert!(users.contains("anna") && !users.contains("se;cret") && users.contains("$argon2id$"));
    // The imported user logs in with the CSV password and sees her mounts.
    let config = ftpsd::Config::load(&dir.path().join("c.toml")).unwrap();
    ftpsd::bootstrap::prepare(&config).unwrap();
    let server = ftpsd::Server::start(config.clone()).await.unwrap();
    let (cert, _, _) = config.tls_paths();
    let mut c = FtpClient::connect_explicit(server.explicit.unwrap(), &cert).await;
    c.login("anna", "se;cret").await;
    c.cmd_ok("CWD /music", 250).await;
    // `user show` prints usage per mount.
    std::fs::write(
        dir.path().join("ftpsd-data/anna/f.bin"),
        vec![0u8; 3 * 1024 * 1024],
    )
    .unwrap();
    let out = run({
        let mut c = Command::new(ftpsd_bin());
        c.current_dir(dir.path())
            .args(["user", "show", "anna", "--config", "c.toml"]);
        c
    })
    .await;
    let show = String::from_utf8_lossy(&out.stdout);
    assert!(
        show.lines()
            .any(|l| l.starts_with("/ ") && l.contains("3.0") && l.contains("10.0")),
        "{show}"
    );
    assert!(show.contains("/music"), "{show}");
}

#[tokio::test]
async fn ip_rules_global_and_per_user() {
    // Global deny of 127.0.0.2 with a wildcard: refused before the banner; 127.0.0.1 is fine.
    let srv = TestServer::builder()
        .config(|c| {
            c.access.deny = vec!["127.0.0.2?".parse().unwrap(), "127.0.0.2".parse().unwrap()]
        })
        .start()
        .await;
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let tcp = sock.connect(srv.explicit()).await.unwrap();
    let mut buf = String::new();
    let mut tcp = tokio::io::BufReader::new(tcp);
    tokio::io::AsyncBufReadExt::read_line(&mut tcp, &mut buf)
        .await
        .unwrap();
    assert!(buf.starts_with("421 "), "{buf}");
    srv.alice().await;

    // Global allow list with CIDR: 127.0.0.1 outside 10.0.0.0/8 is refused.
    let srv = TestServer::builder()
        .config(|c| c.access.allow = vec!["10.0.0.0/8".parse().unwrap()])
        .start()
        .await;
    let (_c, first) = FtpClient::connect_raw(srv.explicit(), srv.cert_path()).await;
    assert_eq!(first.code, 421);

    // Per user: denied at login with 530, like a wrong password.
    let srv = TestServer::builder()
        .users_toml(
            &(user_block("limited", "deny = [\"127.0.0.*\"]") + &mount("limited", "/", "r", "")),
        )
        .start()
        .await;
    std::fs::create_dir_all(srv.dir.path().join("limited")).unwrap();
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER limited", 331).await;
    let r = c.cmd_ok("PASS limited-pass", 530).await;
    assert_eq!(r.text, "Login incorrect.");
    c.login("alice", "alice-pass").await;
}

#[tokio::test]
async fn per_user_session_limit_is_exact_under_50_parallel_logins() {
    let srv = TestServer::builder()
        .users_toml(&(user_block("pool", "max_sessions = 5") + &mount("pool", "/", "r", "")))
        .start()
        .await;
    std::fs::create_dir_all(srv.dir.path().join("pool")).unwrap();
    let (addr, cert) = (srv.explicit(), srv.cert_path().to_path_buf());
    // Every client keeps its session until all 50 have their PASS reply.
    let (hold_tx, hold_rx) = tokio::sync::watch::channel(false);
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let cert = cert.clone();
        let mut rx = hold_rx.clone();
        let answered = answered.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = FtpClient::connect_explicit(addr, &cert).await;
            c.cmd_ok("USER pool", 331).await;
            let r = c.cmd("PASS pool-pass").await;
            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = rx.wait_for(|v| *v).await;
            r
        }));
    }
    until("all logins answered", || {
        answered.load(std::sync::atomic::Ordering::SeqCst) == 50
    })
    .await;
    let _ = hold_tx.send(true);
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.unwrap());
    }
    assert_eq!(
        replies.iter().filter(|r| r.code == 230).count(),
        5,
        "{replies:?}"
    );
    let refused: Vec<_> = replies.iter().filter(|r| r.code == 530).collect();
    assert_eq!(refused.len(), 45);
    assert!(
        refused[0].text.contains("Too many sessions for user pool"),
        "{:?}",
        refused[0]
    );
}

#[tokio::test]
async fn no_double_login_from_the_same_address() {
    let srv = TestServer::builder()
        .config(|c| c.access.no_double_login = true)
        .start()
        .await;
    let _first = srv.alice().await;
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER alice", 331).await;
    let r = c.cmd_ok("PASS alice-pass", 530).await;
    assert!(
        r.text.contains("already logged in from your address"),
        "{r:?}"
    );
}
