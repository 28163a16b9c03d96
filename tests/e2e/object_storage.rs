//! Mounts in an S3-compatible bucket (`path = "s3://bucket/prefix"`), against a real S3 server
//! process on loopback (moto): the file commands a local mount answers, with the objects
//! checked in the bucket itself; uploads visible only when complete and aborted multipart
//! uploads leaving nothing; rights, quota and a plugin on an object mount; each operation
//! object storage cannot do refused with its reason; curl and lftp round trips.

use std::process::Command;

use ftpsd_e2e::s3::S3Server;
use ftpsd_e2e::{TestServer, built_plugin, until};

const BUCKET: &str = "ftp";

fn carol() -> String {
    format!(
        r#"
[[user]]
name = "carol"
password = "{}"
[[user.mount]]
path = "s3://ftp/carol"
at = "/"
rights = "a"
[[user.mount]]
path = "s3://ftp/public"
at = "/public"
rights = "r"
[[user.mount]]
path = "s3://ftp/drop"
at = "/drop"
rights = "w"
[[user.mount]]
path = "s3://ftp/capped/"
at = "/capped"
rights = "a"
quota_mb = 1
"#,
        TestServer::hash("carol-pass")
    )
}

async fn start(plugins: bool) -> (S3Server, TestServer) {
    let s3 = S3Server::start(BUCKET).await;
    let endpoint = s3.endpoint();
    let mut b = TestServer::builder().users_toml(&carol()).config(move |c| {
        c.s3.endpoint = Some(endpoint);
        c.s3.access_key_id = Some("test-key".into());
        c.s3.secret_access_key = Some("test-secret".into());
        c.s3.part_size_mb = 5;
    });
    if plugins {
        b = b.plugin(
            "block-ext",
            built_plugin("block_ext.wasm"),
            "settings = { patterns = [\"*.exe\"] }",
        );
    }
    let srv = b.start().await;
    (s3, srv)
}

fn random(n: usize, seed: u64) -> Vec<u8> {
    ftpsd_e2e::pattern(n, seed)
}

