//! Directory and file commands, listings, and the rights matrix, checked against the disk.

use ftpsd::fs::Rights;
use ftpsd_e2e::{FtpClient, Storage, TestServer, on_both_storages};

on_both_storages!(
    directories_with_spaces_utf8_and_quotes,
    dele_rename_size_mdtm,
    list_nlst_mlsd_mlst_match_the_disk,
    rights_matrix,
    wildcards_in_list_and_nlst_as_mget_uses_them,
    list_of_a_file_can_be_refused,
    listing_options_direct_file_list_and_legacy_positive,
);

async fn directories_with_spaces_utf8_and_quotes(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    let mut c = srv.alice().await;
    let r = c.cmd_ok("MKD my dir", 257).await;
    assert!(r.text.starts_with("\"/my dir\""), "{r:?}");
    c.cmd_ok("MKD Grüße ✓", 257).await;
    let q = c.cmd_ok("MKD say \"hi\"", 257).await;
    assert!(
        q.text.starts_with("\"/say \"\"hi\"\"\""),
        "quotes doubled: {q:?}"
    );
    assert!(srv.stat("alice", "Grüße ✓").unwrap().is_dir);
    assert!(srv.stat("alice", "say \"hi\"").unwrap().is_dir);
    c.cmd_ok("CWD my dir", 250).await;
    assert!(c.cmd_ok("PWD", 257).await.text.starts_with("\"/my dir\""));
    c.cmd_ok("MKD sub", 257).await;
    c.cmd_ok("CWD sub", 250).await;
    c.cmd_ok("CDUP", 250).await;
    assert!(c.cmd_ok("XPWD", 257).await.text.starts_with("\"/my dir\""));
    c.cmd_ok("CWD /", 250).await;
    c.cmd_ok("CWD nowhere", 550).await;
    srv.write("alice", "file.txt", b"x");
    c.cmd_ok("CWD file.txt", 550).await;
    c.cmd_ok("RMD my dir", 550).await; // not empty
    c.cmd_ok("RMD my dir/sub", 250).await;
    c.cmd_ok("RMD my dir", 250).await;
    assert!(!srv.exists("alice", "my dir"));
    c.cmd_ok("MKD Grüße ✓", 550).await; // exists
}

async fn dele_rename_size_mdtm(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    srv.write("alice", "a b.txt", b"0123456789");
    let mut c = srv.alice().await;
    assert_eq!(c.cmd_ok("SIZE a b.txt", 213).await.text, "10");
    assert_eq!(
        c.cmd_ok("MDTM a b.txt", 213).await.text,
        srv.stat("alice", "a b.txt").unwrap().modify
    );
    c.cmd_ok("SIZE missing", 550).await;
    c.cmd_ok("RNTO x", 503).await;
    c.cmd_ok("RNFR a b.txt", 350).await;
    c.cmd_ok("RNTO renamed ü.txt", 250).await;
    assert_eq!(srv.read("alice", "renamed ü.txt"), b"0123456789");
    assert!(!srv.exists("alice", "a b.txt"));
    // RNFR followed by something else forgets the rename.
    c.cmd_ok("RNFR renamed ü.txt", 350).await;
    c.cmd_ok("NOOP", 200).await;
    c.cmd_ok("RNTO other", 503).await;
    c.cmd_ok("RNFR missing", 550).await;
    c.cmd_ok("DELE renamed ü.txt", 250).await;
    assert!(!srv.exists("alice", "renamed ü.txt"));
    c.cmd_ok("DELE renamed ü.txt", 550).await;
    c.cmd_ok("MKD d", 257).await;
    c.cmd_ok("DELE d", 550).await;
    c.cmd_ok("SIZE d", 550).await;
}

