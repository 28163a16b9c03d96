//! Which config values a reload changed, key by key, for the operator's log: "the reload
//! applied" says little when a typo left the value that mattered as it was.

use toml::{Table, Value};

/// `section.key: old → new` for every value that differs between two config files' tables
/// (added or removed keys show as `(default)`). Values of keys that may hold secrets are not
/// shown; an array of tables (`[[plugins]]`) is reported as one changed key.
pub fn changed_values(old: &Table, new: &Table) -> Vec<String> {
    let mut out = Vec::new();
    walk("", Some(old), Some(new), &mut out);
    out
}

fn walk(prefix: &str, old: Option<&Table>, new: Option<&Table>, out: &mut Vec<String>) {
    let empty = Table::new();
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let (a, b) = (old.get(key), new.get(key));
        if a == b {
            continue;
        }
        match (a, b) {
            (Some(Value::Table(_)) | None, Some(Value::Table(_)) | None)
                if a.is_some_and(Value::is_table) || b.is_some_and(Value::is_table) =>
            {
                walk(
                    &path,
                    a.and_then(Value::as_table),
                    b.and_then(Value::as_table),
                    out,
                )
            }
            _ if is_secret(key) => out.push(format!("{path}: changed (value not shown)")),
            _ => out.push(format!("{path}: {} → {}", show(a), show(b))),
        }
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "(default)".into(),
        Some(Value::Array(a)) if a.iter().any(Value::is_table) => format!("{} entries", a.len()),
        // A URL's password (redis://:pw@host) is not shown either.
        Some(Value::String(s)) if s.contains("://") => {
            Value::String(crate::state::section::redacted(s)).to_string()
        }
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 80 {
                format!("{}…", s.chars().take(80).collect::<String>())
            } else {
                s
            }
        }
    }
}

fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "token", "credential"]
        .iter()
        .any(|w| k.contains(w))
        && !k.ends_with("_file")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(a: &str, b: &str) -> Vec<String> {
        changed_values(&a.parse().unwrap(), &b.parse().unwrap())
    }

    #[test]
    fn names_each_changed_value_with_its_section() {
        let a = "[server]\nsync_uploads = true\nbanner = \"hi\"\n[passive]\nport_min = 1\n";
        let b = "[server]\nsync_uploads = false\nbanner = \"hi\"\n[passive]\nport_min = 1\nport_max = 9\n";
        assert_eq!(
            diff(a, b),
            vec![
                "passive.port_max: (default) → 9",
                "server.sync_uploads: true → false"
            ]
        );
        assert!(diff(a, a).is_empty());
    }

    #[test]
    fn whole_sections_and_plugin_lists_and_secrets() {
        let a = "[[plugins]]\nname = \"a\"\n[s3]\nsecret_access_key = \"old\"\n";
        let b = "[[plugins]]\nname = \"a\"\n[[plugins]]\nname = \"b\"\n[s3]\nsecret_access_key = \"new\"\n[log]\nfile = \"x\"\n";
        let d = diff(a, b);
        assert_eq!(
            d,
            vec![
                "log.file: (default) → \"x\"",
                "plugins: 1 entries → 2 entries",
                "s3.secret_access_key: changed (value not shown)",
            ]
        );
        assert!(!d.concat().contains("new"));
        let d = diff(
            "",
            "[state]\nbackend = \"redis://:pw-secret@127.0.0.1:6379/0\"\n",
        );
        assert_eq!(
            d,
            vec!["state.backend: (default) → \"redis://:***@127.0.0.1:6379/0\""]
        );
    }
}
