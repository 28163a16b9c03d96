//! The web admin page in headless Chromium (Debian's chromium and chromedriver, Selenium;
//! `cargo xtask test` installs them): log in with the token, see a live FTPS session, manage
//! users, groups and IP lists with the forms (confirmations answered No, then Yes), the log
//! opening at its newest line, disconnect everyone. Then the files and the server are checked.

use std::process::Command;

use ftpsd_e2e::TestServer;
use ftpsd_e2e::tools::{run, text};

#[tokio::test]
async fn the_admin_page_manages_users_groups_and_ip_lists_and_disconnects_sessions() {
    // A day of log longer than the viewer's first read: it must open at the end.
    let logs = tempfile::tempdir().unwrap();
    let filler: String = (0..20_000)
        .map(|i| {
            format!(
                "2026-01-01T00:00:00.000Z  INFO ftpsd::test: filler {i} {}\n",
                "x".repeat(40)
            )
        })
        .collect();
    let last = "2026-01-01T00:00:00.000Z  INFO ftpsd::test: the newest line";
    std::fs::write(
        logs.path().join("ftpsd.log.2026-01-01"),
        filler + last + "\n",
    )
    .unwrap();
    let log_dir = logs.path().to_path_buf();
    let srv = TestServer::builder()
        .config(move |c| {
            c.admin.enabled = true;
            c.admin.listen = "127.0.0.1:0".parse().unwrap();
            c.log.dir = Some(log_dir);
        })
        .start()
        .await;
    let token = std::fs::read_to_string(srv.config.data_dir().join("admin.token")).unwrap();
    let mut alice = srv.alice().await;
    alice.cmd_ok("NOOP", 200).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/admin_page.py");
    let mut cmd = Command::new(python_with_selenium());
    cmd.arg(script)
        .arg(format!("http://{}/", srv.server.admin.unwrap()))
        .arg(token.trim())
        .arg("alice")
        .arg(last);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
    // The click really ended the FTPS session.
    let r = ftpsd_e2e::bounded("kicked", alice.read_reply()).await;
    assert_eq!(r.code, 421, "{r:?}");
    assert!(alice.is_closed().await);
    // What the forms did is in the users file and in force.
    let users = ftpsd::users::UsersFile::load(&srv.users_file()).unwrap();
    let carol = users.find("carol").expect("carol added");
    assert!(carol.disabled);
    assert!(users.find("dave").is_none(), "dave deleted");
    assert!(
        users.groups.iter().all(|g| g.name != "staff"),
        "staff deleted"
    );
    let mounts = users.mounts_of(carol).unwrap();
    assert!(mounts.iter().any(|m| m.name.as_deref() == Some("pub")));
    assert!(
        mounts
            .iter()
            .any(|m| m.name.is_none() && m.quota_bytes == Some(5 << 20))
    );
    assert!(
        srv.users_file()
            .parent()
            .unwrap()
            .join("carol-pub")
            .is_dir()
    );
    let mut c = ftpsd_e2e::FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok("USER carol", 331).await;
    c.cmd_ok("PASS Carol-pw-2", 530).await;
    // Enabled again (through the API the page uses), the password set in the prompt works.
    let enable = ftpsd::users::manage::UserUpdate {
        disabled: Some(false),
        ..Default::default()
    };
    let r = ftpsd::admin::manage_ops::update_user(&srv.server.ctx, "carol".into(), enable).await;
    assert!(matches!(r, ftpsd::admin::ops::Response::Done(_)), "{r:?}");
    let mut c = srv.login_as("carol", "Carol-pw-2").await;
    c.cmd_ok("CWD /pub", 250).await;
    let access = std::fs::read_to_string(srv.config.data_dir().join("access.toml")).unwrap();
    assert!(
        access.contains("127.0.0.0/8") && !access.contains("203.0.113.7"),
        "{access}"
    );
}

/// `python3` from PATH, or Debian's, whichever has Selenium (`.ci/run` installs it).
fn python_with_selenium() -> &'static str {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import selenium"])
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("Selenium for python3 (pip install selenium, or apt-get install python3-selenium)")
}
