//! The `ftpsd` binary: first start prints a curl command that works as printed; the CLI
//! subcommands edit real files; config errors name file and line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ftpsd_e2e::tools::{ftpsd_bin, run, text};

fn ftpsd(dir: &std::path::Path) -> Command {
    let mut c = Command::new(ftpsd_bin());
    c.current_dir(dir);
    c
}

#[tokio::test]
async fn first_start_prints_a_curl_command_that_works() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ftpsd.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n[implicit]\nlisten = \"127.0.0.1:0\"\n[passive]\nport_min = 45000\nport_max = 45999\n",
    )
    .unwrap();
    let mut child = ftpsd(dir.path())
        .args(["serve", "--config", "ftpsd.toml"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.trim_start().starts_with("curl ");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    let lines = ftpsd_e2e::bounded("welcome text", lines).await.unwrap();
    let all = lines.join("\n");
    assert!(
        all.contains("user:     admin") && all.contains("password: "),
        "{all}"
    );
    let curl_cmd = lines.last().unwrap().trim().to_string();
    std::fs::write(dir.path().join("ftpsd-data/files/readme.txt"), b"hi").unwrap();
    let out = run({
        let mut c = Command::new("sh");
        c.arg("-c").arg(&curl_cmd).current_dir(dir.path());
        c
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(out.status.success(), "{curl_cmd}\n{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("readme.txt"),
        "{}",
        text(&out)
    );
    // Second start: no new admin, no new certificate.
    let users = std::fs::read_to_string(dir.path().join("ftpsd-data/users.toml")).unwrap();
    assert_eq!(users.matches("[[user]]").count(), 1);
    assert!(
        !users.contains(
            lines
                .iter()
                .find(|l| l.contains("password: "))
                .unwrap()
                .split("password: ")
                .nth(1)
                .unwrap()
        )
    );
}

#[tokio::test]
async fn cert_generate_writes_a_usable_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args([
            "cert",
            "generate",
            "--cn",
            "ftp.example.test",
            "--country",
            "DE",
            "--org",
            "Example",
            "--email",
            "ops@example.test",
            "--key",
            "rsa2048",
            "--days",
            "30",
            "--out",
            "tls",
        ]);
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("SHA-256 fingerprint: "), "{stdout}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The server accepts the pair; a mismatched pair is a clear start-up error.
    let cfg = "[explicit]\nlisten = \"127.0.0.1:0\"\n[tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n";
    std::fs::write(dir.path().join("ok.toml"), cfg).unwrap();
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args(["check-config", "--config", "ok.toml"]);
        c
    })
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args(["cert", "generate", "--cn", "other", "--out", "other"]);
        c
    })
    .await;
    assert!(out.status.success());
    std::fs::write(
        dir.path().join("bad.toml"),
        cfg.replace("tls/key.pem", "other/key.pem"),
    )
    .unwrap();
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args(["serve", "--config", "bad.toml"]);
        c
    })
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not belong to the certificate"), "{err}");
    // Told as the config's error: file, line and key.
    assert!(err.contains("bad.toml:5: tls.key: "), "{err}");
    std::fs::write(
        dir.path().join("missing.toml"),
        cfg.replace("tls/cert.pem", "nowhere.pem"),
    )
    .unwrap();
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args(["check-config", "--config", "missing.toml"]);
        c
    })
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.toml:4: tls.cert: cannot read") && err.contains("nowhere.pem"),
        "{err}"
    );
    std::fs::write(dir.path().join("garbage.pem"), "not a pem").unwrap();
    std::fs::write(
        dir.path().join("bad2.toml"),
        cfg.replace("tls/cert.pem", "garbage.pem"),
    )
    .unwrap();
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args(["check-config", "--config", "bad2.toml"]);
        c
    })
    .await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("garbage.pem: no PEM certificate"),
        "{}",
        text(&out)
    );
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args([
            "cert",
            "generate",
            "--cn",
            "x",
            "--country",
            "Germany",
            "--out",
            "x",
        ]);
        c
    })
    .await;
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("two-letter"));
}

