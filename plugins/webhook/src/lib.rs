//! Webhook: posts events as JSON to a URL, signed with HMAC-SHA256, through the host's queued
//! HTTP (the `http` capability): the session never waits for the receiver, and the host
//! retries a connection error, 429 or 5xx. Never refuses anything.
//!
//! ```toml
//! [[plugins]]
//! name = "webhook"
//! path = "webhook.wasm"
//! settings = { url = "https://hooks.example.com/ftp", secret = "…", events = ["upload-complete"] }
//! on_error = "allow"   # a webhook must never stand in the way of a login
//! capabilities = { http = { allowed_hosts = ["https://hooks.example.com/ftp"] } }
//! ```
//!
//! Body: `{"event":"upload-complete","time_ms":…,"data":{…the event…}}`. Headers:
//! `Content-Type: application/json`, `X-Ftpsd-Event: <event>`, and `X-Ftpsd-Signature:
//! sha256=<hex HMAC-SHA256 of the body with the secret>` so the receiver can check it came from
//! this server. Passwords are never in events.

use ftpsd_plugin_sdk::{
    FileBlockedEvent, Hook, Host, HttpRequest, LoginEvent, Plugin, Response, UploadCompleteEvent,
    UploadFailedEvent, export,
};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

const EVENTS: [&str; 4] = ["login", "upload-complete", "upload-failed", "file-blocked"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub url: String,
    /// Key of the signature; at least 16 characters.
    pub secret: String,
    /// Which of login, upload-complete, upload-failed, file-blocked to send (default: all).
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

#[derive(Default)]
pub struct Webhook {
    settings: Option<Settings>,
}

/// The HMAC-SHA256 of `body` under `secret`, hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    event: &'a str,
    time_ms: u64,
    data: &'a T,
}

impl Webhook {
    fn post<T: Serialize>(&self, event: &str, data: &T, host: &mut dyn Host) {
        let Some(s) = &self.settings else { return };
        if s.events
            .as_ref()
            .is_some_and(|e| !e.iter().any(|x| x == event))
        {
            return;
        }
        let body = serde_json::to_string(&Envelope {
            event,
            time_ms: host.now_ms(),
            data,
        })
        .unwrap_or_default();
        let req = HttpRequest {
            method: "POST".into(),
            url: s.url.clone(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Ftpsd-Event".into(), event.into()),
                (
                    "X-Ftpsd-Signature".into(),
                    format!("sha256={}", signature(&s.secret, body.as_bytes())),
                ),
            ],
            body: Some(body),
            wait: false,
        };
        if let Err(e) = host.http(&req) {
            host.log("warn", &format!("{event} not sent to {}: {e}", s.url));
        }
    }
}

impl Plugin for Webhook {
    type Settings = Settings;
    const NAME: &'static str = "webhook";
    const HOOKS: &'static [Hook] = &[
        Hook::Login,
        Hook::UploadComplete,
        Hook::UploadFailed,
        Hook::FileBlocked,
    ];
    const CAPABILITIES: &'static [&'static str] = &["http"];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
            return Err("url: an http:// or https:// URL".into());
        }
        if s.secret.len() < 16 {
            return Err("secret: at least 16 characters".into());
        }
        if let Some(bad) = s
            .events
            .iter()
            .flatten()
            .find(|e| !EVENTS.contains(&e.as_str()))
        {
            return Err(format!("events: unknown event {bad:?} (one of {EVENTS:?})"));
        }
        self.settings = Some(s);
        Ok(())
    }

    fn login(&mut self, ev: &LoginEvent, host: &mut dyn Host) -> Response {
        self.post("login", ev, host);
        Response::allow()
    }

    fn upload_complete(&mut self, ev: &UploadCompleteEvent, host: &mut dyn Host) -> Response {
        // The server's own filesystem path is for execute actions, not for the receiver.
        let ev = UploadCompleteEvent {
            real_path: String::new(),
            ..ev.clone()
        };
        self.post("upload-complete", &ev, host);
        Response::allow()
    }

    fn upload_failed(&mut self, ev: &UploadFailedEvent, host: &mut dyn Host) {
        self.post("upload-failed", ev, host);
    }

    fn file_blocked(&mut self, ev: &FileBlockedEvent, host: &mut dyn Host) {
        self.post("file-blocked", ev, host);
    }
}

export!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;
    use ftpsd_plugin_sdk::Request;
    use ftpsd_plugin_sdk::testing::Harness;
    use serde_json::json;

    fn harness(events: Option<&[&str]>) -> Harness<Webhook> {
        let mut s = json!({"url": "http://127.0.0.1:9/h", "secret": "0123456789abcdef"});
        if let Some(e) = events {
            s["events"] = json!(e);
        }
        Harness::new(s)
    }

    #[test]
    fn posts_signed_json_without_waiting_and_never_refuses() {
        let mut h = harness(None);
        let r = h.call(Request::Login(LoginEvent {
            ip: "192.0.2.1".into(),
            user: "bob".into(),
            success: false,
            ..Default::default()
        }));
        assert!(!r.is_deny());
        let sent = &h.host.http_sent[0];
        assert!(!sent.wait, "a notification never waits");
        let body = sent.body.as_deref().unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["event"], "login");
        assert_eq!(v["data"]["user"], "bob");
        let sig = sent
            .headers
            .iter()
            .find(|(k, _)| k == "X-Ftpsd-Signature")
            .unwrap();
        assert_eq!(
            sig.1,
            format!("sha256={}", signature("0123456789abcdef", body.as_bytes()))
        );
    }

    #[test]
    fn only_the_chosen_events_are_sent() {
        let mut h = harness(Some(&["upload-failed"]));
        h.call(Request::UploadComplete(UploadCompleteEvent::default()));
        assert!(h.host.http_sent.is_empty());
        h.call(Request::UploadFailed(UploadFailedEvent::default()));
        assert_eq!(h.host.http_sent.len(), 1);
    }

    #[test]
    fn the_hmac_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e = Harness::<Webhook>::configure_error(
            json!({"url": "ftp://x", "secret": "0123456789abcdef"}),
        );
        assert!(e.starts_with("url"), "{e}");
        let e = Harness::<Webhook>::configure_error(json!({"url": "http://x", "secret": "short"}));
        assert!(e.starts_with("secret"), "{e}");
        let e = Harness::<Webhook>::configure_error(
            json!({"url": "http://x", "secret": "0123456789abcdef", "events": ["logout"]}),
        );
        assert!(e.starts_with("events"), "{e}");
    }
}
