//! `[[plugins]]` entries of the server config; order = call order.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    pub name: String,
    /// The .wasm file; relative to the config file's directory.
    pub path: PathBuf,
    /// Passed to the plugin's `configure`; a bad setting is a load error naming the key.
    #[serde(default)]
    pub settings: toml::Table,
    #[serde(default)]
    pub capabilities: Capabilities,
    /// What a failed call means for a gate: `deny` (fail closed, default) or `allow`.
    #[serde(default)]
    pub on_error: FailurePolicy,
    /// CPU time a call may use (the guest and the host work it asks for); a wall-clock cap of
    /// 20x this (at least 1 s) bounds it on a saturated machine.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
    /// This many faults caused by one client (its address, or its user once logged in) within
    /// `fault_window_secs` quarantine that client for this plugin (see `plugins::faults`).
    #[serde(default = "default_faults")]
    pub max_faults: u32,
    #[serde(default = "default_window")]
    pub fault_window_secs: u64,
    /// Bytes of keys and values the plugin may keep in the state store, in KiB.
    #[serde(default = "default_state_quota")]
    pub state_quota_kb: u64,
    /// Appends every event this plugin is sent to this JSON Lines file (relative to the config
    /// file's folder), for `ftpsd plugin run` to replay. Passwords are never written.
    #[serde(default)]
    pub record: Option<PathBuf>,
    /// Recording stops (logged once) when the file reaches this size.
    #[serde(default = "default_record_mb")]
    pub record_max_mb: u64,
}

/// Deny-by-default capabilities granted by the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Programs the plugin may ask the host to execute (absolute paths). Empty: no `exec`.
    #[serde(default)]
    pub exec: Vec<PathBuf>,
    /// Seconds an executed program may run before TERM, then KILL.
    #[serde(default = "default_exec_timeout")]
    pub exec_timeout_secs: u64,
    /// HTTP requests to granted URL prefixes (none without it).
    #[serde(default)]
    pub http: Option<super::http::HttpGrant>,
    /// `delete-file` actions: the host deletes the file an upload-complete event names.
    #[serde(default)]
    pub delete: bool,
    /// `quarantine-file` actions: the folder (absolute, outside every user's mounts) the host
    /// moves such files into. None: no quarantine.
    #[serde(default)]
    pub quarantine: Option<PathBuf>,
    /// The `authenticate` hook: the plugin may log in users, with folders inside `roots`.
    #[serde(default)]
    pub auth: Option<AuthGrant>,
}

/// `capabilities.auth`: what an `authenticate` plugin may vouch for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthGrant {
    /// Absolute folders; every home and mount of an account the plugin returns must lie
    /// inside one of them (checked after following symlinks).
    pub roots: Vec<PathBuf>,
    /// Which logins the plugin is asked about.
    #[serde(default)]
    pub users: AuthUsers,
    /// Create a home or mount folder that does not exist yet (inside a root, mode 0750).
    #[serde(default = "yes")]
    pub create_folders: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthUsers {
    /// Only users the users file does not have (the default): the file stays authoritative
    /// for its own users, anonymous included.
    #[default]
    Unknown,
    /// Every user but anonymous, before the users file; a plugin without an answer (an allow
    /// without an account) leaves the login to the file.
    All,
}

impl AuthGrant {
    /// The config check: roots absolute, existing folders.
    pub fn check(&self) -> Result<(), String> {
        if self.roots.is_empty() {
            return Err("capabilities.auth.roots: name at least one folder".into());
        }
        for r in &self.roots {
            if !r.is_absolute() || !r.is_dir() {
                return Err(format!(
                    "capabilities.auth.roots: {} must be an existing folder, given as an absolute path",
                    r.display()
                ));
            }
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    #[default]
    Deny,
    Allow,
}

fn default_timeout() -> u64 {
    50
}
fn default_memory() -> u64 {
    32
}
fn default_faults() -> u32 {
    5
}
fn default_window() -> u64 {
    60
}
fn default_state_quota() -> u64 {
    4096
}
fn default_record_mb() -> u64 {
    64
}
fn default_exec_timeout() -> u64 {
    30
}

impl PluginSection {
    /// This section with its relative paths (the module, the record file) made absolute
    /// against the config file's folder.
    pub fn with_base(&self, base: &std::path::Path) -> PluginSection {
        let mut s = self.clone();
        if s.path.is_relative() {
            s.path = base.join(&s.path);
        }
        if let Some(r) = s.record.as_mut().filter(|r| r.is_relative()) {
            *r = base.join(&*r);
        }
        s
    }

    pub fn settings_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).unwrap_or(serde_json::Value::Null)
    }
}

/// Plugin names appear in logs, metrics, state keys and file names (the last good copy):
/// 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "plugin name '{}' must be 1 to 64 of A-Z a-z 0-9 . _ - and start with a letter or digit",
            name.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn plugin_names_are_plain() {
        for good in ["bfp", "block-ext", "ratio_2", "a.b", "X"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../x",
            "/etc/x",
            ".hidden",
            "a b",
            "a/b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
