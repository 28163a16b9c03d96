//! The clients people sync with, in their default modes, against the secure default
//! (require_tls, require_session_reuse = "user"): rclone (Go), curl (OpenSSL) over TLS 1.2
//! and 1.3, lftp (GnuTLS) mirror, PHP's ftp extension (OpenSSL), basic-ftp (Node). A 300-file
//! tree (0 B–5 MB, nested, UTF-8 names, set modification times) goes up and down.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use ftpsd_e2e::tools::{run, text};
use ftpsd_e2e::{Storage, TestServer, on_both_storages, pattern};

/// The fixed modification time of the tree's files (2020-05-06 07:08:09 UTC).
const MTIME: u64 = 1_588_748_889;

fn make_tree(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for i in 0..300u64 {
        let dir = if i % 2 == 1 {
            root.join(format!("d{}/sub{}", i % 7, i % 3))
        } else {
            root.join(format!("d{}", i % 5))
        };
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("file-{i}-ü{}.bin", if i % 4 == 0 { "é" } else { "" });
        let size = match i {
            7 => 5 * 1024 * 1024,
            _ => [0usize, 1, 100, 5000, 70_000, 300_000][(i % 6) as usize],
        };
        let path = dir.join(name);
        std::fs::write(&path, pattern(size, i + 1)).unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME + i);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_times(std::fs::FileTimes::new().set_modified(t))
            .unwrap();
        files.push(path);
    }
    files
}

/// Every file of `a` is in `b` with the same bytes (and, with `times`, the same mtime).
fn same_tree(a: &Path, files: &[PathBuf], b: &Path, times: bool) {
    for f in files {
        let rel = f.strip_prefix(a).unwrap();
        let other = b.join(rel);
        let got = std::fs::read(&other).unwrap_or_else(|e| panic!("{}: {e}", other.display()));
        assert!(
            got == std::fs::read(f).unwrap(),
            "{} differs",
            rel.display()
        );
        if times {
            let mt = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
            let (want, have) = (mt(f), mt(&other));
            let diff = want.duration_since(have).unwrap_or_else(|e| e.duration());
            assert!(diff < Duration::from_secs(1), "{}: mtime", rel.display());
        }
    }
}

/// Every file of `a` is in the folder `dest` of alice's home, wherever it lives, with the same
/// bytes; on a local home with the same mtime too (an object keeps its upload time).
fn same_tree_on(srv: &TestServer, a: &Path, files: &[PathBuf], dest: &str) {
    match srv.store {
        Some(_) => {
            for f in files {
                let rel = f.strip_prefix(a).unwrap().to_str().unwrap();
                assert!(
                    srv.read("alice", &format!("{dest}/{rel}")) == std::fs::read(f).unwrap(),
                    "{rel} differs"
                );
            }
        }
        None => same_tree(a, files, &srv.home("alice").join(dest), true),
    }
}

fn tool(name: &str) -> Command {
    let mut c = Command::new(name);
    c.env("HOME", std::env::temp_dir());
    c
}

on_both_storages!(rclone_syncs_a_tree_up_and_down_with_default_and_parallel_settings);

