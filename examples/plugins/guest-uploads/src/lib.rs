//! Example site rule on events v2: members of the configured groups (guests) get
//! `uploads_per_hour` uploads per hour, each at most `max_upload_kib` KiB and at most
//! `max_rate_kib` KiB/s. The size limit is enforced by the server while the bytes flow: an
//! upload that passes it ends with 552 and nothing of it is kept, and this plugin hears of it
//! on `upload-failed` (the failed upload does not count against the hour).
//!
//! ```toml
//! [[plugins]]
//! name = "guest-uploads"
//! path = "guest_uploads.wasm"
//! [plugins.settings]
//! groups = ["guests"]
//! uploads_per_hour = 10
//! max_upload_kib = 10240
//! ```
//!
//! With `quarantine_extensions = ["exe", "scr"]` a guest's upload of such a file is moved by
//! the server into the quarantine folder the operator granted (`capabilities = { quarantine =
//! "/var/lib/ftpsd/quarantine" }`), and with `delete_empty = true` an empty guest upload is
//! deleted (`capabilities = { delete = true }`); either way the upload gives its slot back.
//!
//! State (see it with `ftpsd kv list --plugin guest-uploads`): `hour:<user>` counts the
//! uploads of the current hour; `last-upload` and `last-failure` keep the last event of each
//! kind as JSON, for the operator.

use ftpsd_plugin_sdk::{
    Action, Hook, Host, HostError, Plugin, Response, UploadCompleteEvent, UploadEvent,
    UploadFailedEvent, UploadLimits, export,
};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub groups: Vec<String>,
    pub uploads_per_hour: u64,
    #[serde(default)]
    pub max_upload_kib: Option<u64>,
    #[serde(default)]
    pub max_rate_kib: Option<u64>,
    /// Guest uploads with these extensions (case-insensitive, no dot) are quarantined.
    #[serde(default)]
    pub quarantine_extensions: Vec<String>,
    /// Empty guest uploads are deleted.
    #[serde(default)]
    pub delete_empty: bool,
}

#[derive(Default)]
pub struct GuestUploads {
    settings: Option<Settings>,
}

const HOUR_MS: u64 = 3_600_000;

impl GuestUploads {
    fn decide(&self, ev: &UploadEvent, host: &mut dyn Host) -> Result<Response, HostError> {
        host.kv_set(
            "last-upload",
            &serde_json::to_string(ev).unwrap_or_default(),
            None,
        )?;
        let Some(s) = &self.settings else {
            return Ok(Response::allow());
        };
        if !ev.groups.iter().any(|g| s.groups.contains(g)) {
            return Ok(Response::allow());
        }
        if ev.command == "RNTO" {
            // A rename is no upload (no slot), but renaming into a quarantined type would
            // get round the check at upload-complete.
            return Ok(match quarantined_ext(&ev.path, &s.quarantine_extensions) {
                Some(ext) => Response::deny(553, format!("Guests may not rename files to .{ext}.")),
                None => Response::allow(),
            });
        }
        // The counter lives in the host's store (every plugin instance sees it) and expires
        // an hour after the first upload of the hour.
        let key = format!("hour:{}", ev.user.to_ascii_lowercase());
        let n = if host.kv_cas(&key, None, Some("1"), Some(HOUR_MS))? {
            1
        } else {
            let n = host.kv_incr(&key, 1, None)?;
            if n == 1 {
                // The hour ended in between: this upload starts a new one.
                host.kv_cas(&key, Some("1"), Some("1"), Some(HOUR_MS))?;
            }
            n
        };
        if n as u64 > s.uploads_per_hour {
            host.kv_incr(&key, -1, None)?;
            // 450: transient, the next hour opens again.
            return Ok(Response::deny(
                450,
                format!(
                    "Guests may upload {} files per hour; try again later.",
                    s.uploads_per_hour
                ),
            ));
        }
        let too_big = ev
            .declared_size
            .zip(s.max_upload_kib)
            .is_some_and(|(size, kib)| size > kib.saturating_mul(1024));
        if too_big {
            host.kv_incr(&key, -1, None)?;
            return Ok(Response::deny(
                552,
                format!(
                    "Guest uploads are at most {} KiB.",
                    s.max_upload_kib.unwrap_or(0)
                ),
            ));
        }
        Ok(Response::allow_with_limits(UploadLimits {
            max_bytes: s.max_upload_kib.map(|k| k.saturating_mul(1024)),
            max_rate: s.max_rate_kib.map(|k| k.saturating_mul(1024)),
        }))
    }

