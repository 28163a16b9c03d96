//! Bandwidth limits (users file, groups, `[bandwidth]`): shared by every transfer they apply
//! to, so parallel transfers (rclone's default four, curl run twice) get one limit together.
//! Only lower bounds on time are asserted: a limit can only make a transfer slower, so a slow
//! machine cannot fail these tests; the figures against the limit are in `cargo xtask bench`.

use std::process::Command;
use std::time::{Duration, Instant};

use ftpsd_e2e::tools::{run, text};
use ftpsd_e2e::{FtpClient, TestServer, pattern, sha256};

const KIB: usize = 1024;

/// Seconds `bytes` take at `kib_s`, less one bucket depth (50 ms of the rate) that passes at
/// once, and 5 % for timer granularity.
fn at_least(bytes: usize, kib_s: usize) -> Duration {
    let secs = bytes as f64 / (kib_s * KIB) as f64 - 0.05;
    Duration::from_secs_f64(secs * 0.95)
}

fn user(name: &str, extra: &str) -> String {
    format!(
        "[[user]]\nname = \"{name}\"\npassword = \"{}\"\nhome = \"homes/{name}\"\nrights = \"a\"\n{extra}\n",
        TestServer::hash(&format!("{name}-pass"))
    )
}

#[tokio::test]
async fn rclone_parallel_downloads_share_the_users_limit() {
    let srv = TestServer::builder()
        .users_toml(&user("carl", "download_kib_s = 1024"))
        .start()
        .await;
    let home = srv.config.data_dir().join("homes/carl");
    std::fs::create_dir_all(&home).unwrap();
    let files: Vec<Vec<u8>> = (0..6).map(|i| pattern(400 * KIB, i)).collect();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(home.join(format!("f{i}.bin")), f).unwrap();
    }
    let obscured = run({
        let mut c = Command::new("rclone");
        c.args(["obscure", "carl-pass"]);
        c
    })
    .await;
    let pass = String::from_utf8_lossy(&obscured.stdout).trim().to_string();
    let remote = format!(
        ":ftp,host=127.0.0.1,port={},user=carl,pass={pass},explicit_tls=true,no_check_certificate=true:",
        srv.explicit().port()
    );
    let down = srv.dir.path().join("down");
    let t = Instant::now();
    let out = run({
        let mut c = Command::new("rclone");
        c.env("HOME", std::env::temp_dir())
            .arg("copy")
            .arg(&remote)
            .arg(&down)
            .args(["--transfers", "6", "--retries", "1"]);
        c
    })
    .await;
    let took = t.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    for (i, f) in files.iter().enumerate() {
        let got = std::fs::read(down.join(format!("f{i}.bin"))).unwrap();
        assert_eq!(sha256(&got), sha256(f), "f{i}.bin");
    }
    let min = at_least(6 * 400 * KIB, 1024);
    assert!(
        took >= min,
        "6 parallel downloads of 400 KiB under a 1 MiB/s user limit took {took:?} (< {min:?})"
    );
}

#[tokio::test]
async fn a_group_limit_is_shared_by_its_members_and_shown_in_stat_and_the_sessions_view() {
    let srv = TestServer::builder()
        .users_toml(&user("dana", "groups = [\"slow\"]"))
        .users_toml(&user("eric", "groups = [\"slow\"]"))
        .users_toml("[[group]]\nname = \"slow\"\nupload_kib_s = 512\n")
        .start()
        .await;
    for u in ["dana", "eric"] {
        std::fs::create_dir_all(srv.config.data_dir().join(format!("homes/{u}"))).unwrap();
    }
    let mut dana = srv.login_as("dana", "dana-pass").await;
    let status = dana.cmd_ok("STAT", 211).await;
    assert!(
        status
            .text
            .contains("Bandwidth: download unlimited, upload 512 KiB/s"),
        "{status:?}"
    );
    let data = pattern(384 * KIB, 5);
    let t = Instant::now();
    let other = {
        let srv_addr = srv.explicit();
        let cert = srv.cert_path().to_path_buf();
        let data = data.clone();
        tokio::spawn(async move {
            let mut eric = FtpClient::connect_explicit(srv_addr, &cert).await;
            eric.login("eric", "eric-pass").await;
            eric.protect().await;
            eric.cmd_ok("TYPE I", 200).await;
            eric.stor("e.bin", &data).await;
        })
    };
    dana.cmd_ok("TYPE I", 200).await;
    let (_, mut conn) = dana.open_transfer("STOR d.bin").await.unwrap();
    conn.write_all(&data[..100 * KIB]).await.unwrap();
    // Mid-transfer: STAT and the admin view name the limit.
    let r = dana.cmd_ok("STAT", 213).await;
    assert!(r.text.contains("(limit 512 KiB/s)"), "{r:?}");
    let views = srv.server.ctx.sessions.list();
    let mine = views.iter().find(|v| v.user == "dana").unwrap();
    assert_eq!(
        mine.transfer.as_ref().and_then(|t| t.limit),
        Some(512 * 1024),
        "{views:?}"
    );
    conn.write_all(&data[100 * KIB..]).await.unwrap();
    conn.shutdown().await.ok();
    assert_eq!(dana.read_reply().await.code, 226);
    other.await.unwrap();
    let took = t.elapsed();
    assert_eq!(srv.read("dana", "d.bin"), data);
    assert_eq!(srv.read("eric", "e.bin"), data);
    let min = at_least(2 * 384 * KIB, 512);
    assert!(
        took >= min,
        "two members uploading 384 KiB each under a 512 KiB/s group limit took {took:?} (< {min:?})"
    );
}

#[tokio::test]
async fn curl_downloads_in_parallel_share_the_server_wide_limit() {
    let srv = TestServer::builder()
        .user("bob", "bob-pass", ftpsd::fs::Rights::All)
        .config(|c| c.bandwidth.download_kib_s = 1024)
        .start()
        .await;
    let data = pattern(700 * KIB, 9);
    srv.write("alice", "a.bin", &data);
    srv.write("bob", "b.bin", &data);
    let fetch = |user: &str, file: &str| {
        let mut c = Command::new("curl");
        c.args(["--silent", "--show-error", "--max-time", "60", "--ssl-reqd"])
            .arg("--cacert")
            .arg(srv.cert_path())
            .args(["-u", &format!("{user}:{user}-pass")])
            .arg("-o")
            .arg(srv.dir.path().join(file))
            .arg(format!("ftp://127.0.0.1:{}/{file}", srv.explicit().port()));
        run(c)
    };
    let t = Instant::now();
    let (a, b) = tokio::join!(fetch("alice", "a.bin"), fetch("bob", "b.bin"));
    let took = t.elapsed();
    assert!(
        a.status.success() && b.status.success(),
        "{} {}",
        text(&a),
        text(&b)
    );
    for f in ["a.bin", "b.bin"] {
        assert_eq!(std::fs::read(srv.dir.path().join(f)).unwrap(), data);
    }
    let min = at_least(2 * 700 * KIB, 1024);
    assert!(
        took >= min,
        "two users' downloads of 700 KiB under a 1 MiB/s server limit took {took:?} (< {min:?})"
    );
}
