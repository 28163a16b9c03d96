//! A plugin written in C (examples/c-plugins/name-rules, clang-22 + wasi-libc, no Rust and no
//! SDK) decides real uploads: the ABI works from another language. Files in /incoming must
//! match the configured glob; elsewhere anything goes; bad settings are refused at load with
//! the key named.

use ftpsd_e2e::{TestServer, built_plugin};

async fn server(settings: &str) -> TestServer {
    TestServer::builder()
        .plugin(
            "name-rules",
            built_plugin("c_name_rules.wasm"),
            &format!("[settings]\n{settings}\n"),
        )
        .start()
        .await
}

#[tokio::test]
async fn the_c_plugin_refuses_a_name_outside_the_pattern_before_a_byte_is_stored() {
    let srv = server("folder = \"/incoming\"\npattern = \"*.csv\"").await;
    let mut c = srv.login_as("alice", "alice-pass").await;
    c.cmd_ok("MKD /incoming", 257).await;
    c.stor("/incoming/report.csv", b"a,b\n1,2\n").await;
    assert_eq!(
        std::fs::read(srv.home("alice").join("incoming/report.csv")).unwrap(),
        b"a,b\n1,2\n"
    );
    let r = c.upload("STOR /incoming/tool.exe", b"MZ").await;
    assert_eq!(r.code, 553, "{r:?}");
    assert!(
        r.text.contains("Names in /incoming must match *.csv."),
        "{r:?}"
    );
    assert!(!srv.exists("alice", "incoming/tool.exe"));
    // A dot file does not match `*` (FNM_PERIOD), a nested folder is inside the rule too.
    assert_eq!(c.upload("STOR /incoming/.x.csv", b"x").await.code, 553);
    c.cmd_ok("MKD /incoming/2026", 257).await;
    c.stor("/incoming/2026/q4.csv", b"q4").await;
    // Outside the folder the plugin has no opinion.
    c.stor("/tool.exe", b"MZ").await;
    assert!(srv.exists("alice", "tool.exe"));
    // A rename into the folder is an upload gate too.
    c.cmd_ok("RNFR /tool.exe", 350).await;
    assert_eq!(c.cmd("RNTO /incoming/tool.exe").await.code, 553);
    assert!(srv.exists("alice", "tool.exe"));
}

#[tokio::test]
async fn the_c_plugin_takes_its_message_and_refuses_bad_settings() {
    let srv = server(
        "folder = \"/\"\npattern = \"*.[ct]sv\"\nmessage = \"Only CSV or TSV files, please.\"",
    )
    .await;
    let mut c = srv.login_as("alice", "alice-pass").await;
    c.stor("/a.tsv", b"t").await;
    let r = c.upload("STOR /a.txt", b"t").await;
    assert_eq!(r.code, 553);
    assert!(r.text.contains("Only CSV or TSV files, please."), "{r:?}");

    let out = std::process::Command::new(ftpsd_e2e::tools::ftpsd_bin())
        .args(["plugin", "check"])
        .arg(ftpsd_e2e::built_plugin_path("c_name_rules.wasm"))
        .args(["--settings", "{ folder = \"incoming\" }"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("folder: must be an absolute virtual path"),
        "{err}"
    );
}