async fn rclone_syncs_a_tree_up_and_down_with_default_and_parallel_settings(storage: Storage) {
    // Through moto this loads the machine for a minute.
    let _heavy = match storage {
        Storage::S3 => Some(ftpsd_e2e::heavy_load().await),
        Storage::Local => None,
    };
    let srv = TestServer::start_on(storage).await;
    let local = srv.dir.path().join("tree");
    let files = make_tree(&local);
    let obscured = run({
        let mut c = tool("rclone");
        c.args(["obscure", "alice-pass"]);
        c
    })
    .await;
    let pass = String::from_utf8_lossy(&obscured.stdout).trim().to_string();
    let remote = format!(
        ":ftp,host=127.0.0.1,port={},user=alice,pass={pass},explicit_tls=true,no_check_certificate=true:",
        srv.explicit().port()
    );
    for (dest, extra) in [
        ("up1", vec![]),
        ("up8", vec!["--transfers", "8", "--checkers", "8"]),
    ] {
        let out = run({
            let mut c = tool("rclone");
            c.arg("sync")
                .arg(&local)
                .arg(format!("{remote}{dest}"))
                .args(&extra)
                .args(["--retries", "1", "--low-level-retries", "1"]);
            c
        })
        .await;
        let log = text(&out);
        assert!(
            out.status.success() && !log.contains("ERROR"),
            "{dest}: {log}"
        );
        same_tree_on(&srv, &local, &files, dest);
        // Content, not sizes: rclone's FTP backend has no hash support, so --download.
        let out = run({
            let mut c = tool("rclone");
            c.args(["check", "--download"])
                .arg(&local)
                .arg(format!("{remote}{dest}"))
                .args(["--checkers", "8"]);
            c
        })
        .await;
        assert!(
            out.status.success() && text(&out).contains("0 differences found"),
            "{}",
            text(&out)
        );
    }
    let down = srv.dir.path().join("down");
    let out = run({
        let mut c = tool("rclone");
        c.arg("sync").arg(format!("{remote}up8")).arg(&down).args([
            "--transfers",
            "8",
            "--checkers",
            "8",
            "--retries",
            "1",
        ]);
        c
    })
    .await;
    assert!(
        out.status.success() && !text(&out).contains("ERROR"),
        "{}",
        text(&out)
    );
    same_tree(&local, &files, &down, storage == Storage::Local);
}

#[tokio::test]
async fn lftp_mirror_r_in_parallel_keeps_modification_times() {
    let srv = TestServer::start().await;
    let local = srv.dir.path().join("tree");
    let files = make_tree(&local);
    let script = format!(
        "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file {}; \
         set ssl:check-hostname no; set net:max-retries 1; \
         open -u alice,alice-pass ftp://127.0.0.1:{}; mirror -R --parallel=8 {} up; \
         mirror --parallel=8 up {}",
        srv.cert_path().display(),
        srv.explicit().port(),
        local.display(),
        srv.dir.path().join("down").display()
    );
    let out = run({
        let mut c = tool("lftp");
        c.args(["-c", &script]);
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    same_tree(&local, &files, &srv.home("alice").join("up"), true);
    same_tree(&local, &files, &srv.dir.path().join("down"), true);
}

fn curl_base(srv: &TestServer, version: &str) -> Command {
    let mut c = tool("curl");
    c.args(["--silent", "--show-error", "--max-time", "50", "--ssl-reqd"])
        .args(version.split(' '))
        .arg("--cacert")
        .arg(srv.cert_path())
        .args(["-u", "alice:alice-pass", "-w", "%{response_code}\\n"]);
    c
}

#[tokio::test]
async fn curl_50_uploads_and_30_failed_and_good_downloads_in_one_invocation_tls_1_2_and_1_3() {
    for version in ["--tlsv1.3", "--tls-max 1.2"] {
        let srv = TestServer::start().await;
        let base = format!("ftp://127.0.0.1:{}", srv.explicit().port());
        let src = srv.dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let mut c = curl_base(&srv, version);
        for i in 0..50 {
            let f = src.join(format!("f{i}"));
            std::fs::write(&f, pattern(100 * i + 1, i as u64)).unwrap();
            c.arg("-T").arg(&f).arg(format!("{base}/u{i}"));
        }
        let out = run(c).await;
        let codes = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            codes.lines().filter(|l| *l == "226").count(),
            50,
            "{version}: {}",
            text(&out)
        );
        for i in 0..50 {
            assert_eq!(
                srv.read("alice", &format!("u{i}")),
                pattern(100 * i + 1, i as u64)
            );
        }
        let mut c = curl_base(&srv, version);
        let dst = srv.dir.path().join("dst");
        std::fs::create_dir_all(&dst).unwrap();
        for i in 0..30 {
            c.arg(format!("{base}/missing{i}"))
                .args(["-o", "/dev/null"]);
            c.arg(format!("{base}/u{i}"))
                .arg("-o")
                .arg(dst.join(format!("d{i}")));
        }
        let out = run(c).await;
        let codes = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            (
                codes.lines().filter(|l| *l == "226").count(),
                codes.lines().filter(|l| *l == "550").count()
            ),
            (30, 30),
            "{version}: {}",
            text(&out)
        );
        for i in 0..30 {
            assert_eq!(
                std::fs::read(dst.join(format!("d{i}"))).unwrap(),
                pattern(100 * i + 1, i as u64)
            );
        }
    }
}

