//! Example site rule an operator would copy: uploads (STOR, APPE, STOU, RNTO) are accepted only
//! during office hours; downloads are always allowed. Settings:
//!
//! ```toml
//! [[plugins]]
//! name = "office-hours"
//! path = "plugins/office_hours.wasm"
//! settings = { start_hour = 8, end_hour = 18, utc_offset_minutes = 60, weekdays_only = true }
//! ```

use ftpsd_plugin_sdk::{Hook, Host, Plugin, Response, UploadEvent, export};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// First hour (0-23, local time) when uploads are accepted.
    #[serde(default = "start")]
    pub start_hour: u32,
    /// Hour (1-24) from which uploads are refused again.
    #[serde(default = "end")]
    pub end_hour: u32,
    /// Local time = UTC + this many minutes.
    #[serde(default)]
    pub utc_offset_minutes: i64,
    /// Refuse uploads on Saturdays and Sundays.
    #[serde(default)]
    pub weekdays_only: bool,
}

fn start() -> u32 {
    8
}
fn end() -> u32 {
    18
}

#[derive(Default)]
pub struct OfficeHours {
    settings: Option<Settings>,
}

impl OfficeHours {
    /// Local hour (0-23) and weekday (0 = Monday) at `now_ms`.
    fn local(&self, s: &Settings, now_ms: u64) -> (u32, u32) {
        let minutes = (now_ms / 60_000) as i64 + s.utc_offset_minutes;
        let hour = (minutes.div_euclid(60)).rem_euclid(24) as u32;
        let days = minutes.div_euclid(24 * 60);
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let weekday = (days + 3).rem_euclid(7) as u32;
        (hour, weekday)
    }
}

impl Plugin for OfficeHours {
    type Settings = Settings;
    const NAME: &'static str = "office-hours";
    const HOOKS: &'static [Hook] = &[Hook::Upload];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        if s.start_hour > 23 {
            return Err(format!(
                "start_hour: {} is not an hour (0-23)",
                s.start_hour
            ));
        }
        if s.end_hour == 0 || s.end_hour > 24 || s.end_hour <= s.start_hour {
            return Err(format!(
                "end_hour: {} must be after start_hour ({}) and at most 24",
                s.end_hour, s.start_hour
            ));
        }
        if s.utc_offset_minutes.abs() > 14 * 60 {
            return Err("utc_offset_minutes: must be within ±840".into());
        }
        self.settings = Some(s);
        Ok(())
    }

    fn upload(&mut self, _ev: &UploadEvent, host: &mut dyn Host) -> Response {
        let Some(s) = self.settings.clone() else {
            return Response::deny(451, "office-hours is not configured.");
        };
        let (hour, weekday) = self.local(&s, host.now_ms());
        let open = hour >= s.start_hour && hour < s.end_hour && !(s.weekdays_only && weekday >= 5);
        if open {
            Response::allow()
        } else {
            let days = if s.weekdays_only {
                "Monday to Friday"
            } else {
                "daily"
            };
            Response::deny(
                550,
                format!(
                    "Uploads are accepted {days} from {:02}:00 to {:02}:00 only.",
                    s.start_hour, s.end_hour
                ),
            )
        }
    }
}

export!(OfficeHours);

#[cfg(test)]
mod tests {
    use super::*;
    use ftpsd_plugin_sdk::Request;
    use ftpsd_plugin_sdk::testing::Harness;
    use serde_json::json;

    fn upload() -> Request {
        Request::Upload(UploadEvent {
            ip: "10.0.0.1".into(),
            user: "bob".into(),
            path: "/a.txt".into(),
            command: "STOR".into(),
            groups: vec![],
            ..Default::default()
        })
    }

    const HOUR: u64 = 3_600_000;
    // 2024-01-01 was a Monday.
    const MONDAY_MIDNIGHT_UTC: u64 = 1_704_067_200_000;

    #[test]
    fn open_and_closed_hours() {
        let mut h = Harness::<OfficeHours>::new(json!({"start_hour": 8, "end_hour": 18}));
        h.host.now_ms = MONDAY_MIDNIGHT_UTC + 9 * HOUR;
        assert!(!h.call(upload()).is_deny());
        h.host.now_ms = MONDAY_MIDNIGHT_UTC + 18 * HOUR;
        let r = h.call(upload());
        assert!(r.is_deny());
        h.host.advance(14 * HOUR); // Tuesday 08:00
        assert!(!h.call(upload()).is_deny());
    }

    #[test]
    fn offset_and_weekends() {
        let mut h = Harness::<OfficeHours>::new(
            json!({"start_hour": 8, "end_hour": 18, "utc_offset_minutes": 120, "weekdays_only": true}),
        );
        h.host.now_ms = MONDAY_MIDNIGHT_UTC + 7 * HOUR; // 09:00 local
        assert!(!h.call(upload()).is_deny());
        h.host.now_ms = MONDAY_MIDNIGHT_UTC + 5 * 24 * HOUR + 10 * HOUR; // Saturday noon local
        assert!(h.call(upload()).is_deny());
    }

    #[test]
    fn bad_settings_name_the_key() {
        assert!(
            Harness::<OfficeHours>::configure_error(json!({"start_hour": 30}))
                .contains("start_hour")
        );
        assert!(
            Harness::<OfficeHours>::configure_error(json!({"start_hour": 9, "end_hour": 9}))
                .contains("end_hour")
        );
        assert!(
            Harness::<OfficeHours>::configure_error(json!({"start_hours": 9}))
                .contains("start_hours")
        );
    }
}
