//! Managing users, groups and the server-wide IP lists of a running server without editing
//! files: `ftpsd admin ...` over the admin socket and over the HTTP API (`--url`), and the API
//! with curl. Each change is checked on the wire (a real FTPS login, upload, refusal) and in the
//! files (validated, atomic, kept across a restart).

use std::process::{Command, Stdio};

use ftpsd_e2e::client::{tls_config, try_login};
use ftpsd_e2e::tools::{ftpsd_bin, run, text};
use ftpsd_e2e::{TestServer, bounded};

async fn server() -> TestServer {
    TestServer::builder()
        .config(|c| {
            c.admin.enabled = true;
            c.admin.listen = "127.0.0.1:0".parse().unwrap();
        })
        .start()
        .await
}

/// `ftpsd admin ARGS` against `srv`: over the admin socket, or the HTTP API with `via_http`.
async fn admin(
    srv: &TestServer,
    via_http: bool,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String) {
    let mut c = Command::new(ftpsd_bin());
    c.arg("admin").arg("--config").arg(srv.config_file());
    if via_http {
        c.arg("--url")
            .arg(format!("http://{}", srv.server.admin.unwrap()))
            .arg("--token-file")
            .arg(srv.config.data_dir().join("admin.token"));
    }
    c.args(args);
    let out = match stdin {
        Some(input) => {
            c.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
                .await
                .unwrap()
        }
        None => run(c).await,
    };
    (out.status.success(), text(&out))
}

async fn login_code(srv: &TestServer, source: &str, user: &str, pass: &str) -> Option<u16> {
    try_login(
        srv.explicit(),
        tls_config(srv.cert_path()),
        Some(source.parse().unwrap()),
        user,
        pass,
    )
    .await
}

#[tokio::test]
async fn users_are_created_changed_disabled_and_deleted_on_a_running_server() {
    let srv = server().await;
    for via_http in [false, true] {
        let name = if via_http { "erin-http" } else { "erin" };
        let (ok, out) = admin(
            &srv,
            via_http,
            &[
                "user-add",
                name,
                "--home",
                &format!("homes/{name}"),
                "--rights",
                "r",
                "--password-stdin",
            ],
            Some("erin-secret\n"),
        )
        .await;
        assert!(ok && out.contains(&format!("user '{name}' added")), "{out}");
        assert!(
            !out.contains("password:"),
            "a given password is not printed: {out}"
        );
        assert!(
            srv.dir.path().join(format!("data/homes/{name}")).is_dir(),
            "home created"
        );
        let mut c = srv.login_as(name, "erin-secret").await;
        assert_eq!(c.upload("STOR f.txt", b"x").await.code, 550, "read-only");

        // Rights apply to the running session's next command.
        let (ok, out) = admin(
            &srv,
            via_http,
            &["user-mod", name, "--rights", "rw", "--quota-mb", "1"],
            None,
        )
        .await;
        assert!(
            ok && out.contains("rights on / rw") && out.contains("quota on / 1 MB"),
            "{out}"
        );
        c.stor("f.txt", b"now allowed").await;
        let (ok, out) = admin(&srv, via_http, &["users"], None).await;
        assert!(
            ok && out.contains(name) && out.contains("(rw,1MB)"),
            "{out}"
        );

        // A new password works, the old one no longer does.
        let (ok, out) = admin(
            &srv,
            via_http,
            &["user-mod", name, "--password-stdin"],
            Some("second-secret\n"),
        )
        .await;
        assert!(ok && out.contains("password changed"), "{out}");
        assert_eq!(
            login_code(&srv, "127.0.0.1", name, "erin-secret").await,
            Some(530)
        );
        assert_eq!(
            login_code(&srv, "127.0.0.1", name, "second-secret").await,
            Some(230)
        );

        // Disabling ends the live session; deleting refuses logins, files stay.
        let (ok, out) = admin(&srv, via_http, &["user-mod", name, "--disable"], None).await;
        assert!(ok, "{out}");
        assert_eq!(bounded("ended", c.read_reply()).await.code, 421);
        assert_eq!(
            login_code(&srv, "127.0.0.1", name, "second-secret").await,
            Some(530)
        );
        let (ok, out) = admin(&srv, via_http, &["user-del", name], None).await;
        assert!(ok && out.contains("deleted"), "{out}");
        assert!(
            srv.dir
                .path()
                .join(format!("data/homes/{name}/f.txt"))
                .exists()
        );
        let users = ftpsd::users::UsersFile::load(&srv.users_file()).unwrap();
        assert!(users.find(name).is_none());
    }

    // A generated password is printed once and works.
    let (ok, out) = admin(
        &srv,
        false,
        &["user-add", "gen", "--home", "homes/gen"],
        None,
    )
    .await;
    assert!(ok, "{out}");
    let pass = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(login_code(&srv, "127.0.0.1", "gen", &pass).await, Some(230));
}