#[tokio::test]
async fn php_ftp_ssl_connect_uploads_and_downloads_in_a_row() {
    let srv = TestServer::start().await;
    let src = srv.dir.path().join("src.bin");
    std::fs::write(&src, pattern(20_000, 3)).unwrap();
    let script = format!(
        r#"$c = ftp_ssl_connect("127.0.0.1", {port}, 20) or exit(2);
        ftp_login($c, "alice", "alice-pass") or exit(3);
        ftp_pasv($c, true);
        for ($i = 0; $i < 5; $i++) {{
          echo "put $i ", ftp_put($c, "p$i.bin", "{src}", FTP_BINARY) ? "ok" : "FAIL", "\n";
        }}
        for ($i = 0; $i < 5; $i++) {{
          echo "get $i ", ftp_get($c, "{dir}/g$i.bin", "p$i.bin", FTP_BINARY) ? "ok" : "FAIL", "\n";
        }}
        ftp_close($c);"#,
        port = srv.explicit().port(),
        src = src.display(),
        dir = srv.dir.path().display()
    );
    let out = run({
        let mut c = tool("php");
        c.args(["-r", &script]);
        c
    })
    .await;
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        lines.lines().filter(|l| l.ends_with(" ok")).count(),
        10,
        "{}",
        text(&out)
    );
    for i in 0..5 {
        assert_eq!(srv.read("alice", &format!("p{i}.bin")), pattern(20_000, 3));
        assert_eq!(
            std::fs::read(srv.dir.path().join(format!("g{i}.bin"))).unwrap(),
            pattern(20_000, 3)
        );
    }
}

#[tokio::test]
async fn basic_ftp_uploads_and_downloads_a_directory_tree() {
    let srv = TestServer::start().await;
    let local = srv.dir.path().join("tree");
    let files = make_tree(&local);
    let npm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/npm/node_modules/basic-ftp");
    let script = format!(
        r#"const ftp = require({npm:?}); const fs = require("fs");
        (async () => {{
          const c = new ftp.Client(30000);
          await c.access({{ host: "127.0.0.1", port: {port}, user: "alice", password: "alice-pass",
            secure: true, secureOptions: {{ ca: fs.readFileSync({cert:?}),
            checkServerIdentity: () => undefined }} }});
          await c.ensureDir("/bf");
          await c.uploadFromDir({local:?});
          await c.cd("/bf");
          await c.downloadToDir({down:?});
          c.close();
          console.log("done");
        }})().catch(e => {{ console.log("FAIL " + e.message); process.exit(1); }});"#,
        npm = npm.display().to_string(),
        port = srv.explicit().port(),
        cert = srv.cert_path().display().to_string(),
        local = local.display().to_string(),
        down = srv.dir.path().join("down").display().to_string(),
    );
    let out = run({
        let mut c = tool("node");
        c.args(["-e", &script]);
        c
    })
    .await;
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("done"),
        "{}",
        text(&out)
    );
    same_tree(&local, &files, &srv.home("alice").join("bf"), false);
    same_tree(&local, &files, &srv.dir.path().join("down"), false);
}