#[tokio::test]
async fn an_s3_mount_answers_the_file_commands_and_the_objects_are_in_the_bucket() {
    let (s3, srv) = start(false).await;
    let mut c = srv.login_as("carol", "carol-pass").await;

    // A 12 MiB upload: a multipart upload of three 5 MiB parts.
    let data = random(12 << 20, 1);
    c.stor("big.bin", &data).await;
    assert!(
        s3.keys(BUCKET, "carol/")
            .contains(&"carol/big.bin".to_string())
    );
    assert!(
        s3.get(BUCKET, "carol/big.bin") == data,
        "the object holds the upload"
    );
    assert!(
        s3.open_uploads(BUCKET).is_empty(),
        "the multipart upload was completed"
    );
    assert_eq!(
        c.cmd_ok("SIZE big.bin", 213).await.text,
        (12 << 20).to_string()
    );
    let mdtm = c.cmd_ok("MDTM big.bin", 213).await.text;
    assert!(mdtm.len() >= 14 && mdtm.starts_with("20"), "{mdtm}");

    // Downloads, whole and resumed (a ranged GET).
    assert!(c.retr("big.bin").await == data);
    c.cmd_ok("REST 1000000", 350).await;
    let (tail, r) = c.download("RETR big.bin").await.expect("REST+RETR");
    assert_eq!(r.code, 226, "{r:?}");
    assert!(tail == data[1_000_000..], "resumed download is the tail");
    c.cmd_ok("REST 99999999", 350).await;
    let r = c.download("RETR big.bin").await.expect_err("past the end");
    assert_eq!(r.code, 554, "{r:?}");

    // Listings with sizes.
    c.stor("empty.txt", b"").await;
    assert_eq!(c.cmd_ok("SIZE empty.txt", 213).await.text, "0");
    let list = c.list("LIST").await;
    assert!(
        list.lines()
            .any(|l| l.ends_with(" big.bin") && l.contains(" 12582912 ")),
        "{list}"
    );
    let mlsd = c.list("MLSD").await;
    assert!(
        mlsd.contains("size=12582912;") && mlsd.contains("type=file;"),
        "{mlsd}"
    );
    assert!(
        mlsd.lines()
            .any(|l| l.contains("type=dir;") && l.ends_with(" public")),
        "{mlsd}"
    );
    let nlst = c.list("NLST").await;
    assert!(nlst.lines().any(|l| l == "empty.txt"), "{nlst}");

    // Folders are prefixes with a marker object.
    c.cmd_ok("MKD docs", 257).await;
    assert!(
        s3.keys(BUCKET, "carol/docs")
            .contains(&"carol/docs/".to_string())
    );
    c.cmd_ok("MKD docs", 550).await;
    c.cmd_ok("MKD no/such/parent", 550).await;
    c.cmd_ok("CWD docs", 250).await;
    c.stor("a.txt", b"in a folder").await;
    c.cmd_ok("CWD /", 250).await;
    c.cmd_ok("RMD docs", 550).await; // not empty
    c.cmd_ok("DELE docs/a.txt", 250).await;
    c.cmd_ok("RMD docs", 250).await;
    c.cmd_ok("CWD docs", 550).await;
    assert!(s3.keys(BUCKET, "carol/docs").is_empty());

    // A folder made by another S3 client (no marker) is a folder too.
    s3.put(BUCKET, "carol/photos/2026/a.jpg", b"jpeg");
    c.cmd_ok("CWD photos/2026", 250).await;
    assert_eq!(c.retr("a.jpg").await, b"jpeg");
    c.cmd_ok("CWD /", 250).await;

    // Rename: copy, then delete.
    c.cmd_ok("RNFR big.bin", 350).await;
    c.cmd_ok("RNTO moved.bin", 250).await;
    let keys = s3.keys(BUCKET, "carol/");
    assert!(keys.contains(&"carol/moved.bin".into()) && !keys.contains(&"carol/big.bin".into()));
    assert!(c.retr("moved.bin").await == data);

    // HASH reads the object through.
    let sha = ftpsd_e2e::sha256(&data);
    assert_eq!(
        c.cmd_ok("HASH moved.bin", 213).await.text,
        format!("SHA-256 0-{} {sha} /moved.bin", (12 << 20) - 1)
    );

    // What object storage cannot do is refused with the reason.
    let r = c.upload("APPE moved.bin", b"more").await;
    assert_eq!(r.code, 504, "{r:?}");
    assert!(r.text.contains("append"), "{r:?}");
    c.cmd_ok("REST 10", 350).await;
    let r = c.upload("STOR moved.bin", b"rest").await;
    assert_eq!(r.code, 504, "{r:?}");
    assert!(r.text.contains("resume"), "{r:?}");
    assert!(
        s3.get(BUCKET, "carol/moved.bin") == data,
        "nothing changed by the refusals"
    );
    // MFMT keeps the upload's time and names it, so sync clients go on (rclone fails a
    // whole sync on a refused MFMT).
    let kept = c.cmd_ok("MDTM moved.bin", 213).await.text;
    let r = c.cmd_ok("MFMT 20200101000000 moved.bin", 213).await;
    assert_eq!(r.text, format!("Modify={kept}; /moved.bin"));
    let r = c.cmd("SITE CHMOD 600 moved.bin").await;
    assert_eq!(r.code, 504, "{r:?}");

    // A file of the read-only mount, put there by another client: listed and readable only.
    s3.put(BUCKET, "public/readme.txt", b"read me");
    assert!(c.list("LIST /public").await.contains("readme.txt"));
    assert_eq!(c.retr("/public/readme.txt").await, b"read me");
    let r = c.upload("STOR /public/x.txt", b"no").await;
    assert_eq!(r.code, 550, "{r:?}");
    c.cmd_ok("DELE /public/readme.txt", 550).await;
    assert_eq!(
        s3.keys(BUCKET, "public/"),
        vec!["public/readme.txt".to_string()]
    );

    // Names OpenDAL would trim are refused, never sent: " .." must not climb out of the
    // prefix (the HTTP client collapses "..").
    for line in [
        "SIZE  ../public/readme.txt",
        "DELE  ../public/readme.txt",
        "MKD \t..",
        "SIZE moved.bin ",
        "RNFR  moved.bin",
    ] {
        let r = c.cmd(line).await;
        assert!(r.code == 553 || r.code == 550, "{line}: {r:?}");
    }
    let r = c.upload("STOR  ../public/evil.txt", b"x").await;
    assert_eq!(r.code, 553, "{r:?}");
    let r = c
        .download("RETR  ../public/readme.txt")
        .await
        .expect_err("refused");
    assert_eq!(r.code, 553, "{r:?}");
    assert_eq!(
        s3.keys(BUCKET, "public/"),
        vec!["public/readme.txt".to_string()]
    );

    // Renames as on disk: a file onto itself is nothing; a folder onto a file or into itself
    // is refused.
    c.cmd_ok("RNFR moved.bin", 350).await;
    c.cmd_ok("RNTO moved.bin", 250).await;
    c.cmd_ok("MKD box", 257).await;
    c.cmd_ok("RNFR box", 350).await;
    c.cmd_ok("RNTO moved.bin", 550).await;
    c.cmd_ok("RNFR box", 350).await;
    c.cmd_ok("RNTO box/inner", 550).await;
    c.cmd_ok("RMD box", 250).await;
    assert!(s3.get(BUCKET, "carol/moved.bin") == data);

    // DELE removes the object.
    c.cmd_ok("DELE moved.bin", 250).await;
    c.cmd_ok("SIZE moved.bin", 550).await;
    assert!(
        !s3.keys(BUCKET, "carol/")
            .contains(&"carol/moved.bin".into())
    );
    // Cross-mount rename is refused as on disk.
    c.cmd_ok("RNFR empty.txt", 350).await;
    c.cmd_ok("RNTO /capped/empty.txt", 550).await;
}