#[tokio::test]
async fn user_commands_edit_the_users_file_and_login_works() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = "[explicit]\nlisten = \"127.0.0.1:0\"\n";
    std::fs::write(dir.path().join("c.toml"), cfg).unwrap();
    let user = |args: &[&str], stdin: Option<&str>| {
        let mut c = ftpsd(dir.path());
        c.arg("user").args(args).args(["--config", "c.toml"]);
        let stdin = stdin.map(str::to_string);
        async move {
            match stdin {
                None => run(c).await,
                Some(s) => {
                    let mut child = c
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    use std::io::Write;
                    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
                    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
                        .await
                        .unwrap()
                }
            }
        }
    };
    let out = user(
        &[
            "add",
            "bob",
            "--home",
            "bob-home",
            "--rights",
            "rw",
            "--password-stdin",
        ],
        Some("bob secret\n"),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("ftpsd-data/bob-home").is_dir());
    let out = user(&["add", "bob", "--home", "x"], None).await;
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("already exists")
    );
    let out = user(&["add", "eve", "--home", "e", "--rights", "rwx"], None).await;
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("not one of r, w, rw, a"),
        "{}",
        text(&out)
    );
    // `ratio = "none"` (documented: exempt from a default ratio) is accepted and shown; a
    // malformed ratio is refused before it reaches the file.
    let out = user(&["add", "dave", "--home", "dave", "--ratio", "none"], None).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = user(&["show", "dave"], None).await;
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("none"),
        "{}",
        text(&out)
    );
    let out = user(&["add", "erin", "--home", "erin", "--ratio", "1-3"], None).await;
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("like 1:3"),
        "{}",
        text(&out)
    );
    // A home that cannot be a folder is refused before anything is written.
    let out = user(&["add", "zed", "--home", "/dev/zero"], None).await;
    assert!(
        !out.status.success() && text(&out).contains("not a folder"),
        "{}",
        text(&out)
    );
    let list = user(&["list"], None).await;
    assert!(!String::from_utf8_lossy(&list.stdout).contains("zed"));
    let out = user(&["add", "carol", "--home", "carol"], None).await;
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(printed.contains("password: "), "{printed}");
    let list = user(&["list"], None).await;
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        list.contains("bob") && list.contains("rw") && list.contains("carol"),
        "{list}"
    );
    let users = std::fs::read_to_string(dir.path().join("ftpsd-data/users.toml")).unwrap();
    assert!(!users.contains("bob secret") && users.contains("$argon2id$"));

    // The server accepts the password set on the command line.
    let config = ftpsd::Config::load(&dir.path().join("c.toml")).unwrap();
    ftpsd::bootstrap::prepare(&config).unwrap();
    let server = ftpsd::Server::start(config.clone()).await.unwrap();
    let (cert, _, _) = config.tls_paths();
    let mut c = ftpsd_e2e::FtpClient::connect_explicit(server.explicit.unwrap(), &cert).await;
    c.login("bob", "bob secret").await;
    let out = user(&["passwd", "bob", "--password-stdin"], Some("new pass\n")).await;
    assert!(out.status.success());
    let out = user(&["del", "carol"], None).await;
    assert!(out.status.success());
    let out = user(&["del", "carol"], None).await;
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no user 'carol'")
    );
}

