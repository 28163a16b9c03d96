//! The `exec` action: run an allow-listed program, no shell, cleared environment, a timeout
//! with TERM then KILL, output to the log. Refused (and logged) without the capability.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Loaded;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecRefused {
    #[error("plugin '{0}' has no exec capability")]
    NoCapability(String),
    #[error("plugin '{plugin}' may not run {program} (not on its exec allow-list)")]
    NotAllowed { plugin: String, program: String },
}

/// Checks the capability: the program (canonicalised) must be on the plugin's allow-list.
pub fn check(plugin: &Loaded, program: &str) -> Result<PathBuf, ExecRefused> {
    let allowed = &plugin.section.capabilities.exec;
    if allowed.is_empty() {
        return Err(ExecRefused::NoCapability(plugin.name.clone()));
    }
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let wanted = canon(Path::new(program));
    if Path::new(program).is_absolute() && allowed.iter().any(|a| canon(a) == wanted) {
        Ok(wanted)
    } else {
        Err(ExecRefused::NotAllowed {
            plugin: plugin.name.clone(),
            program: program.into(),
        })
    }
}

/// Runs the program and waits for it (bounded); returns the exit code if it exited.
pub async fn run(
    program: &Path,
    args: &[String],
    cwd: &Path,
    env: &[(&str, String)],
    timeout: Duration,
    plugin: &str,
) -> Option<i32> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    match tokio::time::timeout(timeout, cmd.output()).await {
        Ok(Ok(out)) => {
            for line in String::from_utf8_lossy(&out.stdout)
                .lines()
                .chain(String::from_utf8_lossy(&out.stderr).lines())
            {
                tracing::info!(plugin, program = %program.display(), "{line}");
            }
            tracing::info!(plugin, program = %program.display(), status = ?out.status.code(), "executed");
            out.status.code()
        }
        Ok(Err(e)) => {
            tracing::error!(plugin, program = %program.display(), error = %e, "cannot execute");
            None
        }
        Err(_) => {
            tracing::warn!(plugin, program = %program.display(), secs = timeout.as_secs(), "execution timed out; killed");
            None
        }
    }
}