    /// After a guest's upload: what the server should do with the file, if anything.
    fn review(&self, ev: &UploadCompleteEvent, host: &mut dyn Host) -> Response {
        let Some(s) = &self.settings else {
            return Response::allow();
        };
        if !ev.groups.iter().any(|g| s.groups.contains(g)) {
            return Response::allow();
        }
        let action = if quarantined_ext(&ev.path, &s.quarantine_extensions).is_some() {
            Action::QuarantineFile {
                reason: Some("guest upload of a blocked type".into()),
            }
        } else if s.delete_empty && ev.size == 0 && ev.offset == 0 {
            Action::DeleteFile {
                reason: Some("empty guest upload".into()),
            }
        } else {
            return Response::allow();
        };
        // The file goes: its slot of the hour comes back.
        let key = format!("hour:{}", ev.user.to_ascii_lowercase());
        if matches!(host.kv_get(&key), Ok(Some(_))) {
            let _ = host.kv_incr(&key, -1, None);
        }
        let _ = host.count("guest_files_taken_total", 1);
        Response::allow().with_action(action)
    }

    fn record_failure(&self, ev: &UploadFailedEvent, host: &mut dyn Host) -> Result<(), HostError> {
        // A failed upload gives its slot of the hour back — unless its bytes stayed (resumable
        // mode keeps a cut upload for REST).
        if !ev.partial_kept
            && let Some(s) = &self.settings
            && ev.groups.iter().any(|g| s.groups.contains(g))
        {
            let key = format!("hour:{}", ev.user.to_ascii_lowercase());
            if host.kv_get(&key)?.is_some() {
                host.kv_incr(&key, -1, None)?;
            }
        }
        host.kv_set(
            "last-failure",
            &serde_json::to_string(ev).unwrap_or_default(),
            None,
        )
    }
}

impl Plugin for GuestUploads {
    type Settings = Settings;
    const NAME: &'static str = "guest-uploads";
    const HOOKS: &'static [Hook] = &[Hook::Upload, Hook::UploadFailed, Hook::UploadComplete];
    const CAPABILITIES: &'static [&'static str] = &["quarantine", "delete"];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        if s.groups.is_empty() {
            return Err("groups: name at least one group".into());
        }
        if let Some(bad) = s
            .quarantine_extensions
            .iter()
            .find(|e| e.is_empty() || e.contains(['.', '/']))
        {
            return Err(format!(
                "quarantine_extensions: '{bad}' is not an extension (write \"exe\", no dot)"
            ));
        }
        if s.max_upload_kib == Some(0) || s.max_rate_kib == Some(0) {
            return Err("max_upload_kib and max_rate_kib: at least 1 (leave out for none)".into());
        }
        let mut s = s;
        for e in &mut s.quarantine_extensions {
            e.make_ascii_lowercase();
        }
        self.settings = Some(s);
        Ok(())
    }

    fn upload(&mut self, ev: &UploadEvent, host: &mut dyn Host) -> Response {
        let r = self.decide(ev, host).unwrap_or_else(Response::from);
        // On /metrics as ftpsd_plugin_guest_uploads_total{plugin="guest-uploads"} and
        // ftpsd_plugin_guest_refusals_total{...}; a metric that cannot be kept is no reason
        // to change the verdict.
        let metric = if r.is_deny() {
            "guest_refusals_total"
        } else {
            "guest_uploads_total"
        };
        let _ = host.count(metric, 1);
        r
    }

    fn upload_complete(&mut self, ev: &UploadCompleteEvent, host: &mut dyn Host) -> Response {
        self.review(ev, host)
    }

    fn upload_failed(&mut self, ev: &UploadFailedEvent, host: &mut dyn Host) {
        if let Err(e) = self.record_failure(ev, host) {
            host.log("error", &format!("could not record a failed upload: {e}"));
        }
        host.log(
            "info",
            &format!(
                "upload {} of {} by {} failed after {} bytes: {}",
                ev.transfer, ev.path, ev.user, ev.size, ev.reason
            ),
        );
    }
}

export!(GuestUploads);

