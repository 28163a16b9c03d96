//! Plugin tools end to end: a server records the events it sends a plugin (`record` in its
//! `[[plugins]]` entry), and `ftpsd plugin run` replays that file through the built module
//! with the entry's settings, reaching the same verdicts the server reached.

use std::process::Command;

use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::{TestServer, built_plugin, built_plugin_path};
use serde_json::Value;

fn users() -> String {
    format!(
        "[[user]]\nname = \"gus\"\npassword = \"{}\"\nhome = \"homes/gus\"\nrights = \"a\"\ngroups = [\"guests\"]\n\n[[group]]\nname = \"guests\"\n",
        TestServer::hash("gus-pass")
    )
}

async fn plugin_run(args: &[&str]) -> (std::process::Output, Vec<Value>) {
    let mut cmd = Command::new(ftpsd_bin());
    cmd.args(["plugin", "run"])
        .arg(built_plugin_path("guest_uploads.wasm"))
        .args(args);
    let o = run(cmd).await;
    let lines = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}\n{}", text(&o))))
        .collect();
    (o, lines)
}

fn verdicts(lines: &[Value], hook: &str) -> Vec<(String, Option<u64>)> {
    lines
        .iter()
        .filter(|l| l["hook"] == hook)
        .map(|l| {
            (
                l["verdict"].as_str().unwrap_or("?").to_string(),
                l["code"].as_u64(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_recorded_session_replays_to_the_same_verdicts() {
    let rec_dir = tempfile::tempdir().unwrap();
    let rec = rec_dir.path().join("guest-uploads.jsonl");
    let srv = TestServer::builder()
        .users_toml(&users())
        .plugin(
            "guest-uploads",
            built_plugin("guest_uploads.wasm"),
            &format!(
                "record = \"{}\"\n[settings]\ngroups = [\"guests\"]\nuploads_per_hour = 1\n",
                rec.display()
            ),
        )
        .start()
        .await;
    std::fs::create_dir_all(srv.home("gus")).unwrap();
    let mut c = srv.login_as("gus", "gus-pass").await;
    c.stor("one.bin", b"1").await;
    assert_eq!(c.upload("STOR two.bin", b"2").await.code, 450);
    c.cmd_ok("QUIT", 221).await;

    // The gate's events are written before the plugin decides them.
    let recorded = std::fs::read_to_string(&rec).unwrap();
    let uploads: Vec<Value> = recorded
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["hook"] == "upload")
        .collect();
    assert_eq!(uploads.len(), 2, "{recorded}");
    assert_eq!(uploads[1]["path"], "/two.bin");
    assert_eq!(uploads[1]["groups"][0], "guests");

    // One bad line among them is reported and skipped; the rest still run.
    let replay = rec_dir.path().join("replay.jsonl");
    std::fs::write(&replay, format!("{recorded}not json\n")).unwrap();
    let config = srv.config_file();
    let (o, lines) = plugin_run(&[
        "--entry",
        "guest-uploads",
        "--config",
        config.to_str().unwrap(),
        "--event",
        replay.to_str().unwrap(),
    ])
    .await;
    assert!(
        !o.status.success() && text(&o).contains("1 of 4 events failed"),
        "a failed line fails the run: {}",
        text(&o)
    );
    assert_eq!(
        verdicts(&lines, "upload"),
        [("allow".to_string(), None), ("deny".to_string(), Some(450))],
        "{}",
        text(&o)
    );
    let bad = lines.last().unwrap();
    assert!(
        bad["error"].as_str().unwrap().contains("not an event"),
        "{bad}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 denied, 0 skipped, 1 failed"),
        "{}",
        text(&o)
    );
}

#[tokio::test]
async fn one_event_on_the_command_line_with_settings() {
    let ev = r#"{"hook":"upload","ip":"192.0.2.7","user":"gus","path":"/a.bin","command":"STOR","groups":["guests"],"declared_size":999999}"#;
    let (o, lines) = plugin_run(&[
        "--settings",
        r#"{ groups = ["guests"], uploads_per_hour = 5, max_upload_kib = 64 }"#,
        "--event",
        ev,
    ])
    .await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(lines[0]["code"], 552, "{}", text(&o));
    assert_eq!(lines[0]["message"], "Guest uploads are at most 64 KiB.");

    let small = ev.replace("999999", "10");
    let (_, lines) = plugin_run(&[
        "--settings",
        r#"{ groups = ["guests"], uploads_per_hour = 5, max_upload_kib = 64 }"#,
        "--event",
        &small,
    ])
    .await;
    assert_eq!(lines[0]["verdict"], "allow");
    assert_eq!(lines[0]["limits"]["max_bytes"], 65536, "{:?}", lines[0]);

    // A hook it does not subscribe to is skipped, as the server would.
    let (_, lines) = plugin_run(&[
        "--settings",
        r#"{ groups = ["g"], uploads_per_hour = 1 }"#,
        "--event",
        r#"{"hook":"connect","ip":"192.0.2.7","listener":"explicit"}"#,
    ])
    .await;
    assert!(lines[0]["skipped"].is_string(), "{:?}", lines[0]);

    // Bad input: settings the plugin refuses, an entry the config lacks, no such file.
    let (o, _) = plugin_run(&["--settings", "{ groups = [] }", "--event", ev]).await;
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("uploads_per_hour"),
        "{}",
        text(&o)
    );
    let (o, _) = plugin_run(&[
        "--event",
        "/nonexistent/events.jsonl",
        "--settings",
        "{ groups = [\"g\"], uploads_per_hour = 1 }",
    ])
    .await;
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("/nonexistent/events.jsonl"),
        "{}",
        text(&o)
    );
}
