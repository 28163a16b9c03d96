//! block-ext — blocked file types. Glob patterns (case-insensitive unless `case_sensitive`),
//! globally and per user, group or folder, refuse STOR, APPE, STOU and RNTO into a matching
//! name with 553 naming the rule. The host asks before any byte is written, and announces the
//! refusal on the file-blocked hook.
//!
//! A pattern without `/` matches the file name (`*.mp3`, `.htaccess`); with `/` it matches the
//! whole virtual path (`/public/**/*.php`). Folder rules apply in the folder and below.
//!
//! ```toml
//! [[plugins]]
//! name = "block-ext"
//! path = "plugins/block_ext.wasm"
//! [plugins.settings]
//! patterns = ["*.mp3", "*.exe", ".htaccess"]
//! users = { bob = ["*.iso"] }
//! groups = { students = ["*.zip"] }
//! folders = { "/incoming" = ["*.php"] }
//! ```

use std::collections::BTreeMap;

use ftpsd_plugin_sdk::{Hook, Host, Plugin, Response, UploadEvent, export};
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Refused for everyone, everywhere.
    pub patterns: Vec<String>,
    /// Per user name (case-insensitive).
    pub users: BTreeMap<String, Vec<String>>,
    /// Per group of the users file.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Per virtual folder, applying in it and below.
    pub folders: BTreeMap<String, Vec<String>>,
    pub case_sensitive: bool,
}

/// Where a rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Global,
    User(String),
    Group(String),
    Folder(String),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Global => write!(f, "global"),
            Scope::User(u) => write!(f, "user {u}"),
            Scope::Group(g) => write!(f, "group {g}"),
            Scope::Folder(d) => write!(f, "folder {d}"),
        }
    }
}

pub struct Rule {
    pub pattern: String,
    pub scope: Scope,
    whole_path: bool,
    glob: GlobMatcher,
}

impl Rule {
    fn applies(&self, ev: &UploadEvent) -> bool {
        match &self.scope {
            Scope::Global => true,
            Scope::User(u) => ev.user.eq_ignore_ascii_case(u),
            Scope::Group(g) => ev.groups.iter().any(|x| x == g),
            Scope::Folder(d) => {
                d == "/"
                    || ev
                        .path
                        .strip_prefix(d.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            }
        }
    }

    fn matches(&self, path: &str) -> bool {
        if self.whole_path {
            self.glob.is_match(path)
        } else {
            self.glob.is_match(path.rsplit('/').next().unwrap_or(path))
        }
    }
}

#[derive(Default)]
pub struct BlockExt {
    rules: Vec<Rule>,
}

impl BlockExt {
    /// The first rule that refuses this upload.
    pub fn blocking_rule(&self, ev: &UploadEvent) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.applies(ev) && r.matches(&ev.path))
    }
}

fn compile(key: &str, pattern: &str, scope: Scope, case_sensitive: bool) -> Result<Rule, String> {
    let glob = GlobBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("{key}: '{pattern}': {e}"))?;
    Ok(Rule {
        pattern: pattern.into(),
        scope,
        whole_path: pattern.contains('/'),
        glob: glob.compile_matcher(),
    })
}

impl Plugin for BlockExt {
    type Settings = Settings;
    const NAME: &'static str = "block-ext";
    const HOOKS: &'static [Hook] = &[Hook::Upload];

    fn configure(&mut self, s: Settings) -> Result<(), String> {
        let cs = s.case_sensitive;
        let mut rules = Vec::new();
        for p in &s.patterns {
            rules.push(compile("patterns", p, Scope::Global, cs)?);
        }
        for (user, ps) in &s.users {
            for p in ps {
                rules.push(compile(
                    &format!("users.{user}"),
                    p,
                    Scope::User(user.clone()),
                    cs,
                )?);
            }
        }
        for (group, ps) in &s.groups {
            for p in ps {
                rules.push(compile(
                    &format!("groups.{group}"),
                    p,
                    Scope::Group(group.clone()),
                    cs,
                )?);
            }
        }
        for (folder, ps) in &s.folders {
            if !folder.starts_with('/') {
                return Err(format!(
                    "folders.{folder}: a folder is a virtual path starting with /"
                ));
            }
            let dir = folder.trim_end_matches('/');
            let dir = if dir.is_empty() { "/" } else { dir };
            for p in ps {
                rules.push(compile(
                    &format!("folders.{folder}"),
                    p,
                    Scope::Folder(dir.into()),
                    cs,
                )?);
            }
        }
        self.rules = rules;
        Ok(())
    }