#[tokio::test]
async fn check_config_loads_and_configures_every_plugin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("block_ext.wasm"),
        ftpsd_e2e::built_plugin("block_ext.wasm"),
    )
    .unwrap();
    let check = |plugin: &str| {
        let cfg = format!(
            "[explicit]\nlisten = \"127.0.0.1:0\"\n[[plugins]]\nname = \"block-ext\"\n{plugin}\n"
        );
        std::fs::write(dir.path().join("c.toml"), cfg).unwrap();
        let mut c = ftpsd(dir.path());
        c.args(["check-config", "--config", "c.toml"]);
        run(c)
    };
    let good = check("path = \"block_ext.wasm\"\nsettings = { patterns = [\"*.exe\"] }").await;
    assert!(good.status.success(), "{}", text(&good));
    assert!(
        String::from_utf8_lossy(&good.stdout).contains("plugin 'block-ext'"),
        "{}",
        text(&good)
    );
    // A name is a plain name: it becomes a file name (the last good copy) and state keys.
    std::fs::write(
        dir.path().join("c.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n[[plugins]]\nname = \"../../escape\"\npath = \"block_ext.wasm\"\n",
    )
    .unwrap();
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args(["check-config", "--config", "c.toml"]);
        c
    })
    .await;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success() && err.contains("c.toml:4") && err.contains("plugin name"),
        "{}",
        text(&out)
    );
    let missing = check("path = \"nowhere.wasm\"").await;
    let err = String::from_utf8_lossy(&missing.stderr).to_string();
    assert!(
        !missing.status.success() && err.contains("block-ext") && err.contains("nowhere.wasm"),
        "{}",
        text(&missing)
    );
    // A device or a FIFO is refused at once, never read without end or waited on.
    let fifo = dir.path().join("fifo.wasm");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    for path in ["/dev/zero", "fifo.wasm"] {
        let out = check(&format!("path = \"{path}\"")).await;
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            !out.status.success() && err.contains("not a regular file"),
            "{path}: {}",
            text(&out)
        );
    }
    let wrong = check("path = \"block_ext.wasm\"\nsettings = { patterns = 3 }").await;
    let err = String::from_utf8_lossy(&wrong.stderr).to_string();
    assert!(
        !wrong.status.success() && err.contains("block-ext") && err.contains("patterns"),
        "{}",
        text(&wrong)
    );
}

#[tokio::test]
async fn config_errors_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "[explicit]\nlisten = \"127.0.0.1:2121\"\n\n[passive]\nport_mn = 1\n",
    )
    .unwrap();
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args(["check-config", "--config", "typo.toml"]);
        c
    })
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.toml:5") && err.contains("port_mn"),
        "{err}"
    );
    let out = run({
        let mut c = ftpsd(dir.path());
        c.args(["serve", "--config", "missing.toml"]);
        c
    })
    .await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.toml"),
        "{}",
        text(&out)
    );
    let out = run({
        let mut c = ftpsd(dir.path());
        c.arg("--help");
        c
    })
    .await;
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "check-config", "cert", "user"] {
        assert!(help.contains(sub), "{help}");
    }
}

#[test]
fn shipped_examples_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cfg = root.join("examples/ftpsd.toml");
    let c = ftpsd::Config::load(&cfg).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.message.is_some() && !c.access.deny.is_empty());
    assert_eq!(c.plugins.len(), 4, "every bundled plugin is documented");
    let users = ftpsd::users::UsersFile::load(&root.join("examples/users.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let bob = users.find("bob").unwrap();
    assert_eq!(
        users.mounts_of(bob).unwrap().len(),
        5,
        "root, music, incoming, archive (S3), and the group's shared"
    );
    let archive = users
        .mounts_of(bob)
        .unwrap()
        .into_iter()
        .find(|m| m.name.as_deref() == Some("archive"))
        .unwrap();
    assert_eq!(archive.object.unwrap().prefix, "bob/");
}

/// `cargo xtask serve` runs examples/serve.toml: every bundled plugin must load from it.
#[tokio::test]
async fn xtask_serve_config_loads_every_bundled_plugin() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut config =
        ftpsd::Config::load(&root.join("examples/serve.toml")).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    config.server.data_dir = dir.path().to_path_buf();
    for l in [config.explicit.as_mut(), config.implicit.as_mut()] {
        l.unwrap().listen = "127.0.0.1:0".parse().unwrap();
    }
    ftpsd::bootstrap::prepare(&config).unwrap();
    let server = ftpsd::Server::start(config)
        .await
        .unwrap_or_else(|e| panic!("{e} (run `cargo xtask plugins`)"));
    let mut names: Vec<String> = server
        .ctx
        .plugins
        .list()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["bfp", "block-ext", "exec-folder", "ratio"]);
}