/// The extension of `path` if it is one of `exts` (lower case). Trailing dots and spaces go
/// first (Windows drops them: "x.exe." opens as "x.exe").
fn quarantined_ext(path: &str, exts: &[String]) -> Option<String> {
    path.trim_end_matches(['.', ' '])
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| exts.contains(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftpsd_plugin_sdk::Request;
    use ftpsd_plugin_sdk::testing::Harness;
    use serde_json::json;

    fn upload(user: &str, groups: &[&str], declared: Option<u64>) -> Request {
        Request::Upload(UploadEvent {
            ip: "192.0.2.1".into(),
            user: user.into(),
            path: "/incoming/a.bin".into(),
            command: "STOR".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            declared_size: declared,
            ..Default::default()
        })
    }

    fn harness() -> Harness<GuestUploads> {
        Harness::new(json!({"groups": ["guests"], "uploads_per_hour": 2, "max_upload_kib": 64}))
    }

    #[test]
    fn guests_get_their_limit_and_k_uploads_per_hour() {
        let mut h = harness();
        for _ in 0..2 {
            let r = h.call(upload("Guest", &["guests"], None));
            assert!(!r.is_deny());
            assert_eq!(r.limits.max_bytes, Some(64 * 1024));
        }
        let r = h.call(upload("guest", &["guests"], None));
        assert!(r.is_deny(), "third of the hour");
        h.host.advance(HOUR_MS);
        assert!(
            !h.call(upload("guest", &["guests"], None)).is_deny(),
            "next hour"
        );
        let member = h.call(upload("alice", &["staff"], None));
        assert!(
            !member.is_deny() && member.limits.is_none(),
            "others: no limits"
        );
    }

    #[test]
    fn a_declared_size_over_the_limit_is_refused_at_the_gate() {
        let mut h = harness();
        let r = h.call(upload("guest", &["guests"], Some(65 * 1024)));
        assert!(r.is_deny());
        assert_eq!(h.host.kv_get("hour:guest").unwrap().as_deref(), Some("0"));
    }

    #[test]
    fn a_failed_upload_gives_its_slot_back() {
        let mut h = harness();
        h.call(upload("guest", &["guests"], None));
        h.call(Request::UploadFailed(UploadFailedEvent {
            user: "guest".into(),
            groups: vec!["guests".into()],
            code: 552,
            ..Default::default()
        }));
        assert_eq!(h.host.kv_get("hour:guest").unwrap().as_deref(), Some("0"));
        assert!(h.host.kv_get("last-failure").unwrap().is_some());
    }

    fn complete(name: &str, size: u64, groups: &[&str]) -> Request {
        Request::UploadComplete(UploadCompleteEvent {
            user: "guest".into(),
            path: format!("/{name}"),
            size,
            ok: true,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        })
    }

    #[test]
    fn blocked_types_are_quarantined_and_empty_files_deleted_for_guests_only() {
        let mut h = Harness::<GuestUploads>::new(json!({"groups": ["guests"],
            "uploads_per_hour": 2, "quarantine_extensions": ["EXE"], "delete_empty": true}));
        h.call(upload("guest", &["guests"], None));
        let r = h.call(complete("Setup.Exe", 10, &["guests"]));
        assert!(
            matches!(r.actions[..], [Action::QuarantineFile { .. }]),
            "{r:?}"
        );
        assert_eq!(h.host.kv_get("hour:guest").unwrap().as_deref(), Some("0"));
        for sly in ["tool.exe.", "tool.EXE ", "tool.exe. ."] {
            let r = h.call(complete(sly, 10, &["guests"]));
            assert!(
                matches!(r.actions[..], [Action::QuarantineFile { .. }]),
                "{sly}: {r:?}"
            );
        }
        let r = h.call(complete("empty.txt", 0, &["guests"]));
        assert!(
            matches!(r.actions[..], [Action::DeleteFile { .. }]),
            "{r:?}"
        );
        assert!(h.call(complete("a.txt", 3, &["guests"])).actions.is_empty());
        assert!(h.call(complete("a.exe", 3, &["staff"])).actions.is_empty());
        let e = Harness::<GuestUploads>::configure_error(json!({"groups": ["g"],
            "uploads_per_hour": 1, "quarantine_extensions": [".exe"]}));
        assert!(e.contains("quarantine_extensions"), "{e}");
    }

    #[test]
    fn a_store_error_refuses() {
        let mut h = harness();
        h.host.fail_store = Some("down".into());
        assert!(h.call(upload("guest", &["guests"], None)).is_deny());
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e =
            Harness::<GuestUploads>::configure_error(json!({"groups": [], "uploads_per_hour": 1}));
        assert!(e.contains("groups"), "{e}");
        let e = Harness::<GuestUploads>::configure_error(json!({"groups": ["g"]}));
        assert!(e.contains("uploads_per_hour"), "{e}");
    }
}