    fn upload(&mut self, ev: &UploadEvent, host: &mut dyn Host) -> Response {
        match self.blocking_rule(ev) {
            None => Response::allow(),
            Some(rule) => {
                let name = ev.path.rsplit('/').next().unwrap_or(&ev.path);
                host.log(
                    "info",
                    &format!(
                        "{} {} by {}: blocked by '{}' ({})",
                        ev.command, ev.path, ev.user, rule.pattern, rule.scope
                    ),
                );
                Response::deny(
                    553,
                    format!(
                        "'{name}' is a blocked file type here (rule '{}', {}).",
                        rule.pattern, rule.scope
                    ),
                )
            }
        }
    }
}

export!(BlockExt);

#[cfg(test)]
mod tests {
    use ftpsd_plugin_sdk::Request;
    use ftpsd_plugin_sdk::testing::Harness;
    use serde_json::json;

    use super::*;

    fn up(user: &str, groups: &[&str], path: &str, command: &str) -> Request {
        Request::Upload(UploadEvent {
            ip: "10.0.0.1".into(),
            user: user.into(),
            path: path.into(),
            command: command.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        })
    }

    fn settings() -> serde_json::Value {
        json!({
            "patterns": ["*.mp3", ".htaccess"],
            "users": {"bob": ["*.iso"]},
            "groups": {"students": ["*.zip"]},
            "folders": {"/incoming/": ["*.php"], "/www": ["/www/**/secret/*"]}
        })
    }

    #[test]
    fn global_patterns_any_case_any_verb() {
        let mut h = Harness::<BlockExt>::new(settings());
        for cmd in ["STOR", "APPE", "STOU", "RNTO"] {
            let r = h.call(up("alice", &[], "/music/Song.MP3", cmd));
            assert_eq!(
                r,
                Response::deny(
                    553,
                    "'Song.MP3' is a blocked file type here (rule '*.mp3', global)."
                )
            );
        }
        assert!(h.call(up("alice", &[], "/a/.htaccess", "STOR")).is_deny());
        assert!(!h.call(up("alice", &[], "/a/x.htaccess", "STOR")).is_deny());
        assert!(!h.call(up("alice", &[], "/mp3/notes.txt", "STOR")).is_deny());
        assert!(!h.call(up("alice", &[], "/song.mp3.txt", "STOR")).is_deny());
    }

    #[test]
    fn user_group_and_folder_rules_apply_only_there() {
        let mut h = Harness::<BlockExt>::new(settings());
        assert!(h.call(up("BOB", &[], "/x.iso", "STOR")).is_deny());
        assert!(!h.call(up("alice", &[], "/x.iso", "STOR")).is_deny());
        assert!(
            h.call(up("carol", &["students"], "/x.zip", "STOR"))
                .is_deny()
        );
        assert!(!h.call(up("carol", &["staff"], "/x.zip", "STOR")).is_deny());
        assert!(
            h.call(up("alice", &[], "/incoming/sub/a.php", "STOR"))
                .is_deny()
        );
        assert!(
            !h.call(up("alice", &[], "/incomingx/a.php", "STOR"))
                .is_deny()
        );
        assert!(!h.call(up("alice", &[], "/a.php", "STOR")).is_deny());
        assert!(
            h.call(up("alice", &[], "/www/a/b/secret/k", "STOR"))
                .is_deny()
        );
        assert!(
            !h.call(up("alice", &[], "/www/a/b/public/k", "STOR"))
                .is_deny()
        );
    }

    #[test]
    fn case_sensitive_when_asked() {
        let mut h =
            Harness::<BlockExt>::new(json!({"patterns": ["*.mp3"], "case_sensitive": true}));
        assert!(!h.call(up("a", &[], "/A.MP3", "STOR")).is_deny());
        assert!(h.call(up("a", &[], "/a.mp3", "STOR")).is_deny());
    }

    #[test]
    fn bad_patterns_name_the_key() {
        let e = Harness::<BlockExt>::configure_error(json!({"users": {"bob": ["[a"]}}));
        assert!(e.starts_with("users.bob: '[a'"), "{e}");
        let e = Harness::<BlockExt>::configure_error(json!({"folders": {"incoming": ["*"]}}));
        assert!(e.starts_with("folders.incoming"), "{e}");
        let e = Harness::<BlockExt>::configure_error(json!({"pattern": ["*"]}));
        assert!(e.contains("unknown field `pattern`"), "{e}");
    }
}
