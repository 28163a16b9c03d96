//! Compiled plugins kept on disk: a restart uses the kept native code instead of compiling
//! again, and a damaged copy is compiled again rather than run.

use std::process::{Child, Command, Stdio};

use ftpsd_e2e::FtpClient;
use ftpsd_e2e::tools::ftpsd_bin;
use ftpsd_e2e::wat::{Behavior, plugin};

use crate::operator::read_welcome;

struct Started {
    child: Child,
    addr: std::net::SocketAddr,
    pass: Option<String>,
}

async fn start(dir: &std::path::Path, log: &str) -> Started {
    let d = dir.to_path_buf();
    let log = std::fs::File::create(dir.join(log)).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(ftpsd_bin())
            .args(["serve", "--config", "c.toml"])
            .current_dir(&d)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let (addr, pass) = read_welcome(child.stdout.take().unwrap());
        Started { child, addr, pass }
    })
    .await
    .unwrap()
}

fn stop(mut s: Started) {
    s.child.kill().unwrap();
    s.child.wait().unwrap();
}

async fn upload_code(dir: &std::path::Path, s: &Started, pass: &str) -> u16 {
    let cert = dir.join("ftpsd-data/tls/cert.pem");
    let mut c = FtpClient::connect_explicit(s.addr, &cert).await;
    c.login("admin", pass).await;
    c.protect().await;
    c.upload("STOR x.txt", b"x").await.code
}

fn kept_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("ftpsd-data/plugins/compiled"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    v.sort();
    v
}

fn write_config(dir: &std::path::Path, wasm: &[u8]) {
    std::fs::write(dir.join("p.wasm"), wasm).unwrap();
    std::fs::write(
        dir.join("c.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n[passive]\nport_min = 48000\nport_max = 48499\n\
         [[plugins]]\nname = \"p\"\npath = \"p.wasm\"\n",
    )
    .unwrap();
}

#[tokio::test]
async fn a_restart_runs_the_kept_compiled_plugin_and_recompiles_a_damaged_one() {
    let a = plugin("p", &["upload"], Behavior::Deny(553, "version A"));
    let b = plugin("p", &["upload"], Behavior::Deny(550, "version B"));

    // B's compiled code, made by a server of its own.
    let other = tempfile::tempdir().unwrap();
    write_config(other.path(), &b);
    stop(start(other.path(), "b.log").await);
    let b_code = std::fs::read(&kept_files(other.path())[0]).unwrap();

    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &a);
    let s = start(dir.path(), "1.log").await;
    let pass = s
        .pass
        .clone()
        .expect("first start prints the admin password");
    assert_eq!(upload_code(dir.path(), &s, &pass).await, 553);
    stop(s);
    let kept = kept_files(dir.path());
    assert_eq!(kept.len(), 1, "one compiled copy per module: {kept:?}");

    // Put B's code under A's name: a restart that runs B proves it did not compile A again.
    std::fs::write(&kept[0], &b_code).unwrap();
    let s = start(dir.path(), "2.log").await;
    assert_eq!(upload_code(dir.path(), &s, &pass).await, 550);
    stop(s);

    // One flipped byte: not run, compiled again (A), said in the log, and the copy replaced.
    let mut damaged = b_code.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x40;
    std::fs::write(&kept[0], &damaged).unwrap();
    let s = start(dir.path(), "3.log").await;
    assert_eq!(upload_code(dir.path(), &s, &pass).await, 553);
    stop(s);
    let log = std::fs::read_to_string(dir.path().join("3.log")).unwrap();
    assert!(
        log.contains("compiled plugin copy not used") && log.contains("checksum"),
        "{log}"
    );
    assert_ne!(std::fs::read(&kept[0]).unwrap(), damaged);

    // Writable by others: not trusted, compiled again.
    std::fs::write(&kept[0], &b_code).unwrap();
    std::fs::set_permissions(
        &kept[0],
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let s = start(dir.path(), "4.log").await;
    assert_eq!(upload_code(dir.path(), &s, &pass).await, 553);
    stop(s);
}