#[tokio::test]
async fn a_refused_or_cut_upload_leaves_nothing_in_the_bucket_and_a_plugin_decides_as_on_disk() {
    let (s3, srv) = start(true).await;
    let mut c = srv.login_as("carol", "carol-pass").await;

    // Over the 1 MiB quota: 552, and neither the object nor the multipart upload remains.
    let r = c.upload("STOR /capped/big.bin", &random(3 << 20, 2)).await;
    assert_eq!(r.code, 552, "{r:?}");
    assert!(s3.keys(BUCKET, "capped/").is_empty());
    // Within it: kept, and counted.
    c.stor("/capped/small.bin", &random(600 << 10, 3)).await;
    // Renaming it onto itself frees nothing.
    c.cmd_ok("RNFR /capped/small.bin", 350).await;
    c.cmd_ok("RNTO /capped/small.bin", 250).await;
    let r = c
        .upload("STOR /capped/second.bin", &random(600 << 10, 4))
        .await;
    assert_eq!(r.code, 552, "{r:?}");
    assert_eq!(
        s3.keys(BUCKET, "capped/"),
        vec!["capped/small.bin".to_string()]
    );

    // Cut off mid-upload (no close_notify) after two parts went up: aborted, nothing kept.
    let (_, mut conn) = c.open_transfer("STOR cut.bin").await.expect("150");
    conn.write_all(&random(11 << 20, 5)).await.unwrap();
    conn.flush().await.unwrap();
    conn.close_without_notify();
    let r = ftpsd_e2e::bounded("reply to the cut upload", c.read_reply()).await;
    assert!(r.code == 426 || r.code == 451, "{r:?}");
    until("the cut upload is aborted in the store", || {
        s3.open_uploads(BUCKET).is_empty()
    })
    .await;
    assert!(!s3.keys(BUCKET, "carol/").contains(&"carol/cut.bin".into()));

    // A drop box (no right to replace): two uploads racing for one new name, one wins.
    let mut d = srv.login_as("carol", "carol-pass").await;
    let (_, mut first) = c.open_transfer("STOR /drop/race.bin").await.expect("150");
    let (_, mut second) = d.open_transfer("STOR /drop/race.bin").await.expect("150");
    first.write_all(b"first upload").await.unwrap();
    second.write_all(b"second upload").await.unwrap();
    first.shutdown().await.unwrap();
    let r1 = ftpsd_e2e::bounded("first reply", c.read_reply()).await;
    second.shutdown().await.unwrap();
    let r2 = ftpsd_e2e::bounded("second reply", d.read_reply()).await;
    let codes = [r1.code, r2.code];
    assert!(
        codes.contains(&226) && codes.iter().any(|c| *c >= 450),
        "{r1:?} {r2:?}"
    );
    let kept = s3.get(BUCKET, "drop/race.bin");
    assert_eq!(
        kept,
        if r1.code == 226 {
            &b"first upload"[..]
        } else {
            &b"second upload"[..]
        }
    );

    // A folder made under the upload's name while it runs: the upload is refused, never a
    // file beside the folder.
    let (_, mut up) = c.open_transfer("STOR dual").await.expect("150");
    up.write_all(b"a file").await.unwrap();
    d.cmd_ok("MKD dual", 257).await;
    up.shutdown().await.unwrap();
    let r = ftpsd_e2e::bounded("reply", c.read_reply()).await;
    assert!(r.code >= 450, "{r:?}");
    assert!(
        !s3.keys(BUCKET, "carol/dual")
            .contains(&"carol/dual".to_string())
    );
    c.cmd_ok("CWD dual", 250).await;
    c.cmd_ok("CWD /", 250).await;

    // The plugin refuses a blocked type before anything reaches the store.
    let r = c.upload("STOR tool.exe", b"MZ").await;
    assert_eq!(r.code, 553, "{r:?}");
    assert!(!s3.keys(BUCKET, "carol/").contains(&"carol/tool.exe".into()));
    c.stor("tool.txt", b"fine").await;
    c.cmd_ok("RNFR tool.txt", 350).await;
    c.cmd_ok("RNTO tool.exe", 553).await;
    assert!(s3.keys(BUCKET, "carol/").contains(&"carol/tool.txt".into()));
}

