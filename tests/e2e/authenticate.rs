//! The `authenticate` hook end to end, with the real http-users example plugin and a real HTTP
//! user directory on loopback (tests/web/user_directory.py): a user the users file does not
//! know logs in with the account the directory returns — home and mounts inside the
//! operator's `auth.roots` — and is refused when the account points outside them; a wrong
//! password is a 530, an unavailable directory a 421; the users file's own users are not sent
//! to the directory unless the operator grants `users = "all"`; the recorded event holds no
//! password.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use ftpsd_e2e::{FtpClient, TestServer, built_plugin, until};
use serde_json::json;

struct Directory {
    child: Child,
    port: u16,
    users: PathBuf,
    log: PathBuf,
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Directory {
    async fn start(dir: &Path, users: serde_json::Value) -> Directory {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/user_directory.py");
        let port_file = dir.join("directory.port");
        let users_file = dir.join("directory.json");
        std::fs::write(&users_file, users.to_string()).unwrap();
        let log = dir.join("directory.jsonl");
        let child = Command::new("python3")
            .arg(script)
            .arg(&port_file)
            .arg(&users_file)
            .arg(&log)
            .spawn()
            .expect("python3 runs the user directory");
        let mut d = Directory {
            child,
            port: 0,
            users: users_file,
            log,
        };
        until("the directory listens", || port_file.exists()).await;
        d.port = std::fs::read_to_string(&port_file)
            .unwrap()
            .parse()
            .unwrap();
        d
    }

    /// (user, status) of each request the directory answered.
    fn asked(&self) -> Vec<(String, u64)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| {
                (
                    v["user"].as_str().unwrap_or("").to_string(),
                    v["status"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

async fn server(dir: &Directory, root: &Path, users: &str, record: &Path) -> TestServer {
    let url = format!("http://127.0.0.1:{}/ftp/login", dir.port);
    // The builder's users file holds alice (password "alice-pass").
    let srv = TestServer::builder()
        .plugin(
            "http-users",
            built_plugin("http_users.wasm"),
            &format!(
                "timeout_ms = 100\nrecord = \"{}\"\ncapabilities = {{ http = {{ allowed_hosts = [\"http://127.0.0.1:{}/ftp/\"] }}, auth = {{ roots = [\"{}\"], users = \"{users}\" }} }}\n[settings]\nurl = \"{url}\"\ntoken = \"directory-token\"\n",
                record.display(),
                dir.port,
                root.display()
            ),
        )
        .start()
        .await;
    srv
}

/// USER and PASS on a fresh TLS connection: the PASS reply's code.
async fn login_code(srv: &TestServer, user: &str, pass: &str) -> u16 {
    let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
    c.cmd_ok(&format!("USER {user}"), 331).await;
    c.cmd(&format!("PASS {pass}")).await.code
}

fn directory_users(root: &Path, outside: &Path) -> serde_json::Value {
    json!({
        "carol": {"password": "carol-pass", "account": {
            "home": root.join("carol"), "rights": "a", "quota_mb": 1, "groups": ["partners"],
            "mounts": [{"path": root.join("shared"), "at": "/shared", "rights": "r"}]}},
        "mallory": {"password": "mallory-pass", "account": {
            "home": outside.join("mallory"), "rights": "a"}},
        "sneaky": {"password": "sneaky-pass", "account": {
            "home": root.join("sneaky"), "rights": "a",
            "mounts": [{"path": format!("{}/../outside", root.display()), "at": "/etc", "rights": "r"}]}},
        "broken": {"status": 500},
        "alice": {"password": "directory-alice", "account": {"home": root.join("alice-ext"), "rights": "rw"}},
    })
}

#[tokio::test]
async fn a_directory_user_logs_in_inside_the_roots_and_nowhere_else() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ext");
    let outside = t.path().join("outside");
    std::fs::create_dir_all(root.join("shared")).unwrap();
    std::fs::write(root.join("shared/readme.txt"), b"shared").unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let dir = Directory::start(t.path(), directory_users(&root, &outside)).await;
    let record = t.path().join("auth.jsonl");
    let srv = server(&dir, &root, "unknown", &record).await;

    // carol: the directory's account, home created inside the root, mounts as given.
    let mut c = srv.login_as("carol", "carol-pass").await;
    c.stor("report.csv", b"a,b\n").await;
    assert_eq!(
        std::fs::read(root.join("carol/report.csv")).unwrap(),
        b"a,b\n"
    );
    assert_eq!(c.retr("/shared/readme.txt").await, b"shared");
    let r = c.upload("STOR /shared/x.txt", b"no").await;
    assert!(r.code == 550 || r.code == 553, "read-only mount: {r:?}");
    let big = vec![7u8; 2 << 20];
    assert_eq!(
        c.upload("STOR big.bin", &big).await.code,
        552,
        "the account's 1 MB quota"
    );
    let sessions = srv.server.ctx.sessions.list();
    assert!(sessions.iter().any(|s| s.user == "carol"), "{sessions:?}");
    c.cmd_ok("QUIT", 221).await;

    assert_eq!(login_code(&srv, "carol", "wrong").await, 530);
    assert_eq!(
        login_code(&srv, "mallory", "mallory-pass").await,
        530,
        "home outside the roots"
    );
    assert!(!outside.join("mallory").exists(), "nothing created outside");
    assert_eq!(
        login_code(&srv, "sneaky", "sneaky-pass").await,
        530,
        "a mount that climbs out"
    );
    assert_eq!(login_code(&srv, "ghost", "x").await, 530, "unknown to both");
    assert_eq!(
        login_code(&srv, "broken", "x").await,
        421,
        "directory unavailable"
    );
    // alice is in the users file: her file password works, the directory is not asked.
    let mut a = srv.login_as("alice", "alice-pass").await;
    a.stor("mine.txt", b"file user").await;
    assert!(srv.exists("alice", "mine.txt"));
    assert_eq!(login_code(&srv, "alice", "directory-alice").await, 530);

    let asked = dir.asked();
    assert!(
        asked.iter().all(|(u, _)| u != "alice"),
        "file users stay with the file: {asked:?}"
    );
    let statuses: Vec<(&str, u64)> = asked.iter().map(|(u, s)| (u.as_str(), *s)).collect();
    for want in [
        ("carol", 200),
        ("carol", 401),
        ("ghost", 404),
        ("broken", 500),
    ] {
        assert!(statuses.contains(&want), "{want:?} in {statuses:?}");
    }
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(recorded.contains("\"hook\":\"authenticate\""), "{recorded}");
    assert!(
        !recorded.contains("carol-pass") && recorded.contains("(redacted)"),
        "{recorded}"
    );
    drop(dir.users.clone());

    // `plugin run` holds an answer to the entry's auth grant as the server does, and makes
    // no HTTP request unless told to.
    let config = t.path().join("run.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{}\"\n[[plugins]]\nname = \"http-users\"\npath = \"{}\"\ncapabilities = {{ http = {{ allowed_hosts = [\"http://127.0.0.1:{}/ftp/\"] }}, auth = {{ roots = [\"{}\"] }} }}\n[plugins.settings]\nurl = \"http://127.0.0.1:{}/ftp/login\"\n",
            t.path().join("run-data").display(),
            ftpsd_e2e::built_plugin_path("http_users.wasm").display(),
            dir.port,
            root.display(),
            dir.port
        ),
    )
    .unwrap();
    let events = t.path().join("logins.jsonl");
    std::fs::write(
        &events,
        "{\"hook\":\"authenticate\",\"ip\":\"127.0.0.1\",\"user\":\"mallory\",\"password\":\"mallory-pass\"}\n\
         {\"hook\":\"authenticate\",\"ip\":\"127.0.0.1\",\"user\":\"carol\",\"password\":\"carol-pass\"}\n",
    )
    .unwrap();
    let asked_before = dir.asked().len();
    let run = |http: bool| {
        let mut c = Command::new(ftpsd_e2e::tools::ftpsd_bin());
        c.arg("plugin")
            .arg("run")
            .arg(ftpsd_e2e::built_plugin_path("http_users.wasm"))
            .arg("--event")
            .arg(&events)
            .args(["--entry", "http-users", "--config"])
            .arg(&config);
        if http {
            c.arg("--http");
        }
        let out = c.output().unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (offline, err) = run(false);
    assert!(err.contains("pass --http"), "{err}");
    assert_eq!(offline.len(), 2, "{offline:?}");
    assert!(offline.iter().all(|l| l["code"] == 421), "{offline:?}");
    assert_eq!(dir.asked().len(), asked_before, "no request without --http");
    let (online, err) = run(true);
    assert_eq!(dir.asked().len(), asked_before + 2, "{err}");
    assert!(
        online[0]["account_refused"]
            .as_str()
            .is_some_and(|r| r.contains("outside the folders the operator granted")),
        "{online:?}"
    );
    assert!(!outside.join("mallory").exists());
    assert_eq!(online[1]["verdict"], "allow", "{online:?}");
    assert!(online[1].get("account_refused").is_none(), "{online:?}");
}

#[tokio::test]
async fn with_users_all_the_directory_answers_first_and_404_leaves_it_to_the_file() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ext");
    std::fs::create_dir_all(&root).unwrap();
    let dir = Directory::start(t.path(), directory_users(&root, t.path())).await;
    let srv = server(&dir, &root, "all", &t.path().join("rec.jsonl")).await;
    // alice is in both: the directory's password and account win.
    let mut c = srv.login_as("alice", "directory-alice").await;
    c.stor("ext.txt", b"x").await;
    assert!(root.join("alice-ext/ext.txt").exists());
    c.cmd_ok("QUIT", 221).await;
    // Not in the directory (404): the users file decides.
    std::fs::write(&dir.users, json!({}).to_string()).unwrap();
    let mut c = srv.login_as("alice", "alice-pass").await;
    c.stor("file.txt", b"y").await;
    assert!(srv.exists("alice", "file.txt"));
    assert!(
        dir.asked().iter().filter(|(u, _)| u == "alice").count() >= 2,
        "{:?}",
        dir.asked()
    );
}

/// A directory slower than the call's wall-clock cap: the host ends the HTTP wait early enough
/// for the plugin to answer its own 421, so the slow service is not a fault charged to the
/// client — the address is not quarantined — nor a failed login that bfp would ban it for:
/// the next user from it logs in.
#[tokio::test]
async fn a_slow_directory_is_the_plugins_421_not_a_fault_against_the_address() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ext");
    std::fs::create_dir_all(&root).unwrap();
    let mut users = directory_users(&root, t.path());
    users["slow"] = json!({"delay_ms": 4000, "password": "slow-pass",
        "account": {"home": root.join("slow"), "rights": "r"}});
    let dir = Directory::start(t.path(), users).await;
    let srv = TestServer::builder()
        .plugin(
            "bfp",
            built_plugin("bfp.wasm"),
            "[settings]\nmax_failures = 2\n",
        )
        .plugin(
            "http-users",
            built_plugin("http_users.wasm"),
            &format!(
                "timeout_ms = 50\nmax_faults = 1\ncapabilities = {{ http = {{ allowed_hosts = [\"http://127.0.0.1:{}/ftp/\"] }}, auth = {{ roots = [\"{}\"] }} }}\n[settings]\nurl = \"http://127.0.0.1:{}/ftp/login\"\n",
                dir.port,
                root.display(),
                dir.port
            ),
        )
        .start()
        .await;
    for _ in 0..2 {
        let mut c = FtpClient::connect_explicit(srv.explicit(), srv.cert_path()).await;
        c.cmd_ok("USER slow", 331).await;
        let r = c.cmd("PASS slow-pass").await;
        assert_eq!(r.code, 421, "{r:?}");
        assert!(r.text.contains("user directory is unavailable"), "{r:?}");
    }
    // With max_faults = 1 a fault would have quarantined 127.0.0.1 for this plugin.
    let mut c = srv.login_as("carol", "carol-pass").await;
    c.stor("ok.txt", b"ok").await;
    assert!(root.join("carol/ok.txt").exists());
}

/// With `users = "all"` the directory vouches for users the file has, but the file's own
/// refusals stay: a disabled user and an address the user's `deny` names are refused whatever
/// the directory says.
#[tokio::test]
async fn a_disabled_user_or_a_denied_address_stays_refused_when_the_directory_vouches() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ext");
    std::fs::create_dir_all(&root).unwrap();
    let mut users = directory_users(&root, t.path());
    for name in ["dora", "erin"] {
        users[name] = json!({"password": "dir-pass",
            "account": {"home": root.join(name), "rights": "rw"}});
    }
    let dir = Directory::start(t.path(), users).await;
    let file_users = format!(
        "[[user]]\nname = \"dora\"\npassword = \"{h}\"\nhome = \"homes/dora\"\nrights = \"rw\"\ndisabled = true\n\n[[user]]\nname = \"erin\"\npassword = \"{h}\"\nhome = \"homes/erin\"\nrights = \"rw\"\ndeny = [\"127.0.0.1\"]\n",
        h = TestServer::hash("file-pass")
    );
    let srv = TestServer::builder()
        .users_toml(&file_users)
        .plugin(
            "http-users",
            built_plugin("http_users.wasm"),
            &format!(
                "capabilities = {{ http = {{ allowed_hosts = [\"http://127.0.0.1:{}/ftp/\"] }}, auth = {{ roots = [\"{}\"], users = \"all\" }} }}\n[settings]\nurl = \"http://127.0.0.1:{}/ftp/login\"\n",
                dir.port,
                root.display(),
                dir.port
            ),
        )
        .start()
        .await;
    assert_eq!(login_code(&srv, "dora", "dir-pass").await, 530, "disabled");
    assert!(!root.join("dora").exists());
    assert_eq!(
        login_code(&srv, "erin", "dir-pass").await,
        530,
        "address denied"
    );
    // The directory's other users still log in.
    let mut c = srv.login_as("carol", "carol-pass").await;
    c.cmd_ok("PWD", 257).await;
}
