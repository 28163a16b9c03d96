//! Example alerting rule an operator would copy: every refused file operation (the file-blocked
//! notification, from plugins such as block-ext and from the host's own rules) is logged as a
//! warning and kept in the plugin's store — the last one under `last`, a running count under
//! `count` — where a dashboard or another tool can pick it up.
//!
//! ```toml
//! [[plugins]]
//! name = "blocked-alert"
//! path = "plugins/blocked_alert.wasm"
//! ```

use ftpsd_plugin_sdk::{FileBlockedEvent, Hook, Host, Plugin, export};

#[derive(Default)]
pub struct BlockedAlert;

impl Plugin for BlockedAlert {
    type Settings = ();
    const NAME: &'static str = "blocked-alert";
    const HOOKS: &'static [Hook] = &[Hook::FileBlocked];

    fn file_blocked(&mut self, ev: &FileBlockedEvent, host: &mut dyn Host) {
        host.log(
            "warn",
            &format!(
                "{} from {} refused {} {} ({}: {})",
                ev.user, ev.ip, ev.command, ev.path, ev.by, ev.reason
            ),
        );
        // A notification has no verdict to give: a store error is only worth a log line.
        let stored = host
            .kv_set("last", &serde_json::to_string(ev).unwrap_or_default(), None)
            .and_then(|()| host.kv_incr("count", 1, None));
        if let Err(e) = stored {
            host.log("error", &format!("could not record the refusal: {e}"));
        }
    }
}

export!(BlockedAlert);

#[cfg(test)]
mod tests {
    use ftpsd_plugin_sdk::Request;
    use ftpsd_plugin_sdk::testing::Harness;

    use super::*;

    #[test]
    fn records_and_logs_each_refusal() {
        let mut h = Harness::<BlockedAlert>::new(serde_json::Value::Null);
        let ev = FileBlockedEvent {
            ip: "10.0.0.1".into(),
            user: "bob".into(),
            path: "/a.mp3".into(),
            command: "STOR".into(),
            by: "block-ext".into(),
            reason: "blocked".into(),
            ..Default::default()
        };
        h.call(Request::FileBlocked(ev.clone()));
        h.call(Request::FileBlocked(ev.clone()));
        assert_eq!(h.host.kv_get("count").unwrap().as_deref(), Some("2"));
        let last: FileBlockedEvent =
            serde_json::from_str(&h.host.kv_get("last").unwrap().unwrap()).unwrap();
        assert_eq!(last, ev);
        assert_eq!(h.host.logs.len(), 2);
        assert!(
            h.host.logs[0]
                .1
                .contains("bob from 10.0.0.1 refused STOR /a.mp3 (block-ext: blocked)")
        );
    }
}
