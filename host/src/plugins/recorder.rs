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
        use std::io::{BufRead, BufReader, Read};
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            format!("record: cannot {what} {}: {e}", path.display())
        };
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| fail("create the folder of", &e))?;
        }
        // Never through a symlink, never into a file that is not already an event record: a
        // typo must not make the server append JSON to /etc/passwd.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| fail("open", &e))?;
        let md = f.metadata().map_err(|e| fail("read", &e))?;
        if !md.is_file() {
            return Err(format!(
                "record: {} is not a regular file; name a new file",
                path.display()
            ));
        }
        // It holds user names, addresses and paths: owner-only, whatever it was.
        use std::os::unix::fs::PermissionsExt;
        if md.permissions().mode() & 0o077 != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| fail("set to 0600", &e))?;
        }
        if md.len() > 0 {
            let mut first = Vec::new();
            let _ = BufReader::new(&f)
                .take(1 << 20)
                .read_until(b'\n', &mut first);
            let is_event = serde_json::from_slice::<serde_json::Value>(&first)
                .ok()
                .is_some_and(|v| v.get("hook").is_some());
            if !is_event {
                return Err(format!(
                    "record: {} exists and is not an event record (ftpsd's JSON Lines); name a new file",
                    path.display()
                ));
            }
        }
        Ok(Recorder {
            path: path.to_path_buf(),
            max_bytes: max_mb.saturating_mul(1 << 20),
            file: Mutex::new(Some((f, md.len()))),
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

    #[test]
    fn only_an_event_record_or_a_new_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        let err = Recorder::open(&passwd, 1).err().unwrap();
        assert!(err.contains("not an event record"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&passwd).unwrap(),
            "root:x:0:0:root:/root:/bin/bash\n"
        );
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(dir.path().join("elsewhere.jsonl"), &link).unwrap();
        assert!(Recorder::open(&link, 1).is_err());
        assert!(!dir.path().join("elsewhere.jsonl").exists());
        assert!(Recorder::open(dir.path(), 1).is_err(), "a folder");
        // A missing folder is created; an existing record is appended to.
        let nested = dir.path().join("rec/today/x.jsonl");
        let r = Recorder::open(&nested, 1).unwrap();
        r.record(&Request::Upload(UploadEvent::default()));
        drop(r);
        assert!(Recorder::open(&nested, 1).is_ok());
    }
}
