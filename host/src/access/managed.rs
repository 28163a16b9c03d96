//! IP allow/deny lists changed while the server runs (admin API, `ftpsd admin allow|deny`, the
//! web page), kept in `<data_dir>/access.toml` (written atomically) and added to the config's
//! `[access]` lists: the config stays the operator's, the managed file is the console's.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{IpPattern, IpRules};

#[derive(Debug, thiserror::Error)]
pub enum AccessFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: {message} (fix or delete the file; it holds the lists managed with `ftpsd admin allow|deny`)"
    )]
    Syntax { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The most patterns the managed lists hold together: every connection is checked against
/// them, so they stay a list, not a database.
pub const MAX_PATTERNS: usize = 10_000;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("access.toml")
}

/// The managed lists; a missing file is empty lists.
pub fn load(path: &Path) -> Result<IpRules, AccessFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IpRules::default()),
        Err(source) => {
            return Err(AccessFileError::Read {
                path: path.into(),
                source,
            });
        }
    };
    toml::from_str(&text).map_err(|e| {
        let message = match e.span() {
            Some(span) => {
                let line = text[..span.start].lines().count().max(1);
                format!("line {line}: {}", e.message())
            }
            None => e.message().to_string(),
        };
        AccessFileError::Syntax {
            path: path.into(),
            message,
        }
    })
}

/// Writes atomically (temp file, fsync, rename).
pub fn save(path: &Path, rules: &IpRules) -> Result<(), AccessFileError> {
    let err = |source| AccessFileError::Write {
        path: path.into(),
        source,
    };
    let text = toml::to_string(rules).map_err(|e| err(std::io::Error::other(e)))?;
    let tmp = path.with_extension(format!("toml.{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(b"# IP lists managed with `ftpsd admin allow|deny|unlist` and the admin API; added to [access] in the config.\n")
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// The rules in force: the config's and the managed ones together (deny still wins).
pub fn combined(config: &IpRules, managed: &IpRules) -> IpRules {
    let mut out = config.clone();
    for p in &managed.allow {
        if !out.allow.contains(p) {
            out.allow.push(p.clone());
        }
    }
    for p in &managed.deny {
        if !out.deny.contains(p) {
            out.deny.push(p.clone());
        }
    }
    out
}

/// Which managed list a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum List {
    Allow,
    Deny,
}

/// Adds `pattern` to a list (no duplicates), or removes it from both with `list` = None.
/// Returns whether anything changed.
pub fn change(
    rules: &mut IpRules,
    list: Option<List>,
    pattern: &IpPattern,
) -> Result<bool, String> {
    match list {
        Some(l) => {
            if rules.allow.len() + rules.deny.len() >= MAX_PATTERNS {
                return Err(format!(
                    "the managed lists hold at most {MAX_PATTERNS} patterns"
                ));
            }
            let v = match l {
                List::Allow => &mut rules.allow,
                List::Deny => &mut rules.deny,
            };
            if v.contains(pattern) {
                return Ok(false);
            }
            v.push(pattern.clone());
            Ok(true)
        }
        None => {
            let before = rules.allow.len() + rules.deny.len();
            rules.allow.retain(|p| p != pattern);
            rules.deny.retain(|p| p != pattern);
            Ok(rules.allow.len() + rules.deny.len() != before)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpPattern {
        s.parse().unwrap()
    }

    #[test]
    fn managed_patterns_add_to_the_configs_and_deny_wins() {
        let config = IpRules {
            allow: vec![p("10.0.0.0/8")],
            deny: vec![],
        };
        let mut managed = IpRules::default();
        assert!(change(&mut managed, Some(List::Deny), &p("10.1.2.3")).unwrap());
        assert!(
            !change(&mut managed, Some(List::Deny), &p("10.1.2.3")).unwrap(),
            "no duplicates"
        );
        assert!(change(&mut managed, Some(List::Allow), &p("192.168.1.*")).unwrap());
        let r = combined(&config, &managed);
        assert!(r.admits("10.9.9.9".parse().unwrap()));
        assert!(!r.admits("10.1.2.3".parse().unwrap()));
        assert!(r.admits("192.168.1.7".parse().unwrap()));
        assert!(!r.admits("172.16.0.1".parse().unwrap()));
        assert!(change(&mut managed, None, &p("10.1.2.3")).unwrap());
        assert!(combined(&config, &managed).admits("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn the_file_round_trips_and_a_broken_one_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = path(dir.path());
        assert_eq!(load(&f).unwrap(), IpRules::default());
        let rules = IpRules {
            allow: vec![],
            deny: vec![p("127.0.0.9"), p("fd00::/8")],
        };
        save(&f, &rules).unwrap();
        assert_eq!(load(&f).unwrap(), rules);
        std::fs::write(&f, "deny = [\"127.0.0.1\",\n \"no-such-address\"]\n").unwrap();
        let e = load(&f).unwrap_err().to_string();
        assert!(e.contains("access.toml") && e.contains("line "), "{e}");
    }
}
