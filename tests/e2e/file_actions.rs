//! Host file actions (ABI 2) end to end, with the real guest-uploads plugin: at
//! upload-complete it asks the host to quarantine a guest's `.exe` (moved into a folder outside
//! every user's view) and to delete an empty upload. The host does it only within the grant
//! (`capabilities = { quarantine = "...", delete = true }`), only to the file that upload
//! wrote, and gives the bytes back to the upload counters. Refusals are recorded, not done.

use std::path::Path;

use ftpsd::plugins::exec::Status;
use ftpsd::state::{COUNTERS_NS, now_ms};
use ftpsd_e2e::{TestServer, built_plugin, until};

fn users(home: &str) -> String {
    format!(
        "[[user]]\nname = \"gus\"\npassword = \"{}\"\nhome = \"{home}\"\nrights = \"a\"\ngroups = [\"guests\"]\n\n[[group]]\nname = \"guests\"\n",
        TestServer::hash("gus-pass")
    )
}

async fn server(capabilities: &str, home: &str) -> TestServer {
    let srv = TestServer::builder()
        .users_toml(&users(home))
        .plugin(
            "guest-uploads",
            built_plugin("guest_uploads.wasm"),
            &format!(
                "{capabilities}\n[settings]\ngroups = [\"guests\"]\nuploads_per_hour = 100\nquarantine_extensions = [\"exe\"]\ndelete_empty = true\n"
            ),
        )
        .start()
        .await;
    std::fs::create_dir_all(srv.home("gus")).unwrap();
    srv
}

/// The file actions the host recorded, as (action, status).
fn actions(srv: &TestServer) -> Vec<(String, Status)> {
    srv.server
        .ctx
        .exec
        .history()
        .into_iter()
        .filter(|o| o.program.ends_with("-file"))
        .map(|o| (o.program, o.status))
        .collect()
}

async fn wait_for_actions(srv: &TestServer, n: usize) -> Vec<(String, Status)> {
    until("the file actions are recorded", || actions(srv).len() >= n).await;
    actions(srv)
}

fn files_up(srv: &TestServer) -> Option<String> {
    srv.server
        .ctx
        .plugins
        .kv
        .get(COUNTERS_NS, "gus:files_up", now_ms())
        .unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A server whose guest-uploads plugin may quarantine (into `<tempdir>/quarantine`) and
/// delete; the tempdir lives as long as the caller keeps it.
async fn granted_server() -> (tempfile::TempDir, TestServer) {
    let q = tempfile::tempdir().unwrap();
    let srv = server(
        &format!(
            "capabilities = {{ quarantine = \"{}\", delete = true }}",
            q.path().join("quarantine").display()
        ),
        "homes/gus",
    )
    .await;
    (q, srv)
}

#[tokio::test]
async fn a_guests_exe_is_quarantined_and_an_empty_upload_deleted() {
    let (q, srv) = granted_server().await;
    let quarantine = q.path().join("quarantine");
    assert!(quarantine.is_dir(), "the host creates the granted folder");
    let mut c = srv.login_as("gus", "gus-pass").await;
    c.stor("keep.txt", b"kept").await;
    c.stor("setup.exe", b"MZ evil").await;
    let done = wait_for_actions(&srv, 1).await;
    let Status::Taken { to: Some(to) } = &done[0].1 else {
        panic!("{done:?}");
    };
    assert_eq!(done[0].0, "quarantine-file");
    assert!(Path::new(to).starts_with(&quarantine), "{to}");
    assert_eq!(std::fs::read(to).unwrap(), b"MZ evil");
    let names = listing(&quarantine);
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with("-gus-setup.exe"), "{names:?}");
    assert!(!srv.exists("gus", "setup.exe"), "gone from the user's view");
    assert!(c.cmd("SIZE setup.exe").await.code == 550);

    c.stor("empty.txt", b"").await;
    let done = wait_for_actions(&srv, 2).await;
    assert_eq!(done[1], ("delete-file".into(), Status::Taken { to: None }));
    assert!(!srv.exists("gus", "empty.txt"));
    assert_eq!(
        files_up(&srv).as_deref(),
        Some("1"),
        "only keep.txt counts as uploaded"
    );
    assert_eq!(srv.read("gus", "keep.txt"), b"kept");
    c.cmd_ok("QUIT", 221).await;
}

#[tokio::test]
async fn without_the_grant_or_with_a_folder_in_view_the_file_stays() {
    // No capability: the plugin asks, the host refuses.
    let srv = server("", "homes/gus").await;
    let mut c = srv.login_as("gus", "gus-pass").await;
    c.stor("setup.exe", b"MZ").await;
    c.stor("empty.txt", b"").await;
    let done = wait_for_actions(&srv, 2).await;
    assert!(
        done.iter()
            .all(|(_, s)| matches!(s, Status::NotTaken(why) if why.contains("capability"))),
        "{done:?}"
    );
    assert!(srv.exists("gus", "setup.exe") && srv.exists("gus", "empty.txt"));
    c.cmd_ok("QUIT", 221).await;
    drop(srv);

    // A quarantine folder inside the user's home would hand the file back: refused.
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("gus");
    let inside = home.join("q");
    std::fs::create_dir_all(&inside).unwrap();
    let srv = server(
        &format!("capabilities = {{ quarantine = \"{}\" }}", inside.display()),
        &home.display().to_string(),
    )
    .await;
    let mut c = srv.login_as("gus", "gus-pass").await;
    c.stor("setup.exe", b"MZ").await;
    let done = wait_for_actions(&srv, 1).await;
    assert!(
        matches!(&done[0].1, Status::NotTaken(why) if why.contains("overlaps")),
        "{done:?}"
    );
    assert_eq!(std::fs::read(home.join("setup.exe")).unwrap(), b"MZ");
    assert_eq!(listing(&inside), Vec::<String>::new());
    c.cmd_ok("QUIT", 221).await;
}