#[tokio::test]
async fn bad_changes_are_refused_with_the_reason_and_change_nothing() {
    let srv = server().await;
    let before = std::fs::read(srv.users_file()).unwrap();
    for via_http in [false, true] {
        for (args, says) in [
            (
                vec!["user-add", "bad name", "--home", "x"],
                "may only contain",
            ),
            (vec!["user-add", "alice", "--home", "x"], "already exists"),
            (
                vec!["user-add", "frank", "--home", "x", "--group", "nosuch"],
                "nosuch",
            ),
            (
                vec!["user-mod", "nobody", "--rights", "r"],
                "no user 'nobody'",
            ),
            (vec!["user-mod", "alice"], "nothing to change"),
            (vec!["user-mod", "alice", "--group", "nosuch"], "nosuch"),
            (vec!["user-mod", "alice", "--ratio", "lots"], "ratio"),
            (
                vec!["user-mod", "alice", "--deny", "10.0.0.0/99"],
                "10.0.0.0/99",
            ),
            (vec!["user-del", "nobody"], "no user 'nobody'"),
            (
                vec!["group-add", "g", "--mount", "/srv:music:r"],
                "must start with '/'",
            ),
            (vec!["group-del", "nosuch"], "no group 'nosuch'"),
            (vec!["deny", "not-an-address"], "not-an-address"),
            (vec!["unlist", "10.9.9.9"], "not in the managed lists"),
        ] {
            let (ok, out) = admin(&srv, via_http, &args, None).await;
            assert!(!ok, "{args:?} via_http={via_http}: {out}");
            assert!(out.contains(says), "{args:?} via_http={via_http}: {out}");
        }
    }
    assert_eq!(
        std::fs::read(srv.users_file()).unwrap(),
        before,
        "nothing written"
    );
    // A password with a line break cannot be set (it could never be typed).
    let (ok, out) = admin(
        &srv,
        false,
        &["user-add", "nl", "--home", "homes/nl", "--password-stdin"],
        Some("\n"),
    )
    .await;
    assert!(!ok && out.contains("empty password"), "{out}");
}

#[tokio::test]
async fn groups_are_managed_and_members_need_force() {
    let srv = server().await;
    std::fs::create_dir_all(srv.dir.path().join("shared")).unwrap();
    std::fs::write(srv.dir.path().join("shared/team.txt"), b"team").unwrap();
    let mount = format!("{}:/team:r", srv.dir.path().join("shared").display());
    let (ok, out) = admin(&srv, true, &["group-add", "staff", "--mount", &mount], None).await;
    assert!(ok, "{out}");
    let (ok, out) = admin(&srv, true, &["user-mod", "alice", "--group", "staff"], None).await;
    assert!(ok && out.contains("joined group staff"), "{out}");
    let mut alice = srv.alice().await;
    assert_eq!(alice.retr("/team/team.txt").await, b"team");
    let (ok, out) = admin(&srv, true, &["groups"], None).await;
    assert!(
        ok && out.contains("staff") && out.contains("alice"),
        "{out}"
    );
    let (ok, out) = admin(&srv, true, &["group-del", "staff"], None).await;
    assert!(!ok && out.contains("has members (alice)"), "{out}");
    let (ok, out) = admin(&srv, true, &["group-del", "staff", "--force"], None).await;
    assert!(ok && out.contains("taken out: alice"), "{out}");
    assert!(
        alice.download("RETR /team/team.txt").await.is_err(),
        "the group's mount is gone"
    );
}

