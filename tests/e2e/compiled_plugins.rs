//! Compiled plugins kept on disk: a restart uses the kept native code instead of compiling
//! again, and a damaged or untrusted copy is compiled again rather than run.

use ftpsd_e2e::FtpClient;
use ftpsd_e2e::tools::{Spawned, binary_with, spawn_server};
use ftpsd_e2e::wat::{Behavior, plugin};

async fn upload_code(dir: &std::path::Path, s: &Spawned, user: &str, pass: &str) -> u16 {
    let cert = dir.join("data/tls/cert.pem");
    let mut c = FtpClient::connect_explicit(s.ftp, &cert).await;
    c.login(user, pass).await;
    c.protect().await;
    c.upload("STOR x.txt", b"x").await.code
}

fn kept_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("data/plugins/compiled"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    v.sort();
    v
}

/// A `[[plugins]]` section for `wasm`, written to a file of its own.
fn section(files: &std::path::Path, name: &str, wasm: &[u8]) -> String {
    let path = files.join(name);
    std::fs::write(&path, wasm).unwrap();
    format!("[[plugins]]\nname = \"p\"\npath = \"{}\"\n", path.display())
}

#[tokio::test]
async fn a_restart_runs_the_kept_compiled_plugin_and_recompiles_a_damaged_one() {
    let files = tempfile::tempdir().unwrap();
    let a = section(
        files.path(),
        "a.wasm",
        &plugin("p", &["upload"], Behavior::Deny(553, "version A")),
    );
    let b = section(
        files.path(),
        "b.wasm",
        &plugin("p", &["upload"], Behavior::Deny(550, "version B")),
    );

    // B's compiled code, made by a server of its own.
    let (other, s, _, _) = binary_with("", &b).await;
    s.stop().await;
    let b_code = std::fs::read(&kept_files(other.path())[0]).unwrap();

    let (dir, s, user, pass) = binary_with("", &a).await;
    let d = dir.path();
    assert_eq!(upload_code(d, &s, &user, &pass).await, 553);
    s.stop().await;
    let kept = kept_files(d);
    assert_eq!(kept.len(), 1, "one compiled copy per module: {kept:?}");

    // A warm restart loads the kept file (the load marks it used: same inode, new mtime)
    // instead of compiling again (which would write a new file: a new inode).
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(&kept[0]).unwrap().ino();
    let long_ago =
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&kept[0])
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    let s = spawn_server(d).await;
    assert_eq!(upload_code(d, &s, &user, &pass).await, 553);
    s.stop().await;
    let meta = std::fs::metadata(&kept[0]).unwrap();
    assert_eq!(meta.ino(), inode, "not compiled again");
    assert!(meta.modified().unwrap() > long_ago, "marked used");

    // Another module's valid code under A's name: refused, A compiled again.
    std::fs::write(&kept[0], &b_code).unwrap();
    let s = spawn_server(d).await;
    assert_eq!(upload_code(d, &s, &user, &pass).await, 553);
    s.stop().await;
    assert_ne!(std::fs::read(&kept[0]).unwrap(), b_code);

    // One flipped byte: not run, compiled again (A), said in the log, and the copy replaced.
    let mut damaged = b_code.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x40;
    std::fs::write(&kept[0], &damaged).unwrap();
    let s = spawn_server(d).await;
    assert_eq!(upload_code(d, &s, &user, &pass).await, 553);
    s.stop().await;
    let log = std::fs::read_to_string(d.join("stderr.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("compiled plugin copy not used")
                && l.contains("checksum")
                && l.contains("plugin=\"p\"")),
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
    let s = spawn_server(d).await;
    assert_eq!(upload_code(d, &s, &user, &pass).await, 553);
    s.stop().await;
}

/// `ftpsd plugin check NEW.wasm --precompile ftpsd.toml` compiles a new build into the
/// server's folder ahead of time: renaming it into place then swaps it in from that copy,
/// without compiling on the swap's path (the kept file is the one the CLI wrote).
#[tokio::test]
async fn a_precompiled_build_is_swapped_in_from_its_kept_copy() {
    let files = tempfile::tempdir().unwrap();
    let a = section(
        files.path(),
        "a.wasm",
        &plugin("p", &["upload"], Behavior::Deny(553, "version A")),
    );
    let (dir, s, user, pass) = binary_with("", &a).await;
    let d = dir.path();
    assert_eq!(upload_code(d, &s, &user, &pass).await, 553);
    let before = kept_files(d);

    let staged = files.path().join("c.staged");
    std::fs::write(
        &staged,
        plugin("p", &["upload"], Behavior::Deny(551, "version C")),
    )
    .unwrap();
    let out = std::process::Command::new(ftpsd_e2e::tools::ftpsd_bin())
        .args(["plugin", "check"])
        .arg(&staged)
        .arg("--precompile")
        .arg(d.join("ftpsd.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("compiled:    kept in"), "{stdout}");
    let after: Vec<_> = kept_files(d)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert_eq!(after.len(), 1, "the CLI kept one compiled copy: {after:?}");
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(&after[0]).unwrap().ino();

    ftpsd_e2e::deploy(
        &files.path().join("a.wasm"),
        &std::fs::read(&staged).unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while upload_code(d, &s, &user, &pass).await != 551 {
        assert!(
            std::time::Instant::now() < deadline,
            "version C never took over"
        );
    }
    assert_eq!(
        std::fs::metadata(&after[0]).unwrap().ino(),
        inode,
        "loaded from the kept copy, not compiled again"
    );
    s.stop().await;
}