#[tokio::test]
async fn a_broken_s3_mount_or_setting_is_refused_with_the_reason() {
    // A bad URL in the users file names the mount and the rule.
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.toml");
    std::fs::write(
        &users,
        format!(
            "[[user]]\nname = \"x\"\npassword = \"{}\"\n[[user.mount]]\npath = \"s3://Bad_Bucket/x\"\nat = \"/\"\nrights = \"a\"\n",
            TestServer::hash("x")
        ),
    )
    .unwrap();
    let e = ftpsd::users::file::UsersFile::load(&users)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("users.toml") && e.contains("user 'x'") && e.contains("bucket name"),
        "{e}"
    );

    // A bad [s3] key in the config names file, line and key.
    let cfg = dir.path().join("ftpsd.toml");
    std::fs::write(&cfg, "[s3]\npart_size_mb = 1\n").unwrap();
    let e = ftpsd::Config::load(&cfg).unwrap_err().to_string();
    assert!(
        e.contains("ftpsd.toml") && e.contains("part_size_mb"),
        "{e}"
    );

    // A secret file is read relative to the config, and must exist.
    let sub = dir.path().join("etc");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("s3-secret"), "shh\n").unwrap();
    std::fs::write(
        sub.join("ftpsd.toml"),
        "[s3]\nsecret_access_key_file = \"s3-secret\"\n",
    )
    .unwrap();
    ftpsd::Config::load(&sub.join("ftpsd.toml")).expect("relative to the config file");
    std::fs::write(
        sub.join("ftpsd.toml"),
        "[s3]\nsecret_access_key_file = \"nope\"\n",
    )
    .unwrap();
    let e = ftpsd::Config::load(&sub.join("ftpsd.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("ftpsd.toml") && e.contains("nope"), "{e}");

    // A store that is down: the login of a user whose root lives there fails cleanly, and
    // another user is unaffected.
    let srv = TestServer::builder()
        .users_toml(&carol())
        .config(|c| {
            c.s3.endpoint = Some(format!(
                "http://127.0.0.1:{}",
                ftpsd_e2e::cluster::free_port()
            ));
            c.s3.timeout_secs = 5;
        })
        .start()
        .await;
    let mut c = ftpsd_e2e::FtpClient::connect_explicit(srv.explicit(), &srv.cert).await;
    c.cmd_ok("USER carol", 331).await;
    let r = c.cmd("PASS carol-pass").await;
    assert!(r.code == 230 || r.code == 530 || r.code == 421, "{r:?}");
    if r.code == 230 {
        // The view opens lazily: the first file command says the store failed.
        let r = c.cmd("SIZE x").await;
        assert!(r.code == 451 || r.code == 550, "{r:?}");
    }
    let mut a = srv.alice().await;
    a.cmd_ok("PWD", 257).await;
}

/// curl (OpenSSL) and lftp (GnuTLS) as people use them: a 300-file tree mirrored up and back
/// with lftp, a file up and down with curl, resumed downloads included.
#[tokio::test]
async fn lftp_mirrors_a_300_file_tree_and_curl_resumes_a_download_on_an_s3_mount() {
    let (s3, srv) = start(false).await;
    let port = srv.explicit().port();
    let work = tempfile::tempdir().unwrap();
    let up = work.path().join("up");
    for i in 0..300 {
        let sub = up.join(format!("d{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join(format!("f{i}.bin")),
            random(1000 + i * 37, i as u64),
        )
        .unwrap();
    }
    // The server runs in this test's runtime: the clients run as async children.
    let cert = srv.cert.clone();
    let lftp = |script: String| {
        let mut c = Command::new("lftp");
        c.args(["-c", &format!(
            "set ssl:ca-file {}; set ssl:check-hostname no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set net:max-retries 1; set net:timeout 20; open -u carol,carol-pass ftp://127.0.0.1:{port}; {script}",
            cert.display()
        )]);
        async move {
            let out = ftpsd_e2e::tools::run(c).await;
            assert!(
                out.status.success(),
                "lftp {script}: {}",
                ftpsd_e2e::tools::text(&out)
            );
        }
    };
    lftp(format!("mirror -R --parallel=4 {} /tree", up.display())).await;
    let files = s3.keys(BUCKET, "carol/tree/");
    assert_eq!(
        files.iter().filter(|k| !k.ends_with('/')).count(),
        300,
        "{files:?}"
    );
    let down = work.path().join("down");
    lftp(format!("mirror --parallel=4 /tree {}", down.display())).await;
    for i in 0..300 {
        let rel = format!("d{}/f{i}.bin", i % 10);
        assert!(
            std::fs::read(up.join(&rel)).unwrap() == std::fs::read(down.join(&rel)).unwrap(),
            "{rel} differs"
        );
    }

    // curl up, then a cut-short copy resumed with -C -.
    let data = random(9 << 20, 9);
    let src = work.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let url = format!("ftp://127.0.0.1:{port}/curl.bin");
    let curl = |args: &[&str]| {
        let mut c = Command::new("curl");
        c.args(["-sS", "--ssl-reqd", "--cacert"])
            .arg(&srv.cert)
            .args(["-u", "carol:carol-pass", "--max-time", "60"])
            .args(args);
        ftpsd_e2e::tools::run(c)
    };
    let out = curl(&["-T", src.to_str().unwrap(), &url]).await;
    assert!(out.status.success(), "{}", ftpsd_e2e::tools::text(&out));
    let part = work.path().join("part.bin");
    std::fs::write(&part, &data[..3_000_000]).unwrap();
    let out = curl(&["-C", "-", "-o", part.to_str().unwrap(), &url]).await;
    assert!(out.status.success(), "{}", ftpsd_e2e::tools::text(&out));
    assert!(
        std::fs::read(&part).unwrap() == data,
        "curl's resumed download is whole"
    );
}

/// The file size of the round trip below: the issue's 1 GiB.
const GIB: usize = 1 << 30;

/// A 1 GiB file through an S3 mount with curl (OpenSSL) and lftp (GnuTLS), each up and down,
/// each download cut at a third and resumed (REST). The real binary serves, so the resident
/// memory printed is the server's alone: a multipart upload holds parts, never the file.
#[tokio::test]
async fn a_gib_file_round_trips_through_curl_and_lftp_with_resumed_downloads() {
    use ftpsd::users::file::{MountEntry, UsersFile};
    use ftpsd_e2e::tools::{peak_rss, run_within, spawn_server, text};

    let _heavy = ftpsd_e2e::heavy_load().await;
    let s3 = S3Server::start(BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("ftpsd.toml");
    std::fs::write(
        &config_path,
        format!(
            "[server]\ndata_dir = \"data\"\n[explicit]\nlisten = \"127.0.0.1:0\"\n\
             [s3]\nendpoint = \"{}\"\naccess_key_id = \"test-key\"\nsecret_access_key = \"test-secret\"\n",
            s3.endpoint()
        ),
    )
    .unwrap();
    let config = ftpsd::Config::load(&config_path).unwrap();
    let (user, pass, _) = ftpsd::bootstrap::prepare(&config)
        .unwrap()
        .created_admin
        .unwrap();
    let mut users = UsersFile::load(&config.users_file()).unwrap();
    users.users[0].mounts.push(MountEntry {
        path: format!("s3://{BUCKET}/big").into(),
        at: "/s3".into(),
        rights: ftpsd::fs::Rights::All,
        quota_mb: None,
        mode: Default::default(),
    });
    users.save().unwrap();
    let server = spawn_server(dir.path()).await;
    let pid = server.child.id();
    let cert = config.tls_paths().0;
    let idle = peak_rss(pid);

    // The file: 1 GiB of a pattern that repeats only every 1 MiB + 1 byte, so a part in the
    // wrong place shows.
    let src = dir.path().join("src.bin");
    {
        use std::io::Write;
        let block = ftpsd_e2e::pattern((1 << 20) + 1, 5);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        let mut left = GIB;
        while left > 0 {
            let n = left.min(block.len());
            f.write_all(&block[..n]).unwrap();
            left -= n;
        }
    }
    let limit = std::time::Duration::from_secs(600);
    let base = format!("ftp://{}", server.ftp);
    let curl = |args: Vec<String>| {
        let mut c = Command::new("curl");
        c.args(["-sS", "--ssl-reqd", "--cacert"])
            .arg(&cert)
            .args(["-u", &format!("{user}:{pass}")])
            .args(args);
        run_within(c, limit)
    };
    let lftp = |script: String| {
        let mut c = Command::new("lftp");
        c.args(["-c", &format!(
            "set ssl:ca-file {}; set ssl:check-hostname no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set net:max-retries 1; set net:timeout 120; open -u {user},{pass} {base}; {script}",
            cert.display()
        )]);
        run_within(c, limit)
    };
    // A download cut at a third: the client's local file holds the first third.
    let cut = |path: &std::path::Path| {
        let mut f = std::fs::File::open(&src).unwrap();
        let mut out = std::fs::File::create(path).unwrap();
        std::io::copy(&mut std::io::Read::take(&mut f, (GIB / 3) as u64), &mut out).unwrap();
    };

    let out = curl(vec![
        "-T".into(),
        src.display().to_string(),
        format!("{base}/s3/curl.bin"),
    ])
    .await;
    assert!(out.status.success(), "curl up: {}", text(&out));
    let after_upload = peak_rss(pid);
    let curl_down = dir.path().join("curl-down.bin");
    cut(&curl_down);
    let out = curl(vec![
        "-C".into(),
        "-".into(),
        "-o".into(),
        curl_down.display().to_string(),
        format!("{base}/s3/curl.bin"),
    ])
    .await;
    assert!(out.status.success(), "curl down: {}", text(&out));
    assert!(
        same_file(&src, &curl_down),
        "curl's resumed download is whole"
    );
    std::fs::remove_file(&curl_down).unwrap();

    let lftp_down = dir.path().join("lftp-down.bin");
    cut(&lftp_down);
    let out = lftp(format!(
        "put {} -o /s3/lftp.bin; get -c /s3/lftp.bin -o {}",
        src.display(),
        lftp_down.display()
    ))
    .await;
    assert!(out.status.success(), "lftp: {}", text(&out));
    assert!(
        same_file(&src, &lftp_down),
        "lftp's resumed download is whole"
    );

    let sizes = s3.objects(BUCKET, "big/");
    for key in ["big/curl.bin", "big/lftp.bin"] {
        assert!(
            sizes
                .iter()
                .any(|(k, len, _)| k == key && *len == GIB as u64),
            "{key} in the bucket: {sizes:?}"
        );
    }
    assert_eq!(s3.open_uploads(BUCKET), Vec::<String>::new());
    let peak = peak_rss(pid);
    println!(
        "1 GiB through an S3 mount: server peak RSS {:.1} MB (before the transfers {:.1} MB, after curl's upload {:.1} MB)",
        peak as f64 / 1e6,
        idle as f64 / 1e6,
        after_upload as f64 / 1e6
    );
    // Not a timing: a server that held the file (or a part per chunk) would be over a GiB.
    assert!(peak < 200_000_000, "peak RSS {peak} B");
    server.stop().await;
}

/// Two files compared chunk by chunk (a GiB is not read into memory twice).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::io::Read;
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            return fb.read(&mut bb).unwrap() == 0;
        }
        if fb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}
