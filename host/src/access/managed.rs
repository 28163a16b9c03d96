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

impl List {
    pub fn as_str(self) -> &'static str {
        match self {
            List::Allow => "allow",
            List::Deny => "deny",
        }
    }
}

impl std::str::FromStr for List {
    type Err = String;
    fn from_str(s: &str) -> Result<List, String> {
        match s {
            "allow" => Ok(List::Allow),
            "deny" => Ok(List::Deny),
            _ => Err(format!("'{s}' is not allow or deny")),
        }
    }
}

/// One change to the managed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Onto this list, and off the other one: a pattern is in at most one list.
    Add(List),
    /// Off this list, or off both (None).
    Remove(Option<List>),
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Changed {
        /// The other list the pattern was taken off (an allow that was denied, or back).
        moved_from: Option<List>,
    },
}

fn of(rules: &mut IpRules, l: List) -> &mut Vec<IpPattern> {
    match l {
        List::Allow => &mut rules.allow,
        List::Deny => &mut rules.deny,
    }
}

pub fn change(rules: &mut IpRules, c: Change, pattern: &IpPattern) -> Result<Outcome, String> {
    match c {
        Change::Add(l) => {
            if of(rules, l).contains(pattern) {
                return Ok(Outcome::Unchanged);
            }
            let other = match l {
                List::Allow => List::Deny,
                List::Deny => List::Allow,
            };
            let was_other = of(rules, other).contains(pattern);
            if !was_other && rules.allow.len() + rules.deny.len() >= MAX_PATTERNS {
                return Err(format!(
                    "the managed lists hold at most {MAX_PATTERNS} patterns"
                ));
            }
            of(rules, other).retain(|p| p != pattern);
            of(rules, l).push(pattern.clone());
            Ok(Outcome::Changed {
                moved_from: was_other.then_some(other),
            })
        }
        Change::Remove(from) => {
            let before = rules.allow.len() + rules.deny.len();
            for l in [List::Allow, List::Deny] {
                if from.is_none_or(|f| f == l) {
                    of(rules, l).retain(|p| p != pattern);
                }
            }
            Ok(if rules.allow.len() + rules.deny.len() != before {
                Outcome::Changed { moved_from: None }
            } else {
                Outcome::Unchanged
            })
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
        let changed = Outcome::Changed { moved_from: None };
        assert_eq!(
            change(&mut managed, Change::Add(List::Deny), &p("10.1.2.3")),
            Ok(changed)
        );
        assert_eq!(
            change(&mut managed, Change::Add(List::Deny), &p("10.1.2.3")),
            Ok(Outcome::Unchanged),
            "no duplicates"
        );
        assert_eq!(
            change(&mut managed, Change::Add(List::Allow), &p("192.168.1.*")),
            Ok(changed)
        );
        let r = combined(&config, &managed);
        assert!(r.admits("10.9.9.9".parse().unwrap()));
        assert!(!r.admits("10.1.2.3".parse().unwrap()));
        assert!(r.admits("192.168.1.7".parse().unwrap()));
        assert!(!r.admits("172.16.0.1".parse().unwrap()));
        assert_eq!(
            change(&mut managed, Change::Remove(None), &p("10.1.2.3")),
            Ok(changed)
        );
        assert!(combined(&config, &managed).admits("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn a_pattern_is_in_one_list_and_removal_names_the_list() {
        let mut m = IpRules::default();
        change(&mut m, Change::Add(List::Deny), &p("127.0.0.2")).unwrap();
        assert_eq!(
            change(&mut m, Change::Add(List::Allow), &p("127.0.0.2")),
            Ok(Outcome::Changed {
                moved_from: Some(List::Deny)
            })
        );
        assert_eq!((m.allow.len(), m.deny.len()), (1, 0));
        change(&mut m, Change::Add(List::Deny), &p("127.0.0.3")).unwrap();
        // Removing from the allow list leaves the deny list alone.
        assert_eq!(
            change(&mut m, Change::Remove(Some(List::Allow)), &p("127.0.0.3")),
            Ok(Outcome::Unchanged)
        );
        assert_eq!(m.deny, vec![p("127.0.0.3")]);
        assert_eq!(
            change(&mut m, Change::Remove(Some(List::Deny)), &p("127.0.0.3")),
            Ok(Outcome::Changed { moved_from: None })
        );
        assert!(m.deny.is_empty());
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
