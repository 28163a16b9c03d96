//! exec-folder, the real .wasm in the real server: an uploaded script in the execute folder runs
//! exactly once with the cleared environment plus UPLOAD_*, in the folder, as an unprivileged
//! user when the server is root; a script over its timeout gets TERM (then KILL if it ignores
//! it); a program off the allow-list is refused; uploads elsewhere run nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ftpsd::plugins::exec::Status;
use ftpsd_e2e::{TestServer, built_plugin, until};

fn open_up(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The uid programs run as: nobody's when the tests run as root.
fn expected_uid() -> u32 {
    let me = unsafe { libc::geteuid() };
    if me != 0 {
        return me;
    }
    let out = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

async fn server() -> (TestServer, tempfile::TempDir) {
    server_with(|_| {}).await
}

async fn server_with(
    tweak: impl FnOnce(&mut ftpsd::Config) + 'static,
) -> (TestServer, tempfile::TempDir) {
    let srv = TestServer::builder()
        .plugin(
            "exec-folder",
            built_plugin("exec_folder.wasm"),
            r#"capabilities = { exec = ["/bin/sh"], exec_timeout_secs = 1 }
settings = { folder = "/run", commands = [
  { glob = "*.sh", run = ["/bin/sh", "{path}"] },
  { glob = "*.py", run = ["/usr/bin/python3", "{path}"] },
] }"#,
        )
        .config(|c| c.exec.kill_grace_secs = 1)
        .config(tweak)
        .start()
        .await;
    // The program may run as nobody: the way to the folder must be open to it.
    let run = srv.home("alice").join("run");
    std::fs::create_dir_all(&run).unwrap();
    for p in [srv.dir.path().to_path_buf(), run] {
        open_up(&p, 0o755);
    }
    let out = tempfile::tempdir().unwrap();
    open_up(out.path(), 0o777);
    (srv, out)
}

fn history(srv: &TestServer) -> Vec<Status> {
    srv.server
        .ctx
        .exec
        .history()
        .into_iter()
        .map(|o| o.status)
        .collect()
}

#[tokio::test]
async fn an_uploaded_script_runs_once_with_the_upload_environment() {
    let (srv, out) = server().await;
    let result = out.path().join("result");
    let script = format!(
        "echo \"$(id -u) $(pwd) $(env | grep -v '^PWD=' | sort | tr '\\n' ' ')\" >> {}\n",
        result.display()
    );
    let mut c = srv.alice().await;
    c.stor("elsewhere.sh", script.as_bytes()).await;
    c.stor("run/job.sh", script.as_bytes()).await;
    until("the script ran", || !history(&srv).is_empty()).await;
    assert_eq!(history(&srv), [Status::Exited(Some(0))]);
    let real = srv.home("alice").join("run");
    let real = std::fs::canonicalize(real).unwrap();
    let line = std::fs::read_to_string(&result).unwrap();
    assert_eq!(
        line,
        format!(
            "{} {} UPLOAD_IP=127.0.0.1 UPLOAD_PATH={}/job.sh UPLOAD_SIZE={} UPLOAD_USER=alice \n",
            expected_uid(),
            real.display(),
            real.display(),
            script.len()
        ),
        "exactly one run, in the folder, with nothing but UPLOAD_* in the environment"
    );
}

#[tokio::test]
async fn over_time_scripts_get_term_then_kill_and_foreign_programs_are_refused() {
    let (srv, out) = server().await;
    let marker = out.path().join("term");
    let polite = format!(
        "trap 'echo term >> {}; exit 3' TERM\nsleep 30 &\nwait\n",
        marker.display()
    );
    let stubborn = "trap '' TERM\nsleep 30\n";
    let mut c = srv.alice().await;
    c.stor("run/polite.sh", polite.as_bytes()).await;
    c.stor("run/stubborn.sh", stubborn.as_bytes()).await;
    c.stor("run/tool.py", b"print('never')\n").await;
    until("three outcomes", || history(&srv).len() == 3).await;
    let h = history(&srv);
    assert!(
        h.contains(&Status::TimedOut { killed: false }),
        "the polite script ended on TERM: {h:?}"
    );
    assert!(
        h.contains(&Status::TimedOut { killed: true }),
        "the stubborn one needed KILL: {h:?}"
    );
    assert!(
        h.iter().any(|s| matches!(s, Status::Refused(ftpsd::plugins::exec::ExecRefused::NotAllowed { program, .. }) if program == "/usr/bin/python3")),
        "python3 is not on the allow-list: {h:?}"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "term\n");
}

#[tokio::test]
async fn programs_run_one_at_a_time_and_a_full_queue_drops_the_action() {
    let (srv, _out) = server_with(|c| {
        c.exec.max_running = 1;
        c.exec.max_queued = 1;
    })
    .await;
    let mut c = srv.alice().await;
    for name in ["a", "b", "c"] {
        c.stor(&format!("run/{name}.sh"), b"sleep 30\n").await;
    }
    until("three outcomes", || history(&srv).len() == 3).await;
    let h = srv.server.ctx.exec.history();
    let statuses: Vec<&Status> = h.iter().map(|o| &o.status).collect();
    assert!(
        matches!(
            statuses[0],
            Status::Refused(ftpsd::plugins::exec::ExecRefused::QueueFull(1))
        ),
        "one running, one waiting: the third is dropped at once: {statuses:?}"
    );
    assert_eq!(statuses[1..], [&Status::TimedOut { killed: false }; 2]);
    // One at a time: the second ended at least one timeout (1 s) after the first.
    assert!(h[2].at_ms - h[1].at_ms >= 900, "{h:?}");
}

#[tokio::test]
async fn with_a_relative_data_dir_programs_get_absolute_paths() {
    // The README's way: `ftpsd serve --config ftpsd.toml` with `data_dir = "data"`. The
    // program runs in the file's folder, so a relative `{path}` would name nothing.
    let dir = tempfile::tempdir().unwrap();
    open_up(dir.path(), 0o755);
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::write(
        dir.path().join("plugins/exec_folder.wasm"),
        built_plugin("exec_folder.wasm"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ftpsd.toml"),
        "[server]\ndata_dir = \"data\"\n[explicit]\nlisten = \"127.0.0.1:0\"\n\
         [[plugins]]\nname = \"exec-folder\"\npath = \"plugins/exec_folder.wasm\"\n\
         capabilities = { exec = [\"/bin/sh\"], exec_timeout_secs = 5 }\n\
         settings = { folder = \"/run\", commands = [{ glob = \"*.sh\", run = [\"/bin/sh\", \"{path}\"] }] }\n",
    )
    .unwrap();
    let loaded = ftpsd::Config::load(&dir.path().join("ftpsd.toml")).unwrap();
    let (user, pass, home) = ftpsd::bootstrap::prepare(&loaded)
        .unwrap()
        .created_admin
        .unwrap();
    let run = home.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let mut p = run.clone();
    while p != dir.path() {
        open_up(&p, 0o755);
        p = p.parent().unwrap().to_path_buf();
    }
    let out = tempfile::tempdir().unwrap();
    open_up(out.path(), 0o777);
    let result = out.path().join("result");
    let server = ftpsd_e2e::tools::spawn_server(dir.path()).await;
    let mut c =
        ftpsd_e2e::FtpClient::connect_explicit(server.ftp, &dir.path().join("data/tls/cert.pem"))
            .await;
    c.login(&user, &pass).await;
    c.protect().await;
    let script = format!("echo \"$0\" > {}\n", result.display());
    assert_eq!(
        c.upload("STOR run/job.sh", script.as_bytes()).await.code,
        226
    );
    until("the script ran", || result.exists()).await;
    let ran = std::fs::read_to_string(&result).unwrap();
    let expected = std::fs::canonicalize(&run).unwrap().join("job.sh");
    assert_eq!(ran.trim_end(), expected.display().to_string());
    server.stop().await;
}