#[tokio::test]
async fn managed_ip_lists_refuse_and_end_sessions_and_survive_a_restart() {
    let srv = server().await;
    let mut victim = srv
        .login_from(Some("127.0.0.77".parse().unwrap()), "alice", "alice-pass")
        .await;
    let mut other = srv
        .login_from(Some("127.0.0.78".parse().unwrap()), "alice", "alice-pass")
        .await;
    let (ok, out) = admin(&srv, true, &["deny", "127.0.0.77"], None).await;
    assert!(
        ok && out.contains("127.0.0.77 denied; 1 session(s)"),
        "{out}"
    );
    assert_eq!(bounded("ended", victim.read_reply()).await.code, 421);
    other.cmd_ok("NOOP", 200).await;
    assert_eq!(
        login_code(&srv, "127.0.0.77", "alice", "alice-pass").await,
        Some(421)
    );
    assert_eq!(
        login_code(&srv, "127.0.0.78", "alice", "alice-pass").await,
        Some(230)
    );
    let (ok, out) = admin(&srv, false, &["deny", "127.0.0.77"], None).await;
    assert!(!ok && out.contains("already on the deny list"), "{out}");
    let (ok, out) = admin(&srv, false, &["deny", "127.0.1.0/24"], None).await;
    assert!(ok, "{out}");
    let (ok, out) = admin(&srv, false, &["access"], None).await;
    assert!(
        ok && out.contains("managed deny:  127.0.0.77 127.0.1.0/24"),
        "{out}"
    );

    // Kept in <data_dir>/access.toml: a restart keeps refusing.
    drop((victim, other));
    let srv = srv.restart().await;
    assert_eq!(
        login_code(&srv, "127.0.0.77", "alice", "alice-pass").await,
        Some(421)
    );
    assert_eq!(
        login_code(&srv, "127.0.1.5", "alice", "alice-pass").await,
        Some(421)
    );
    let (ok, out) = admin(&srv, true, &["unlist", "127.0.0.77"], None).await;
    assert!(ok, "{out}");
    assert_eq!(
        login_code(&srv, "127.0.0.77", "alice", "alice-pass").await,
        Some(230)
    );

    // An allow list admits only what it names (and ends the others' sessions).
    let mut outside = srv
        .login_from(Some("127.0.0.90".parse().unwrap()), "alice", "alice-pass")
        .await;
    let (ok, out) = admin(&srv, true, &["allow", "127.0.0.1"], None).await;
    assert!(ok, "{out}");
    assert_eq!(bounded("ended", outside.read_reply()).await.code, 421);
    assert_eq!(
        login_code(&srv, "127.0.0.91", "alice", "alice-pass").await,
        Some(421)
    );
    assert_eq!(
        login_code(&srv, "127.0.0.1", "alice", "alice-pass").await,
        Some(230)
    );

    // A broken managed file stops the start with its name, not silently dropping a deny.
    drop(outside);
    let stopped = srv.stop().await;
    let file = stopped.config.data_dir().join("access.toml");
    std::fs::write(&file, "deny = [\"127.0.0.77\", 12]\n").unwrap();
    let err = ftpsd::Server::start(stopped.config.clone())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("access.toml"), "{err}");
}

#[tokio::test]
async fn the_api_takes_json_and_answers_errors_as_json() {
    let srv = server().await;
    let token = std::fs::read_to_string(srv.config.data_dir().join("admin.token")).unwrap();
    let curl = |method: &str, path: &str, body: Option<&str>| {
        let mut c = Command::new("curl");
        c.args(["-s", "-X", method, "-w", "\n%{http_code}", "-H"])
            .arg(format!("Authorization: Bearer {}", token.trim()))
            .args(["-H", "Content-Type: application/json"]);
        if let Some(b) = body {
            c.args(["--data", b]);
        }
        c.arg(format!("http://{}{path}", srv.server.admin.unwrap()));
        c
    };
    let call = |m: &'static str, p: &'static str, b: Option<&'static str>| {
        let c = curl(m, p, b);
        async move {
            let out = run(c).await;
            let s = String::from_utf8_lossy(&out.stdout).into_owned();
            let (body, code) = s.rsplit_once('\n').unwrap();
            (code.parse::<u16>().unwrap(), body.to_string())
        }
    };
    let (code, body) = call(
        "POST",
        "/api/users",
        Some(r#"{"name":"api","home":"homes/api","rights":"rw","password":"api-pass"}"#),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("user 'api' added"), "{body}");
    assert_eq!(
        login_code(&srv, "127.0.0.1", "api", "api-pass").await,
        Some(230)
    );
    let (code, body) = call("GET", "/api/users", None).await;
    assert_eq!(code, 200);
    assert!(
        body.contains("\"name\":\"api\"") && !body.contains("argon2"),
        "no hashes: {body}"
    );
    for (m, p, b, status) in [
        (
            "POST",
            "/api/users",
            Some(r#"{"name":"api","home":"x"}"#),
            409,
        ),
        ("POST", "/api/users", Some(r#"{"name":"x"}"#), 400),
        ("POST", "/api/users", Some("not json"), 400),
        (
            "PATCH",
            "/api/users/api",
            Some(r#"{"rights":"superuser"}"#),
            400,
        ),
        (
            "PATCH",
            "/api/users/nobody",
            Some(r#"{"disabled":true}"#),
            404,
        ),
        ("DELETE", "/api/users/nobody", None, 404),
        (
            "POST",
            "/api/access/deny",
            Some(r#"{"pattern":"999.1.1.1"}"#),
            400,
        ),
        (
            "POST",
            "/api/access/sideways",
            Some(r#"{"pattern":"1.1.1.1"}"#),
            404,
        ),
    ] {
        let (code, body) = call(m, p, b).await;
        assert_eq!(code, status, "{m} {p}: {body}");
        assert!(body.contains("\"error\""), "{m} {p}: {body}");
    }
    let (code, _) = call("DELETE", "/api/users/api", None).await;
    assert_eq!(code, 200);
}
