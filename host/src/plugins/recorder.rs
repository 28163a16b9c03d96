//! `record = "file.jsonl"` in a `[[plugins]]` entry: every event the plugin is sent, one JSON
//! request per line, in the form `ftpsd plugin run --event FILE` replays. Bounded: recording
//! stops at `record_max_mb` (logged once); a write error stops it too. The file is created
//! owner-only, and what a plugin is sent never holds a password (see [`redacted`]).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ftpsd_plugin_sdk::Request;

pub struct Recorder {
    path: PathBuf,
    max_bytes: u64,
    /// The open file and its size; None once recording stopped.
    file: Mutex<Option<(File, u64)>>,
}

impl Recorder {
    /// Opens (creates, appends to) the record file.
    pub fn open(path: &Path, max_mb: u64) -> Result<Recorder, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("record: cannot open {}: {e}", path.display()))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Recorder {
            path: path.to_path_buf(),
            max_bytes: max_mb.saturating_mul(1 << 20),
            file: Mutex::new(Some((f, size))),
        })
    }

    /// Appends one event (nothing after recording stopped).
    pub fn record(&self, req: &Request) {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let Some((f, size)) = guard.as_mut() else {
            return;
        };
        let mut line = match serde_json::to_vec(&redacted(req)) {
            Ok(l) => l,
            Err(_) => return,
        };
        line.push(b'\n');
        if *size + line.len() as u64 > self.max_bytes {
            tracing::warn!(file = %self.path.display(), max_bytes = self.max_bytes, "plugin event record full; recording stopped (raise record_max_mb or move the file away and reload)");
            *guard = None;
            return;
        }
        match f.write_all(&line) {
            Ok(()) => *size += line.len() as u64,
            Err(e) => {
                tracing::error!(file = %self.path.display(), error = %e, "cannot write the plugin event record; recording stopped");
                *guard = None;
            }
        }
    }
}

/// The request as it may be written down: no secret in it (an `authenticate` password is
/// replaced by `"(redacted)"`).
pub fn redacted(req: &Request) -> std::borrow::Cow<'_, Request> {
    match req {
        Request::Authenticate(ev) => {
            let mut ev = ev.clone();
            ev.password = "(redacted)".into();
            std::borrow::Cow::Owned(Request::Authenticate(ev))
        }
        _ => std::borrow::Cow::Borrowed(req),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftpsd_plugin_sdk::UploadEvent;

    #[test]
    fn records_requests_as_lines_until_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let r = Recorder::open(&path, 0).unwrap();
        r.record(&Request::Upload(UploadEvent::default()));
        assert_eq!(
            std::fs::read(&path).unwrap().len(),
            0,
            "a 0 MB cap records nothing"
        );
        let r = Recorder::open(&path, 1).unwrap();
        let ev = Request::Upload(UploadEvent {
            user: "u".into(),
            path: "/a".into(),
            ..Default::default()
        });
        r.record(&ev);
        r.record(&ev);
        let text = std::fs::read_to_string(&path).unwrap();
        let back: Vec<Request> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, [ev.clone(), ev]);
        let secret = Request::Authenticate(ftpsd_plugin_sdk::AuthenticateEvent {
            user: "u".into(),
            password: "hunter2".into(),
            ..Default::default()
        });
        r.record(&secret);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("hunter2") && text.contains("(redacted)"),
            "{text}"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