#[tokio::test]
async fn groups_are_managed_from_the_command_line_and_give_their_mounts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let ftpsd_in = |args: &[&str]| {
        let mut c = ftpsd(dir.path());
        c.args(args).args(["--config", "c.toml"]);
        run(c)
    };
    let ok = |out: &std::process::Output| {
        assert!(out.status.success(), "{}", text(out));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // A user cannot join a group that does not exist; the message says how to make one.
    let out = ftpsd_in(&["user", "add", "ann", "--home", "ann", "--group", "staff"]).await;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success() && err.contains("ftpsd group add staff"),
        "{}",
        text(&out)
    );
    // Mount names cannot carry line breaks or escapes into listings.
    let out = ftpsd_in(&["group", "add", "bad", "--mount", "x:/a\r\n226 x:r"]).await;
    assert!(
        !out.status.success() && text(&out).contains("control characters"),
        "{}",
        text(&out)
    );
    ok(&ftpsd_in(&["group", "add", "staff", "--mount", "shared:/shared:rw:50"]).await);
    assert!(dir.path().join("ftpsd-data/shared").is_dir());
    let out = ftpsd_in(&["group", "add", "staff"]).await;
    assert!(!out.status.success() && text(&out).contains("already exists"));
    ok(&ftpsd_in(&["user", "add", "ann", "--home", "ann", "--group", "staff"]).await);
    ok(&ftpsd_in(&["user", "add", "ben", "--home", "ben"]).await);
    ok(&ftpsd_in(&["group", "join", "staff", "ben"]).await);
    let shown = ok(&ftpsd_in(&["group", "show", "staff"]).await);
    assert!(
        shown.contains("ann, ben") && shown.contains("/shared") && shown.contains("50"),
        "{shown}"
    );
    let listed = ok(&ftpsd_in(&["group", "list"]).await);
    assert!(
        listed.contains("staff") && listed.contains("ann,ben"),
        "{listed}"
    );
    // Members see the group's folder with its rights.
    let config = ftpsd::Config::load(&dir.path().join("c.toml")).unwrap();
    let users = ftpsd::users::UsersFile::load(&config.users_file()).unwrap();
    let ben = users.find("ben").unwrap();
    let mounts = users.mounts_of(ben).unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m.name.as_deref() == Some("shared") && m.rights.as_str() == "rw"),
        "{mounts:?}"
    );
    // Deleting a group with members is refused unless told to take them out.
    let out = ftpsd_in(&["group", "del", "staff"]).await;
    assert!(
        !out.status.success() && text(&out).contains("has members"),
        "{}",
        text(&out)
    );
    let out = ok(&ftpsd_in(&["group", "leave", "staff", "ann", "ann"]).await);
    assert!(out.contains("ann left group 'staff'"), "{out}");
    let out = ok(&ftpsd_in(&["group", "leave", "staff", "ann"]).await);
    assert!(out.contains("ann not in group 'staff'"), "{out}");
    let out = ok(&ftpsd_in(&["group", "del", "staff", "--force"]).await);
    assert!(out.contains("taken out: ben"), "{out}");
    let users = ftpsd::users::UsersFile::load(&config.users_file()).unwrap();
    assert!(users.groups.is_empty() && users.users.iter().all(|u| u.groups.is_empty()));
    assert!(
        dir.path().join("ftpsd-data/shared").is_dir(),
        "folders kept"
    );
}