async fn list_nlst_mlsd_mlst_match_the_disk(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    srv.write("alice", "one.bin", &[7u8; 1234]);
    srv.write("alice", "two words.txt", b"hi");
    srv.mkdir("alice", "dir");
    let mut c = srv.alice().await;

    let list = c.list("LIST -la").await;
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with('d') && lines[0].ends_with(" dir"));
    assert!(lines[1].contains(" 1234 ") && lines[1].ends_with(" one.bin"));
    assert!(lines[2].ends_with(" two words.txt"));

    assert_eq!(c.list("NLST").await, "dir\r\none.bin\r\ntwo words.txt\r\n");

    let mlsd = c.list("MLSD").await;
    for line in mlsd.lines() {
        let (facts, name) = line.split_once(' ').unwrap();
        let md = srv.stat("alice", name).unwrap();
        if md.is_dir && storage == Storage::S3 {
            // A bucket's listing gives a folder no time: the fact is left out, not made up.
            assert!(!facts.contains("modify="), "{line}");
        } else {
            assert!(facts.contains(&format!("modify={};", md.modify)), "{line}");
        }
        if md.is_dir {
            assert!(
                facts.starts_with("type=dir;") && facts.contains("perm=elcmdfp;"),
                "{line}"
            );
        } else {
            assert!(
                facts.contains(&format!("size={};", md.len)) && facts.contains("perm=rawdf;"),
                "{line}"
            );
        }
    }
    assert_eq!(mlsd.lines().count(), 3);

    let mlst = c.cmd_ok("MLST one.bin", 250).await;
    assert!(
        mlst.text.contains("type=file;size=1234;") && mlst.text.contains(" /one.bin"),
        "{mlst:?}"
    );
    c.cmd_ok("OPTS MLST size;type;", 200).await;
    let mlst = c.cmd_ok("MLST one.bin", 250).await;
    assert!(
        mlst.text.contains(" type=file;size=1234; /one.bin"),
        "{mlst:?}"
    );
    assert!(
        c.cmd_ok("FEAT", 211)
            .await
            .text
            .contains("MLST type*;size*;modify;perm;")
    );

    // A listing of a subdirectory and of a missing one.
    assert_eq!(c.list("NLST dir").await, "");
    c.pasv().await;
    c.cmd_ok("LIST nowhere", 550).await;
    // STAT with a path lists over the control connection.
    let stat = c.cmd_ok("STAT .", 213).await;
    assert!(
        stat.text.contains("one.bin") && stat.text.contains("two words.txt"),
        "{stat:?}"
    );
    // MLSD of a file is refused (RFC 3659: 501/550); LIST of a file lists it (RFC 959, what
    // `ls file` expects) unless the operator turns that off.
    c.pasv().await;
    c.cmd_ok("MLSD one.bin", 550).await;
    let one = c.list("LIST one.bin").await;
    assert!(
        one.trim_end().ends_with(" one.bin") && one.lines().count() == 1,
        "{one}"
    );
}

async fn list_of_a_file_can_be_refused(storage: Storage) {
    let srv = TestServer::builder()
        .storage(storage)
        .config(|c| c.listing.list_files_directly = false)
        .start()
        .await;
    srv.write("alice", "f.txt", b"abc");
    let mut c = srv.alice().await;
    c.pasv().await;
    c.cmd_ok("LIST f.txt", 550).await;
    // NLST of a file names it either way.
    assert_eq!(c.list("NLST f.txt").await.trim_end(), "f.txt");
}

async fn listing_options_direct_file_list_and_legacy_positive(storage: Storage) {
    let srv = TestServer::builder()
        .storage(storage)
        .config(|c| {
            c.listing.list_files_directly = true;
            c.listing.legacy_always_positive = true;
        })
        .start()
        .await;
    srv.write("alice", "f.txt", b"abc");
    let mut c = srv.alice().await;
    let one = c.list("LIST f.txt").await;
    assert!(
        one.trim_end().ends_with(" f.txt") && one.lines().count() == 1,
        "{one}"
    );
    assert_eq!(c.list("LIST nowhere").await, "");
}

#[tokio::test]
async fn type_mode_stru_allo_opts() {
    let srv = TestServer::start().await;
    let mut c = srv.alice().await;
    c.cmd_ok("TYPE A", 200).await;
    c.cmd_ok("TYPE L 8", 200).await;
    c.cmd_ok("TYPE E", 504).await;
    c.cmd_ok("MODE S", 200).await;
    c.cmd_ok("MODE B", 504).await;
    c.cmd_ok("STRU F", 200).await;
    c.cmd_ok("STRU R", 504).await;
    c.cmd_ok("ALLO 1000", 202).await;
    c.cmd_ok("OPTS UTF8 ON", 200).await;
    c.cmd_ok("OPTS UTF8 OFF", 504).await;
    c.cmd_ok("OPTS FOO", 501).await;
    c.cmd_ok("REST abc", 501).await;
}

async fn client_for(srv: &TestServer, user: &str) -> FtpClient {
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.login(user, &format!("{user}-pass")).await;
    c.protect().await;
    c.cmd_ok("TYPE I", 200).await;
    c
}

