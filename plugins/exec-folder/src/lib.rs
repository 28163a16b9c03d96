//! exec-folder — the execute folder. A file uploaded into `folder` (directly, not below) whose
//! name matches a command's glob makes the plugin return an execute action with that command's
//! argument vector (`{path}` = the file on disk, `{name}` = its name). The host runs it only if
//! the operator granted the `exec` capability with the program on the allow-list — no shell,
//! cleared environment plus UPLOAD_PATH/USER/SIZE/IP, working directory the folder, a timeout
//! with TERM then KILL, bounded concurrency, and an unprivileged user when the server is root.
//!
//! Never give strangers write access to an execute folder: whoever can upload there runs
//! programs on your server.
//!
//! ```toml
//! [[plugins]]
//! name = "exec-folder"
//! path = "plugins/exec_folder.wasm"
//! capabilities = { exec = ["/bin/sh"], exec_timeout_secs = 60 }
//! [plugins.settings]
//! folder = "/incoming/run"
//! commands = [{ glob = "*.sh", run = ["/bin/sh", "{path}"] }]
//! ```

use ftpsd_plugin_sdk::{Action, Hook, Host, Plugin, Response, UploadCompleteEvent, export};
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The execute folder, a virtual path.
    pub folder: String,
    /// Tried in order; the first glob matching the file name runs.
    pub commands: Vec<CommandSetting>,
    #[serde(default)]
    pub case_sensitive: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSetting {
    pub glob: String,
    /// Program (absolute path) and arguments; `{path}` and `{name}` are replaced.
    pub run: Vec<String>,
}

struct Command {
    glob: GlobMatcher,
    run: Vec<String>,
}

#[derive(Default)]
pub struct ExecFolder {
    folder: String,
    commands: Vec<Command>,
}

/// `/a/b/c.sh` → (`/a/b`, `c.sh`); the root's files have folder `/`.
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((dir, name)) => (dir, name),
        None => ("/", path),
    }
}

impl Plugin for ExecFolder {
    type Settings = Settings;
    const NAME: &'static str = "exec-folder";
    const CAPABILITIES: &'static [&'static str] = &["exec"];
    const HOOKS: &'static [Hook] = &[Hook::UploadComplete];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        if !s.folder.starts_with('/') {
            return Err(format!(
                "folder: '{}' must be a virtual path starting with /",
                s.folder
            ));
        }
        let folder = s.folder.trim_end_matches('/');
        self.folder = if folder.is_empty() {
            "/".into()
        } else {
            folder.into()
        };
        self.commands = Vec::new();
        for (i, c) in s.commands.iter().enumerate() {
            match c.run.first() {
                Some(p) if p.starts_with('/') => {}
                _ => {
                    return Err(format!(
                        "commands[{i}].run: the first element must be a program's absolute path"
                    ));
                }
            }
            let glob = GlobBuilder::new(&c.glob)
                .case_insensitive(!s.case_sensitive)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("commands[{i}].glob: {e}"))?;
            self.commands.push(Command {
                glob: glob.compile_matcher(),
                run: c.run.clone(),
            });
        }
        Ok(())
    }

    fn upload_complete(&mut self, ev: &UploadCompleteEvent, host: &mut dyn Host) -> Response {
        let (dir, name) = split(&ev.path);
        if !ev.ok || dir != self.folder {
            return Response::allow();
        }
        let Some(cmd) = self.commands.iter().find(|c| c.glob.is_match(name)) else {
            return Response::allow();
        };
        let expand = |a: &String| a.replace("{path}", &ev.real_path).replace("{name}", name);
        let real_dir = split(&ev.real_path).0.to_string();
        host.log(
            "info",
            &format!("{} uploaded {}: running {}", ev.user, ev.path, cmd.run[0]),
        );
        Response::allow().with_action(Action::Execute {
            program: cmd.run[0].clone(),
            args: cmd.run[1..].iter().map(expand).collect(),
            cwd: Some(real_dir),
        })
    }
}

export!(ExecFolder);

#[cfg(test)]
mod tests {
    use ftpsd_plugin_sdk::Request;
    use ftpsd_plugin_sdk::testing::Harness;
    use serde_json::json;

    use super::*;

    fn done(path: &str, ok: bool) -> Request {
        Request::UploadComplete(UploadCompleteEvent {
            ip: "10.0.0.1".into(),
            user: "bob".into(),
            path: path.into(),
            real_path: format!("/srv/ftp/bob{path}"),
            size: 10,
            ok,
            ..Default::default()
        })
    }

    fn h() -> Harness<ExecFolder> {
        Harness::new(json!({
            "folder": "/run/",
            "commands": [
                {"glob": "*.sh", "run": ["/bin/sh", "{path}"]},
                {"glob": "*", "run": ["/usr/bin/logger", "got {name}"]}
            ]
        }))
    }

    #[test]
    fn files_in_the_folder_run_the_first_matching_command() {
        let mut h = h();
        let r = h.call(done("/run/Job.SH", true));
        assert_eq!(
            r.actions,
            vec![Action::Execute {
                program: "/bin/sh".into(),
                args: vec!["/srv/ftp/bob/run/Job.SH".into()],
                cwd: Some("/srv/ftp/bob/run".into()),
            }]
        );
        let r = h.call(done("/run/data.csv", true));
        assert_eq!(
            r.actions,
            vec![Action::Execute {
                program: "/usr/bin/logger".into(),
                args: vec!["got data.csv".into()],
                cwd: Some("/srv/ftp/bob/run".into()),
            }]
        );
    }

    #[test]
    fn nothing_elsewhere_below_or_for_failed_uploads() {
        let mut h = h();
        assert!(h.call(done("/job.sh", true)).actions.is_empty());
        assert!(h.call(done("/run/sub/job.sh", true)).actions.is_empty());
        assert!(h.call(done("/running/job.sh", true)).actions.is_empty());
        assert!(h.call(done("/run/job.sh", false)).actions.is_empty());
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e = Harness::<ExecFolder>::configure_error(json!({"folder": "run", "commands": []}));
        assert!(e.starts_with("folder:"), "{e}");
        let e = Harness::<ExecFolder>::configure_error(
            json!({"folder": "/run", "commands": [{"glob": "*", "run": ["sh", "x"]}]}),
        );
        assert!(e.starts_with("commands[0].run"), "{e}");
        let e = Harness::<ExecFolder>::configure_error(json!({"commands": []}));
        assert!(e.contains("missing field `folder`"), "{e}");
    }
}
