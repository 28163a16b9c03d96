//! Config errors that point at `file:line:column` and say which key is wrong.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ConfigError::Syntax {
            path: path.into(),
            line,
            column,
            message: toml_message(text, e),
        }
    }

    /// A semantic error on `key`: the line is the first `key =` in the file (or 1 if absent).
    pub(crate) fn invalid(path: &Path, text: &str, key: &str, message: String) -> ConfigError {
        let line = text
            .lines()
            .position(|l| {
                let l = l.trim_start();
                l.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
                    || l.trim() == format!("[{key}]")
            })
            .map(|i| i + 1)
            .unwrap_or(1);
        ConfigError::Invalid {
            path: path.into(),
            line,
            message,
        }
    }
}

/// A TOML error's message, naming the key whose value is wrong (`server.sync_uploads: invalid
/// type: string "yes", expected a boolean`): serde's message says what was expected but not
/// where, and a line may be far from its table header.
pub(crate) fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = plain_words(e.message().trim());
    let bare = e
        .span()
        .map(|s| bare_word_at(text, s.start))
        .unwrap_or_default();
    let message = if message.contains("must be quoted")
        && ["yes", "no", "on", "off", "True", "False"].contains(&bare)
    {
        format!("{message} (a yes/no setting is written true or false)")
    } else {
        message
    };
    match e.span().and_then(|s| key_at(text, s.start)) {
        Some(key) if !message.contains(&format!("`{key}`")) => format!("{key}: {message}"),
        _ => message,
    }
}

/// serde's names for integer types, in the operator's words.
fn plain_words(message: &str) -> String {
    message
        .replace("expected u8", "expected a whole number from 0 to 255")
        .replace("expected u16", "expected a whole number from 0 to 65535")
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
        .replace("expected u64", "expected a whole number of 0 or more")
        .replace("expected usize", "expected a whole number of 0 or more")
}

/// The unquoted word that starts at `offset` (`yes` in `sync_uploads = yes`).
fn bare_word_at(text: &str, offset: usize) -> &str {
    let rest = &text[boundary(text, offset)..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The dotted key whose value starts at `offset` (`section.key`, or `key` before any table):
/// the text before `=` on that line, under the nearest `[table]` or `[[array]]` header above.
/// None when the offset is not in a value (a header, a key itself, a multi-line value).
pub(crate) fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = text[start..offset].split_once('=')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    if key.is_empty() || key.contains(['[', ']', '#']) {
        return None;
    }
    let table = text[..start].lines().rev().find_map(|l| {
        let l = l.trim();
        let inner = l.strip_prefix("[[").and_then(|r| r.split_once("]]"));
        let inner = inner.or_else(|| l.strip_prefix('[').and_then(|r| r.split_once(']')));
        inner.map(|(name, _)| name.trim().to_string())
    });
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

/// `offset` within `text` and on a character boundary (a span never panics a message).
fn boundary(text: &str, offset: usize) -> usize {
    let mut o = offset.min(text.len());
    while !text.is_char_boundary(o) {
        o -= 1;
    }
    o
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count() + 1)
        .unwrap_or(1);
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        top: Option<u32>,
        server: Option<Server>,
        plugins: Option<Vec<Server>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Server {
        sync_uploads: Option<bool>,
        name: Option<String>,
    }

    fn message(text: &str) -> String {
        toml_message(text, &toml::from_str::<Doc>(text).unwrap_err())
    }

    #[test]
    fn a_wrong_value_names_its_key_and_table() {
        let m = message("top = 1\n[server]\nname = \"x\"\n\nsync_uploads = \"yes\"\n");
        assert!(m.starts_with("server.sync_uploads: "), "{m}");
        assert!(m.contains("expected a boolean"), "{m}");
        let m = message("top = \"x\"\n");
        assert!(m.starts_with("top: "), "{m}");
        let m = message("[[plugins]]\nname = 3\n");
        assert!(m.starts_with("plugins.name: "), "{m}");
        let m = message("[server]\nsync_uploads = yes\n");
        assert!(m.starts_with("server.sync_uploads: "), "{m}");
        assert!(
            m.ends_with("(a yes/no setting is written true or false)"),
            "{m}"
        );
        let m = message("top = 70000000000\n");
        assert!(m.contains("a whole number from 0 to 4294967295"), "{m}");
    }

    #[test]
    fn an_unknown_key_or_broken_header_is_not_given_a_wrong_name() {
        let m = message("[server]\nsync_upload = true\n");
        assert!(m.contains("unknown field `sync_upload`"), "{m}");
        assert!(!m.starts_with("server."), "{m}");
        let m = message("[server\n");
        assert!(!m.contains(": server"), "{m}");
    }
}
