//! ratio, the real .wasm in the real server: by files, by bytes (REST offset not counted), both,
//! with credit, anonymous exempt, `SITE RATIO`, counters that survive a restart.

use ftpsd_e2e::{Storage, TestServer, built_plugin, on_both_storages};

on_both_storages!(by_files_counts_completed_transfers_and_survives_a_restart);

/// A users-file entry for `name` (password "pw") with a home in the test dir and a ratio.
fn user(name: &str, ratio: &str) -> String {
    format!(
        "[[user]]\nname = \"{name}\"\npassword = \"{}\"\nhome = \"{{STORE}}/{name}\"\nrights = \"a\"\nratio = \"{ratio}\"\n",
        TestServer::hash("pw")
    )
}

async fn server(settings: &str, users: &str) -> TestServer {
    server_on(Storage::Local, settings, users).await
}

async fn server_on(storage: Storage, settings: &str, users: &str) -> TestServer {
    let srv = TestServer::builder()
        .storage(storage)
        .plugin(
            "ratio",
            built_plugin("ratio.wasm"),
            &format!("settings = {settings}"),
        )
        .users_toml(users)
        .start()
        .await;
    if storage == Storage::Local {
        for name in ["bob", "pub"] {
            std::fs::create_dir_all(srv.dir.path().join(name)).unwrap();
        }
    }
    srv
}

/// A file put beside the server, under the `{STORE}` root the users' homes are in.
fn put(srv: &TestServer, rel: &str, data: &[u8]) {
    match &srv.store {
        Some(s3) => s3.put(ftpsd_e2e::server::BUCKET, rel, data),
        None => std::fs::write(srv.dir.path().join(rel), data).unwrap(),
    }
}

async fn by_files_counts_completed_transfers_and_survives_a_restart(storage: Storage) {
    let srv = server_on(storage, "{ mode = \"files\" }", &user("bob", "1:2")).await;
    put(&srv, "bob/f", b"file");
    let mut c = srv.login_as("bob", "pw").await;
    let r = c.download("RETR f").await.unwrap_err();
    assert_eq!(
        (r.code, r.text.as_str()),
        (
            550,
            "Ratio 1:2 (files): upload 1 more file(s) first to download this file."
        )
    );
    let site = c.cmd_ok("SITE RATIO", 200).await;
    assert!(
        site.text
            .contains("Uploaded 0 files (0 bytes), downloaded 0 files (0 bytes).")
            && site
                .text
                .contains("Ratio 1:2 by files: you may download 0 more file(s)"),
        "{site:?}"
    );
    c.stor("gift", b"one upload").await;
    assert_eq!(c.retr("f").await, b"file");
    assert_eq!(c.retr("f").await, b"file");
    assert_eq!(
        c.download("RETR f").await.unwrap_err().code,
        550,
        "third download"
    );
    drop(c);

    let srv = srv.restart().await;
    let mut c = srv.login_as("bob", "pw").await;
    assert_eq!(
        c.download("RETR f").await.unwrap_err().code,
        550,
        "counters survived"
    );
    let site = c.cmd_ok("SITE RATIO", 200).await;
    assert!(
        site.text
            .contains("Uploaded 1 file (10 bytes), downloaded 2 files (8 bytes)."),
        "{site:?}"
    );
    c.stor("gift2", b"x").await;
    assert_eq!(c.retr("f").await, b"file");
}

#[tokio::test]
async fn by_bytes_does_not_count_the_rest_offset() {
    let srv = server("{ mode = \"bytes\" }", &user("bob", "1:1")).await;
    let big = ftpsd_e2e::pattern(1500, 7);
    put(&srv, "bob/big", &big);
    let mut c = srv.login_as("bob", "pw").await;
    c.stor("up", &[1u8; 1000]).await;
    let r = c.download("RETR big").await.unwrap_err();
    assert_eq!(
        (r.code, r.text.as_str()),
        (
            550,
            "Ratio 1:1 (bytes): upload 500 bytes first to download this file."
        )
    );
    c.cmd_ok("REST 500", 350).await;
    let (data, done) = c.download("RETR big").await.unwrap();
    assert_eq!((done.code, data.as_slice()), (226, &big[500..]));
    // Exactly used up: anything more is refused.
    put(&srv, "bob/one", b"1");
    assert_eq!(c.download("RETR one").await.unwrap_err().code, 550);
}

#[tokio::test]
async fn both_with_credit_and_the_default_ratio() {
    let srv = server(
        "{ mode = \"both\", default_ratio = \"1:1\", credit_files = 1, credit_bytes = 100 }",
        &user("bob", "1:1").replace("ratio = \"1:1\"\n", ""),
    )
    .await;
    put(&srv, "bob/small", &[0u8; 60]);
    let mut c = srv.login_as("bob", "pw").await;
    assert_eq!(
        c.retr("small").await.len(),
        60,
        "the credit pays for the first"
    );
    let r = c.download("RETR small").await.unwrap_err();
    assert_eq!(
        r.text,
        "Ratio 1:1 (files and bytes): upload 1 more file(s) and 20 bytes first to download this file."
    );
    c.stor("u", &[0u8; 20]).await;
    assert_eq!(c.retr("small").await.len(), 60);
}

#[tokio::test]
async fn anonymous_users_are_exempt() {
    let srv = server(
        "{ mode = \"files\", default_ratio = \"1:1\" }",
        "[anonymous]\nenabled = true\n[[anonymous.mount]]\npath = \"{DIR}/pub\"\nrights = \"r\"\n",
    )
    .await;
    put(&srv, "pub/readme", b"free");
    let mut c = srv.login_as("anonymous", "guest@example.org").await;
    for _ in 0..3 {
        assert_eq!(c.retr("readme").await, b"free");
    }
    let site = c.cmd_ok("SITE RATIO", 200).await;
    assert!(
        site.text.contains("Anonymous users have no ratio."),
        "{site:?}"
    );
    // Without a ratio plugin, SITE RATIO still answers.
    let plain = TestServer::start().await;
    let mut c = plain.alice().await;
    let site = c.cmd_ok("SITE RATIO", 200).await;
    assert!(site.text.contains("No ratio applies to you."), "{site:?}");
    c.cmd_ok("SITE NOSUCH x", 502).await;
    c.cmd_ok("SITE HELP", 214).await;
}
