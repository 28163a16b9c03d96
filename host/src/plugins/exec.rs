//! The `exec` action: run an allow-listed program, no shell, cleared environment, a timeout
//! with TERM then KILL (to the program's whole process group), output to the log, as an
//! unprivileged user when the server runs as root, a bounded number at a time with a bounded
//! queue. Refused (and logged) without the capability.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;

use super::Loaded;

/// `[exec]`: how the host runs programs that plugins ask for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecSection {
    /// Programs running at the same time; more wait in the queue.
    pub max_running: usize,
    /// Programs waiting; beyond this an execute action is dropped (and logged).
    pub max_queued: usize,
    /// When the server runs as root, programs run as this user (and its primary group).
    pub run_as: String,
    /// Seconds between TERM and KILL for a program over its timeout.
    pub kill_grace_secs: u64,
}

impl Default for ExecSection {
    fn default() -> Self {
        ExecSection {
            max_running: 2,
            max_queued: 64,
            run_as: "nobody".into(),
            kill_grace_secs: 5,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExecRefused {
    #[error("plugin '{0}' has no exec capability")]
    NoCapability(String),
    #[error("plugin '{plugin}' may not run {program} (not on its exec allow-list)")]
    NotAllowed { plugin: String, program: String },
    #[error("the exec queue is full ({0} waiting)")]
    QueueFull(usize),
    #[error("cannot run programs as '{user}': {reason}")]
    RunAs { user: String, reason: String },
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

/// One program to run.
#[derive(Debug, Clone)]
pub struct Job {
    pub plugin: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

/// How an execute action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Exited(Option<i32>),
    /// Over its timeout: TERM sent; `killed` if it needed KILL after the grace period.
    TimedOut {
        killed: bool,
    },
    Failed(String),
    Refused(ExecRefused),
    /// A file action (the `program` is `delete-file` or `quarantine-file`) was done: the file
    /// is gone, or now at this path.
    Taken {
        to: Option<String>,
    },
    /// A file action was refused or found nothing to do.
    NotTaken(String),
}

/// A finished (or refused) action, kept for the operator: an execute action, or a file action
/// (delete-file, quarantine-file).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub plugin: String,
    pub program: String,
    pub status: Status,
    pub at_ms: u64,
}

const HISTORY: usize = 100;

/// Runs execute actions: at most `max_running` at once, `max_queued` waiting.
pub struct Runner {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_queued: usize,
    grace: Duration,
    /// uid/gid to switch to (None: not root, run as ourselves); Err: cannot run anything.
    identity: Result<Option<(u32, u32)>, ExecRefused>,
    history: Mutex<VecDeque<Outcome>>,
}

impl Runner {
    pub fn new(section: &ExecSection) -> Runner {
        Runner {
            slots: Arc::new(Semaphore::new(section.max_running.max(1))),
            waiting: AtomicUsize::new(0),
            max_queued: section.max_queued,
            grace: Duration::from_secs(section.kill_grace_secs),
            identity: identity(&section.run_as),
            history: Mutex::new(VecDeque::new()),
        }
    }

    /// The last outcomes, oldest first.
    pub fn history(&self) -> Vec<Outcome> {
        self.history
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn record(&self, plugin: &str, program: &str, status: Status) {
        match &status {
            Status::Exited(Some(0)) | Status::Taken { .. } => {}
            Status::NotTaken(why) => {
                tracing::warn!(plugin, action = program, reason = %why, "file action not done")
            }
            Status::Refused(r) => {
                tracing::warn!(plugin, program, refused = %r, "execute action refused")
            }
            other => {
                tracing::warn!(plugin, program, status = ?other, "executed program did not succeed")
            }
        }
        if let Ok(mut h) = self.history.lock() {
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(Outcome {
                plugin: plugin.into(),
                program: program.into(),
                status,
                at_ms: crate::state::now_ms(),
            });
        }
    }

    /// Queues a job; it runs when a slot is free. A full queue refuses it (recorded).
    pub fn submit(self: &Arc<Self>, job: Job) {
        let program = job.program.display().to_string();
        let identity = match &self.identity {
            Ok(id) => *id,
            Err(e) => return self.record(&job.plugin, &program, Status::Refused(e.clone())),
        };
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        if waiting >= self.max_queued + self.slots.available_permits() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return self.record(
                &job.plugin,
                &program,
                Status::Refused(ExecRefused::QueueFull(waiting)),
            );
        }
        let me = self.clone();
        tokio::spawn(async move {
            let permit = me.slots.clone().acquire_owned().await;
            me.waiting.fetch_sub(1, Ordering::SeqCst);
            let status = run(&job, identity, me.grace).await;
            drop(permit);
            me.record(&job.plugin, &program, status);
        });
    }
}

/// Who programs run as: ourselves unless we are root, then `run_as` (never root itself unless
/// the operator names root explicitly).
fn identity(run_as: &str) -> Result<Option<(u32, u32)>, ExecRefused> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let refused = |reason: &str| ExecRefused::RunAs {
        user: run_as.into(),
        reason: reason.into(),
    };
    let name = std::ffi::CString::new(run_as).map_err(|_| refused("not a user name"))?;
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and buf outlives it; we copy out scalars only.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(refused("no such user (set [exec] run_as)"));
    }
    Ok(Some((pw.pw_uid, pw.pw_gid)))
}

/// Runs one program to its end or its timeout: TERM to its process group, then KILL after
/// the grace period.
async fn run(job: &Job, identity: Option<(u32, u32)>, grace: Duration) -> Status {
    let mut cmd = tokio::process::Command::new(&job.program);
    cmd.args(&job.args)
        .current_dir(&job.cwd)
        .env_clear()
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = identity {
        // std drops supplementary groups when root switches uid.
        cmd.uid(uid).gid(gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Status::Failed(format!("cannot start: {e}")),
    };
    let program = job.program.display().to_string();
    let mut logs = Vec::new();
    for (stream, name) in [
        (
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            "stdout",
        ),
        (
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            "stderr",
        ),
    ] {
        let Some(stream) = stream else { continue };
        let (plugin, program) = (job.plugin.clone(), program.clone());
        logs.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(plugin, program, stream = name, "{line}");
            }
        }));
    }
    let pgid = child.id().map(|p| p as i32);
    let status = match tokio::time::timeout(job.timeout, child.wait()).await {
        Ok(Ok(s)) => {
            tracing::info!(plugin = %job.plugin, program, status = ?s.code(), "executed");
            Status::Exited(s.code())
        }
        Ok(Err(e)) => Status::Failed(e.to_string()),
        Err(_) => {
            signal_group(pgid, libc::SIGTERM);
            let killed = tokio::time::timeout(grace, child.wait()).await.is_err();
            if killed {
                signal_group(pgid, libc::SIGKILL);
                let _ = child.wait().await;
            }
            tracing::warn!(plugin = %job.plugin, program, secs = job.timeout.as_secs(), killed, "execution timed out");
            Status::TimedOut { killed }
        }
    };
    for l in logs {
        let _ = tokio::time::timeout(Duration::from_secs(1), l).await;
    }
    status
}

fn signal_group(pgid: Option<i32>, sig: i32) {
    if let Some(p) = pgid.filter(|p| *p > 0) {
        // SAFETY: kill has no memory preconditions; a negative pid names the process group.
        unsafe { libc::kill(-p, sig) };
    }
}
