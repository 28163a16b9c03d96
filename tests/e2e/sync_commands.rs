//! The commands sync clients ask for: MFMT and SITE UTIME (modification times), HASH with
//! OPTS HASH and RANG, the X* checksums, AVBL, SITE CHMOD. Each respects rights, hidden names
//! and the `command` hook, and FEAT lists them.

use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use ftpsd_e2e::wat::{Behavior, plugin};
use ftpsd_e2e::{Storage, TestServer, on_both_storages, pattern};

fn mtime(srv: &TestServer, rel: &str) -> u64 {
    std::fs::metadata(srv.home("alice").join(rel))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn modification_times_are_set_by_mfmt_and_both_site_utime_forms() {
    let srv = TestServer::builder()
        .user("reader", "reader-pass", ftpsd::fs::Rights::Read)
        .start()
        .await;
    srv.write("alice", "a file.txt", b"x");
    std::fs::create_dir_all(srv.home("alice").join("dir")).unwrap();
    let mut c = srv.alice().await;
    let r = c.cmd_ok("MFMT 20200506070809 a file.txt", 213).await;
    assert_eq!(r.text, "Modify=20200506070809; /a file.txt");
    assert_eq!(mtime(&srv, "a file.txt"), 1_588_748_889);
    assert_eq!(
        c.cmd_ok("MDTM a file.txt", 213).await.text,
        "20200506070809"
    );
    c.cmd_ok("SITE UTIME 20210101000000 a file.txt", 200).await;
    assert_eq!(mtime(&srv, "a file.txt"), 1_609_459_200);
    c.cmd_ok(
        "SITE UTIME a file.txt 20220101000000 20220202000000 20220303000000 UTC",
        200,
    )
    .await;
    assert_eq!(mtime(&srv, "a file.txt"), 1_643_760_000);
    c.cmd_ok("MFMT 20200101000000 dir", 213).await;
    assert_eq!(mtime(&srv, "dir"), 1_577_836_800);
    assert_eq!(c.cmd("MFMT 20200101000000 missing").await.code, 550);
    assert_eq!(c.cmd("MFMT 2020 x").await.code, 501);
    // A REST not followed by its transfer does not hit a later upload.
    c.cmd_ok("REST 10", 350).await;
    c.cmd_ok("NOOP", 200).await;
    c.stor("new.txt", b"fresh").await;
    assert_eq!(srv.read("alice", "new.txt"), b"fresh");
    assert_eq!(c.cmd("MFMT 20201301000000 a file.txt").await.code, 501);
    // Read-only users may not change times.
    let mut r = srv.login_as("reader", "reader-pass").await;
    srv.write("reader", "f", b"x");
    let before = std::fs::metadata(srv.home("reader").join("f"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(r.cmd("MFMT 20200101000000 f").await.code, 550);
    assert_eq!(r.cmd("SITE UTIME 20200101000000 f").await.code, 550);
    let after = std::fs::metadata(srv.home("reader").join("f"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
}

on_both_storages!(hash_with_every_algorithm_and_ranges_and_the_x_commands);

async fn hash_with_every_algorithm_and_ranges_and_the_x_commands(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    let data = pattern(300_000, 9);
    srv.write("alice", "d.bin", &data);
    let mut c = srv.alice().await;
    let feat = c.cmd_ok("FEAT", 211).await.text;
    for f in [
        " HASH SHA-256*;SHA-1;MD5;CRC32",
        " MFMT",
        " AVBL",
        " XCRC",
        " XSHA256",
    ] {
        assert!(feat.lines().any(|l| l == f), "{f} in {feat}");
    }
    let sha256 = ftpsd_e2e::sha256(&data);
    assert_eq!(
        c.cmd_ok("HASH d.bin", 213).await.text,
        format!("SHA-256 0-299999 {sha256} /d.bin")
    );
    let md5 = {
        use md5::Digest;
        hex(md5::Md5::digest(&data))
    };
    let crc = format!("{:08x}", crc32fast::hash(&data));
    c.cmd_ok("OPTS HASH MD5", 200).await;
    assert!(
        c.cmd_ok("FEAT", 211)
            .await
            .text
            .contains("SHA-256;SHA-1;MD5*;CRC32"),
        "the selection shows"
    );
    assert_eq!(
        c.cmd_ok("HASH d.bin", 213).await.text,
        format!("MD5 0-299999 {md5} /d.bin")
    );
    c.cmd_ok("OPTS HASH CRC32", 200).await;
    assert_eq!(
        c.cmd_ok("HASH d.bin", 213).await.text,
        format!("CRC32 0-299999 {crc} /d.bin")
    );
    assert_eq!(c.cmd("OPTS HASH SHA-512").await.code, 501);
    // RANG: the next HASH covers bytes 100..=199 only.
    c.cmd_ok("OPTS HASH SHA-256", 200).await;
    c.cmd_ok("RANG 100 199", 350).await;
    assert_eq!(
        c.cmd_ok("HASH d.bin", 213).await.text,
        format!(
            "SHA-256 100-199 {} /d.bin",
            ftpsd_e2e::sha256(&data[100..200])
        )
    );
    assert!(
        c.cmd_ok("HASH d.bin", 213)
            .await
            .text
            .starts_with("SHA-256 0-299999 ")
    );
    // The older commands, with and without a range (end exclusive).
    assert_eq!(
        c.cmd_ok("XSHA256 d.bin", 250).await.text,
        sha256.to_ascii_uppercase()
    );
    assert_eq!(
        c.cmd_ok("XMD5 d.bin", 250).await.text,
        md5.to_ascii_uppercase()
    );
    assert_eq!(
        c.cmd_ok("XCRC d.bin", 250).await.text,
        crc.to_ascii_uppercase()
    );
    assert_eq!(
        c.cmd_ok("XCRC \"d.bin\" 10 20", 250).await.text,
        format!("{:08X}", crc32fast::hash(&data[10..20]))
    );
    assert_eq!(c.cmd("HASH missing").await.code, 550);
    c.cmd_ok("MKD sub", 257).await;
    assert_eq!(c.cmd("HASH sub").await.code, 553);
}

#[tokio::test]
async fn avbl_tells_the_quota_left_and_chmod_sets_permission_bits() {
    let srv = TestServer::builder()
        .users_toml(&format!(
            "[[user]]\nname = \"q\"\npassword = \"{}\"\n[[user.mount]]\npath = \"{{DIR}}/q\"\nrights = \"a\"\nquota_mb = 1\n",
            TestServer::hash("q-pass")
        ))
        .user("reader", "reader-pass", ftpsd::fs::Rights::Read)
        .start()
        .await;
    std::fs::create_dir_all(srv.dir.path().join("q")).unwrap();
    let mut q = srv.login_as("q", "q-pass").await;
    q.stor("f.bin", &pattern(48_576, 1)).await;
    assert_eq!(q.cmd_ok("AVBL", 213).await.text, "1000000");
    // Without a quota: the filesystem's free space, a positive number.
    let mut c = srv.alice().await;
    let free: u64 = c.cmd_ok("AVBL /", 213).await.text.parse().unwrap();
    assert!(free > 0);
    // SITE CHMOD within the user's rights.
    srv.write("alice", "s.sh", b"#!/bin/sh\n");
    c.cmd_ok("SITE CHMOD 750 s.sh", 200).await;
    let mode = |p: std::path::PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(srv.home("alice").join("s.sh")), 0o750);
    assert_eq!(c.cmd("SITE CHMOD 4755 s.sh").await.code, 501);
    assert_eq!(c.cmd("SITE CHMOD 644 missing").await.code, 550);
    let mut r = srv.login_as("reader", "reader-pass").await;
    srv.write("reader", "x", b"x");
    assert_eq!(r.cmd("SITE CHMOD 777 x").await.code, 550);
    assert_eq!(mode(srv.home("reader").join("x")) & 0o777, 0o644);
    // AVBL where the user cannot store anything.
    assert_eq!(r.cmd("AVBL").await.code, 550);
}

#[tokio::test]
async fn the_command_hook_can_refuse_them_and_hidden_names_stay_hidden() {
    let srv = TestServer::builder()
        .plugin(
            "no-meta",
            plugin("no-meta", &["command"], Behavior::Deny(550, "not here")),
            "",
        )
        .start()
        .await;
    srv.write("alice", "f", b"x");
    let before = mtime(&srv, "f");
    let mut c = srv.alice().await;
    for cmd in [
        "MFMT 20200101000000 f",
        "SITE UTIME 20200101000000 f",
        "SITE CHMOD 600 f",
        "HASH f",
        "XMD5 f",
    ] {
        let r = c.cmd(cmd).await;
        assert_eq!((r.code, r.text.as_str()), (550, "not here"), "{cmd}");
    }
    assert_eq!(mtime(&srv, "f"), before);
    drop(c);
    // A name hidden from listings (an escaping symlink) is not found by any of them.
    let srv = TestServer::start().await;
    std::os::unix::fs::symlink("/etc/passwd", srv.home("alice").join("pw")).unwrap();
    let mut c = srv.alice().await;
    for cmd in [
        "MFMT 20200101000000 pw",
        "HASH pw",
        "XCRC pw",
        "SITE CHMOD 777 pw",
    ] {
        let r = c.cmd(cmd).await;
        assert_eq!(r.code, 550, "{cmd}: {r:?}");
        assert!(r.text.contains("No such file"), "{cmd}: {r:?}");
    }
}
