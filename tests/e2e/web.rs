//! The web admin page in headless Chromium (Debian's chromium and chromedriver, Selenium;
//! `.ci/run` installs them): log in with the token, see a live FTPS session, disconnect it.

use std::process::Command;

use ftpsd_e2e::TestServer;
use ftpsd_e2e::tools::{run, text};

#[tokio::test]
async fn the_admin_page_shows_a_live_session_and_disconnects_it() {
    let srv = TestServer::builder()
        .config(|c| {
            c.admin.enabled = true;
            c.admin.listen = "127.0.0.1:0".parse().unwrap();
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
        .arg("alice");
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
    // The click really ended the FTPS session.
    let r = ftpsd_e2e::bounded("kicked", alice.read_reply()).await;
    assert_eq!(r.code, 421, "{r:?}");
    assert!(alice.is_closed().await);
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
