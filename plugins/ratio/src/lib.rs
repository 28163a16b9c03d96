//! ratio — upload/download ratios, by files, bytes or both. A user's ratio comes from the users
//! file (`ratio = "1:3"`: 3 units down per unit up) or the plugin-wide default; an initial
//! credit lets newcomers start; the REST offset of a resumed download is not counted; anonymous
//! users are exempt. The host keeps the counters (completed transfers only, persisted) and
//! sends them with each ratio-check. A refused RETR gets 550 saying how much to upload first;
//! `SITE RATIO` shows the standing.
//!
//! ```toml
//! [[plugins]]
//! name = "ratio"
//! path = "plugins/ratio.wasm"
//! settings = { mode = "both", default_ratio = "1:3", credit_files = 2, credit_bytes = 10485760 }
//! ```

pub mod math;

use ftpsd_plugin_sdk::human_bytes;
use ftpsd_plugin_sdk::{Counters, Hook, Host, Plugin, RatioCheckEvent, Response, export};
use math::{Ratio, Standing};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Files,
    #[default]
    Bytes,
    Both,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub mode: Mode,
    /// For users without a ratio of their own; none = such users are unrestricted.
    pub default_ratio: Option<String>,
    /// Files and bytes everyone may download before uploading anything.
    pub credit_files: u64,
    pub credit_bytes: u64,
}

#[derive(Default)]
pub struct RatioPlugin {
    mode: Mode,
    default: Option<Ratio>,
    credit_files: u64,
    credit_bytes: u64,
}

/// Why a download does not fit, for the 550 text.
struct Shortfall {
    what: String,
}

impl RatioPlugin {
    fn ratio_of(&self, ev: &RatioCheckEvent) -> Result<Option<Ratio>, String> {
        match ev.ratio.as_deref().map(str::trim) {
            Some("none" | "") => Ok(None),
            Some(r) => r.parse().map(Some),
            None => Ok(self.default),
        }
    }

    fn files(&self, r: Ratio, c: &Counters) -> Standing {
        Standing::new(r, c.files_up, c.files_down, self.credit_files)
    }

    fn bytes(&self, r: Ratio, c: &Counters) -> Standing {
        Standing::new(r, c.bytes_up, c.bytes_down, self.credit_bytes)
    }

    fn by_files(&self) -> bool {
        matches!(self.mode, Mode::Files | Mode::Both)
    }

    fn by_bytes(&self) -> bool {
        matches!(self.mode, Mode::Bytes | Mode::Both)
    }

    fn shortfalls(&self, r: Ratio, ev: &RatioCheckEvent) -> Vec<Shortfall> {
        let mut out = Vec::new();
        let never = |n: u128| n == u128::MAX;
        if self.by_files()
            && let Some(n) = self.files(r, &ev.counters).upload_needed(r, 1)
        {
            out.push(Shortfall {
                what: if never(n) {
                    "no downloads".into()
                } else {
                    format!("{n} more file(s)")
                },
            });
        }
        let want = ev.size.saturating_sub(ev.offset) as u128;
        if self.by_bytes()
            && let Some(n) = self.bytes(r, &ev.counters).upload_needed(r, want)
        {
            out.push(Shortfall {
                what: if never(n) {
                    "no downloads".into()
                } else {
                    human_bytes(n)
                },
            });
        }
        out
    }

    fn standing(&self, r: Ratio, c: &Counters) -> String {
        let mut parts = Vec::new();
        if self.by_files() {
            parts.push(format!("{} more file(s)", self.files(r, c).left()));
        }
        if self.by_bytes() {
            parts.push(human_bytes(self.bytes(r, c).left()));
        }
        format!(
            "Ratio {r} by {}: you may download {} before uploading more.",
            mode_name(self.mode),
            parts.join(" and ")
        )
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Files => "files",
        Mode::Bytes => "bytes",
        Mode::Both => "files and bytes",
    }
}

impl Plugin for RatioPlugin {
    type Settings = Settings;
    const NAME: &'static str = "ratio";
    const HOOKS: &'static [Hook] = &[Hook::RatioCheck];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        self.default = s
            .default_ratio
            .as_deref()
            .map(|r| r.parse().map_err(|e| format!("default_ratio: {e}")))
            .transpose()?;
        self.mode = s.mode;
        self.credit_files = s.credit_files;
        self.credit_bytes = s.credit_bytes;
        Ok(())
    }

    fn ratio_check(&mut self, ev: &RatioCheckEvent, host: &mut dyn Host) -> Response {
        if ev.anonymous {
            return Response::info("Anonymous users have no ratio.");
        }
        let r = match self.ratio_of(ev) {
            Ok(Some(r)) => r,
            Ok(None) => return Response::info("No ratio applies to you."),
            Err(e) => {
                // A typo in the users file must not lock the user out silently.
                host.log("warn", &format!("user {}: {e}; no ratio applied", ev.user));
                return Response::info("No ratio applies to you.");
            }
        };
        if ev.query {
            return Response::info(self.standing(r, &ev.counters));
        }
        let short = self.shortfalls(r, ev);
        if short.is_empty() {
            return Response::allow();
        }
        if short.iter().any(|s| s.what == "no downloads") {
            return Response::deny(550, format!("Your ratio {r} allows no downloads."));
        }
        let need: Vec<String> = short.into_iter().map(|s| s.what).collect();
        Response::deny(
            550,
            format!(
                "Ratio {r} ({}): upload {} first to download this file.",
                mode_name(self.mode),
                need.join(" and ")
            ),
        )
    }
}

export!(RatioPlugin);

#[cfg(test)]
mod tests;