/// Every cell of the basic rights matrix, through the real protocol.
async fn rights_matrix(storage: Storage) {
    let srv = TestServer::builder()
        .storage(storage)
        .user("reader", "reader-pass", Rights::Read)
        .user("dropper", "dropper-pass", Rights::Write)
        .user("writer", "writer-pass", Rights::ReadWrite)
        .user("admin", "admin-pass", Rights::All)
        .start()
        .await;
    for user in ["reader", "dropper", "writer", "admin"] {
        srv.write(user, "existing.txt", b"old");
        srv.mkdir(user, "olddir");
        let mut c = client_for(&srv, user).await;
        let can_read = user != "dropper";
        let can_create = user != "reader";
        let can_overwrite = user == "writer" || user == "admin";
        let can_delete = user == "admin";

        // Read side.
        let retr = c.download("RETR existing.txt").await;
        assert_eq!(retr.is_ok(), can_read, "{user} RETR");
        let list = c.download("LIST").await;
        assert_eq!(list.is_ok(), can_read, "{user} LIST");
        assert_eq!(
            c.cmd("SIZE existing.txt").await.code == 213,
            can_read,
            "{user} SIZE"
        );
        assert_eq!(c.download("NLST").await.is_ok(), can_read, "{user} NLST");
        assert_eq!(c.download("MLSD").await.is_ok(), can_read, "{user} MLSD");
        assert_eq!(
            c.cmd("MLST existing.txt").await.code == 250,
            can_read,
            "{user} MLST"
        );
        assert_eq!(
            c.cmd("MDTM existing.txt").await.code == 213,
            can_read,
            "{user} MDTM"
        );
        c.cmd_ok("CWD olddir", 250).await;
        c.cmd_ok("CWD /", 250).await;

        // Create side.
        let stor = c.upload("STOR new.txt", b"new").await;
        assert_eq!(stor.code == 226, can_create, "{user} STOR new: {stor:?}");
        assert_eq!(srv.exists(user, "new.txt"), can_create);
        assert_eq!(
            c.cmd("MKD newdir").await.code == 257,
            can_create,
            "{user} MKD"
        );
        let stou = c.upload("STOU unique.txt", b"u").await;
        assert_eq!(stou.code == 226, can_create, "{user} STOU: {stou:?}");

        // Overwrite side.
        let over = c.upload("STOR existing.txt", b"overwritten").await;
        assert_eq!(
            over.code == 226,
            can_overwrite,
            "{user} STOR over: {over:?}"
        );
        let expected: &[u8] = if can_overwrite {
            b"overwritten"
        } else {
            b"old"
        };
        assert_eq!(srv.read(user, "existing.txt"), expected, "{user}");
        // An object cannot grow or change in place: APPE and REST+STOR are 504 there.
        let in_place = can_overwrite && storage == Storage::Local;
        let appe = c.upload("APPE existing.txt", b"+").await;
        assert_eq!(appe.code == 226, in_place, "{user} APPE: {appe:?}");

        c.cmd_ok("REST 2", 350).await;
        let rest = c.upload("STOR existing.txt", b"Z").await;
        assert_eq!(rest.code == 226, in_place, "{user} REST+STOR: {rest:?}");
        if can_overwrite && !in_place {
            assert_eq!((appe.code, rest.code), (504, 504), "{user}");
            assert_eq!(srv.read(user, "existing.txt"), b"overwritten", "{user}");
        }
        if in_place {
            assert_eq!(
                &srv.read(user, "existing.txt")[..],
                b"ovZ",
                "{user}: prefix kept, tail replaced"
            );
        }

        // Delete side.
        assert_eq!(
            c.cmd("DELE existing.txt").await.code == 250,
            can_delete,
            "{user} DELE"
        );
        assert_eq!(srv.exists(user, "existing.txt"), !can_delete);
        assert_eq!(
            c.cmd("RNFR olddir").await.code == 350,
            can_delete,
            "{user} RNFR"
        );
        if can_delete {
            c.cmd_ok("RNTO moved", 250).await;
            c.cmd_ok("RMD moved", 250).await;
        } else {
            assert_eq!(c.cmd("RMD olddir").await.code, 550, "{user} RMD");
        }
    }
}

async fn wildcards_in_list_and_nlst_as_mget_uses_them(storage: Storage) {
    let srv = TestServer::start_on(storage).await;
    for name in ["a1.txt", "a2.txt", "b1.txt", "notes.md", "[x].txt"] {
        srv.write("alice", &format!("logs/{name}"), name.as_bytes());
    }
    srv.write("alice", "top.txt", b"top");
    let mut c = srv.alice().await;
    let lines = |s: String| -> Vec<String> {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    // NLST keeps the directory as typed, so each name works in RETR (what mget does).
    let names = lines(c.list("NLST logs/a*.txt").await);
    assert_eq!(names, ["logs/a1.txt", "logs/a2.txt"]);
    for n in &names {
        assert_eq!(c.retr(n).await, n.trim_start_matches("logs/").as_bytes());
    }
    assert_eq!(lines(c.list("NLST *.txt").await), ["top.txt"]);
    assert_eq!(
        lines(c.list("NLST logs/?1.*").await),
        ["logs/a1.txt", "logs/b1.txt"]
    );
    // LIST shows `ls -l` lines of the matches only.
    let list = c.list("LIST logs/*.md").await;
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.trim_end().ends_with(" notes.md"), "{list}");
    // A file whose literal name looks like a pattern is listed as itself.
    assert_eq!(lines(c.list("NLST logs/[x].txt").await), ["[x].txt"]);
    // No match is the same 550 as a missing file; MLSD takes no wildcards (RFC 3659).
    let r = c.download("NLST logs/*.zip").await.expect_err("no match");
    assert_eq!(r.code, 550, "{r:?}");
    let r = c
        .download("MLSD logs/*.txt")
        .await
        .expect_err("MLSD refused");
    assert_eq!(r.code, 550, "{r:?}");
    // `*` never crosses a directory.
    let r = c
        .download("NLST */a1.txt")
        .await
        .expect_err("no glob in directories");
    assert_eq!(r.code, 550, "{r:?}");
}