#[tokio::test]
async fn without_config_the_cli_finds_one_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    // No listener section: the embedded default's listeners.
    std::fs::write(
        dir.path().join("ftpsd.toml"),
        "[server]\nbanner = \"local\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("other.toml"), "[server\n").unwrap();
    let check = |env: Option<&str>| {
        let mut c = ftpsd(dir.path());
        c.arg("check-config").env_remove("FTPSD_CONFIG");
        if let Some(e) = env {
            c.env("FTPSD_CONFIG", e);
        }
        run(c)
    };
    let out = check(None).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("config ftpsd.toml (found in the current folder)"),
        "{}",
        text(&out)
    );
    // FTPSD_CONFIG comes first (this one is broken, so the error proves it was read).
    let out = check(Some("other.toml")).await;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success() && err.contains("from FTPSD_CONFIG") && err.contains("other.toml:1"),
        "{}",
        text(&out)
    );
    // Nothing found: the embedded default, said so.
    std::fs::remove_file(dir.path().join("ftpsd.toml")).unwrap();
    let out = check(None).await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("embedded default"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn user_mod_changes_groups_rights_quota_and_disables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let ftpsd_in = |args: &[&str]| {
        let mut c = ftpsd(dir.path());
        c.args(args).args(["--config", "c.toml"]);
        run(c)
    };
    let ok = |out: &std::process::Output| {
        assert!(out.status.success(), "{}", text(out));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let refused = |out: &std::process::Output, says: &str| {
        assert!(
            !out.status.success() && text(out).contains(says),
            "wanted a refusal saying {says:?}: {}",
            text(out)
        );
    };
    ok(&ftpsd_in(&[
        "group",
        "add",
        "staff",
        "--mount",
        "shared:/shared:rw",
        "--upload-kib-s",
        "4096",
    ])
    .await);
    let shown = ok(&ftpsd_in(&["group", "show", "staff"]).await);
    assert!(
        shown.contains("limits:  download unlimited, upload 4 MiB/s"),
        "{shown}"
    );
    let mut add = ftpsd(dir.path());
    add.args(["user", "add", "ann", "--home", "ann", "--password-stdin"])
        .args(["--config", "c.toml"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = add.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ann pass\n")
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    ok(&out);
    let users_path = dir.path().join("ftpsd-data/users.toml");
    let before = std::fs::read_to_string(&users_path).unwrap();

    // Bad input changes nothing and says what to do.
    refused(
        &ftpsd_in(&["user", "mod", "ann"]).await,
        "nothing to change",
    );
    refused(
        &ftpsd_in(&["user", "mod", "nobody", "--enable"]).await,
        "no user 'nobody'",
    );
    refused(
        &ftpsd_in(&["user", "mod", "ann", "--group", "ghosts"]).await,
        "ftpsd group add ghosts",
    );
    refused(
        &ftpsd_in(&["user", "mod", "ann", "--ratio", "3"]).await,
        "like 1:3",
    );
    refused(
        &ftpsd_in(&["user", "mod", "ann", "--no-group", "staff"]).await,
        "not in group",
    );
    refused(
        &ftpsd_in(&["user", "mod", "ann", "--rights", "rwx"]).await,
        "not one of",
    );
    refused(
        &ftpsd_in(&["user", "mod", "ann", "--download-kib-s", "fast"]).await,
        "KiB/s from 0 (none)",
    );
    refused(
        &ftpsd_in(&["user", "mod", "ann", "--upload-kib-s", "99999999999999"]).await,
        "KiB/s from 0 (none)",
    );
    assert_eq!(std::fs::read_to_string(&users_path).unwrap(), before);

    let said = ok(&ftpsd_in(&[
        "user",
        "mod",
        "ann",
        "--group",
        "staff",
        "--rights",
        "a",
        "--quota-mb",
        "5",
        "--max-sessions",
        "2",
        "--ratio",
        "1:2",
        "--download-kib-s",
        "1536",
    ])
    .await);
    assert!(
        said.contains("joined group staff") && said.contains("rights on / a"),
        "{said}"
    );
    let config = ftpsd::Config::load(&dir.path().join("c.toml")).unwrap();
    let users = ftpsd::users::UsersFile::load(&config.users_file()).unwrap();
    let ann = users.find("ann").unwrap();
    assert_eq!(
        (ann.max_sessions, ann.ratio.as_deref(), ann.download_kib_s),
        (2, Some("1:2"), 1536)
    );
    let shown = ok(&ftpsd_in(&["user", "show", "ann"]).await);
    assert!(
        shown.contains("bandwidth:    download 1.5 MiB/s, upload unlimited"),
        "{shown}"
    );
    assert!(
        shown.contains(
            "and group staff: download unlimited, upload 4 MiB/s (shared by its members)"
        ),
        "{shown}"
    );
    let mounts = users.mounts_of(ann).unwrap();
    let root = mounts.iter().find(|m| m.name.is_none()).unwrap();
    assert_eq!(
        (root.rights.as_str(), root.quota_bytes),
        ("a", Some(5 << 20))
    );
    assert!(mounts.iter().any(|m| m.name.as_deref() == Some("shared")));

    // On a running server: ann logs in and sees the group's folder; once disabled, her session
    // ends at the reload and a new login is refused; enabled again, she logs in.
    ftpsd::bootstrap::prepare(&config).unwrap();
    let server = ftpsd::Server::start(config.clone()).await.unwrap();
    let (cert, _, _) = config.tls_paths();
    let addr = server.explicit.unwrap();
    let mut c = ftpsd_e2e::FtpClient::connect_explicit(addr, &cert).await;
    c.login("ann", "ann pass").await;
    c.cmd_ok("CWD /shared", 250).await;
    ok(&ftpsd_in(&["user", "mod", "ann", "--disable"]).await);
    ftpsd::reconfigure::users(&server.ctx).await.unwrap();
    let mut d = ftpsd_e2e::FtpClient::connect_explicit(addr, &cert).await;
    d.cmd_ok("USER ann", 331).await;
    d.cmd_ok("PASS ann pass", 530).await;
    ok(&ftpsd_in(&["user", "mod", "ann", "--enable", "--no-group", "staff"]).await);
    ftpsd::reconfigure::users(&server.ctx).await.unwrap();
    let mut e = ftpsd_e2e::FtpClient::connect_explicit(addr, &cert).await;
    e.login("ann", "ann pass").await;
    e.cmd_ok("CWD /shared", 550).await;
}

#[tokio::test]
async fn concurrent_user_and_group_commands_each_keep_their_change() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[explicit]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let ftpsd_in = |args: Vec<String>| {
        let mut c = ftpsd(dir.path());
        c.args(args).args(["--config", "c.toml"]);
        run(c)
    };
    let args = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    for g in 0..10 {
        let out = ftpsd_in(args(&format!("group add g{g}"))).await;
        assert!(out.status.success(), "{}", text(&out));
    }
    for u in ["ann", "ben"] {
        let out = ftpsd_in(args(&format!("user add {u} --home {u}"))).await;
        assert!(out.status.success(), "{}", text(&out));
    }
    // Ten joins of ann, a disable of ben and five new users, all at once.
    let mut runs = Vec::new();
    for g in 0..10 {
        runs.push(tokio::spawn(ftpsd_in(args(&format!(
            "user mod ann --group g{g}"
        )))));
    }
    runs.push(tokio::spawn(ftpsd_in(args("user mod ben --disable"))));
    for n in 0..5 {
        runs.push(tokio::spawn(ftpsd_in(args(&format!(
            "user add new{n} --home new{n}"
        )))));
    }
    for r in runs {
        let out = ftpsd_e2e::bounded("concurrent command", r).await.unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let config = ftpsd::Config::load(&dir.path().join("c.toml")).unwrap();
    let users = ftpsd::users::UsersFile::load(&config.users_file()).unwrap();
    let ann = users.find("ann").unwrap();
    let mut groups = ann.groups.clone();
    groups.sort();
    assert_eq!(groups.len(), 10, "{groups:?}");
    assert!(users.find("ben").unwrap().disabled);
    for n in 0..5 {
        assert!(users.find(&format!("new{n}")).is_some(), "new{n} lost");
    }
}