#[tokio::test]
async fn each_upload_of_a_name_is_quarantined_as_its_own_file() {
    // (That an action never takes a newer file put under the same name in the meantime is
    // the sandbox's identity check, unit-tested in `fs::sandbox`.)
    let q = tempfile::tempdir().unwrap();
    let srv = server(
        &format!(
            "capabilities = {{ quarantine = \"{}\" }}",
            q.path().display()
        ),
        "homes/gus",
    )
    .await;
    let mut c = srv.login_as("gus", "gus-pass").await;
    c.stor("a.exe", b"one").await;
    wait_for_actions(&srv, 1).await;
    c.stor("a.exe", b"two").await;
    wait_for_actions(&srv, 2).await;
    let names = listing(q.path());
    assert_eq!(names.len(), 2, "{names:?}");
    let mut contents: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(q.path().join(n)).unwrap())
        .collect();
    contents.sort();
    assert_eq!(contents, [b"one".to_vec(), b"two".to_vec()]);
    c.cmd_ok("QUIT", 221).await;
}

/// From the upload's commit until its actions are done the file is held: a second session
/// renaming or downloading it as fast as it can never gets it out of the plugin's reach —
/// it hears 450 (try again) or 550 (already gone), never 350 or 150 — and every upload ends
/// in the quarantine.
#[tokio::test]
async fn a_file_being_decided_cannot_be_renamed_or_fetched_out_of_reach() {
    let (q, srv) = granted_server().await;
    let quarantine = q.path().join("quarantine");
    let mut uploader = srv.login_as("gus", "gus-pass").await;
    let mut thief = srv.login_as("gus", "gus-pass").await;
    const N: usize = 12;
    let escaped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (e, b, st) = (escaped.clone(), busy.clone(), stop.clone());
    let thief_task = tokio::spawn(async move {
        use std::sync::atomic::Ordering::SeqCst;
        while !st.load(SeqCst) {
            for i in 0..N {
                let r = thief.cmd(&format!("RNFR r{i}.exe")).await;
                match r.code {
                    350 => {
                        if thief.cmd(&format!("RNTO r{i}.txt")).await.code == 250 {
                            e.fetch_add(1, SeqCst);
                        }
                    }
                    450 => {
                        b.fetch_add(1, SeqCst);
                    }
                    550 => {}
                    other => panic!("RNFR: {other} {r:?}"),
                }
            }
        }
        thief
    });
    for i in 0..N {
        if i > 0 && i % 4 == 0 {
            // The test client resumes TLS for a few data connections only: a fresh session.
            uploader = srv.login_as("gus", "gus-pass").await;
        }
        uploader.stor(&format!("r{i}.exe"), b"MZ evil").await;
        // The uploader's own next command comes right after the 226.
        let r = uploader.cmd(&format!("RNFR r{i}.exe")).await;
        assert!(r.code == 450 || r.code == 550, "{r:?}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while listing(&quarantine).len() < N {
        assert!(
            std::time::Instant::now() < deadline,
            "every upload is quarantined: {:?} {:?}",
            listing(&quarantine),
            actions(&srv)
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut thief = thief_task.await.unwrap();
    assert_eq!(escaped.load(std::sync::atomic::Ordering::SeqCst), 0);
    for i in 0..N {
        assert!(!srv.exists("gus", &format!("r{i}.txt")));
        assert_eq!(thief.cmd(&format!("SIZE r{i}.exe")).await.code, 550);
    }
    // A file no plugin takes is usable at once: the command right after its 226 waits out
    // the plugin's answer instead of being refused (rclone sets the time right after STOR).
    let mut c = srv.login_as("gus", "gus-pass").await;
    for i in 0..3 {
        c.stor(&format!("ok{i}.txt"), b"fine").await;
        c.cmd_ok(&format!("MFMT 20260101000000 ok{i}.txt"), 213)
            .await;
        c.cmd_ok(&format!("RNFR ok{i}.txt"), 350).await;
        c.cmd_ok(&format!("RNTO kept{i}.txt"), 250).await;
    }
    // Renaming into a quarantined type is refused by the plugin's gate.
    c.cmd_ok("RNFR kept0.txt", 350).await;
    assert_eq!(c.cmd("RNTO kept0.exe").await.code, 553);
    eprintln!(
        "the thief was told 'busy' {} times",
        busy.load(std::sync::atomic::Ordering::SeqCst)
    );
}
