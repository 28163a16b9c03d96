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
            message: clipped(message),
        }
    }
}

/// A TOML error's message, naming the key whose value is wrong (`server.sync_uploads: invalid
/// type: string "yes", expected a boolean`): serde's message says what was expected but not
/// where, and a line may be far from its table header.
pub(crate) fn toml_message(text: &str, e: &toml::de::Error) -> String {
    clipped(full_toml_message(text, e))
}

fn full_toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = plain_words(e.message().trim());
    if let Some((name, header)) = e.span().and_then(|s| name_at_line_start(text, s.start)) {
        // The error is about a key or header itself, not its value.
        return if message.starts_with("duplicate key") && header {
            format!("{name}: table defined twice (merge the two [{name}] sections)")
        } else if message.starts_with("duplicate key") {
            format!("{name}: set twice (keep one of the two)")
        } else if message.contains(&format!("`{name}`")) {
            message
        } else {
            format!("{name}: {message}")
        };
    }
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

/// Messages are cut to a screenful: a bad value is echoed in its message, and a 300 KB value
/// must not bury the line that says which key it is.
pub(crate) fn clipped(message: String) -> String {
    const KEEP: usize = 200;
    if message.chars().count() <= 2 * KEEP + 40 {
        return message;
    }
    let head: String = message.chars().take(KEEP).collect();
    let tail: Vec<char> = message.chars().rev().take(KEEP).collect();
    let tail: String = tail.into_iter().rev().collect();
    let left_out = message.chars().count() - 2 * KEEP;
    format!("{head}… ({left_out} characters left out) …{tail}")
}

/// The dotted name of what starts at `offset` when that is a line's key or is in a header
/// (`server.log_level` for a second `log_level =` under `[server]`, `server.banner` for
/// `[server."banner"]`), and whether it is a header. None for an offset inside a value.
fn name_at_line_start(text: &str, offset: usize) -> Option<(String, bool)> {
    let offset = boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let before = text[start..offset].trim();
    if line.trim_start().starts_with('[') && before.chars().all(|c| c == '[') {
        return header_name(line).map(|h| (h, true));
    }
    if !before.is_empty() {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    qualified(text, start, key).map(|k| (k, false))
}

/// `key` (the text before a line's `=`, at `start`) under the table it belongs to; None when
/// it is no key (empty, or part of a header or comment).
fn qualified(text: &str, start: usize, key: &str) -> Option<String> {
    let key = unquoted(key);
    if key.is_empty() || key.contains(['[', ']', '#']) {
        return None;
    }
    Some(match table_above(text, start) {
        Some(t) => format!("{t}.{key}"),
        None => key,
    })
}

/// `server.banner` for `[server."banner"]` or `[[ server . banner ]]`.
fn header_name(line: &str) -> Option<String> {
    let l = line.trim();
    let inner = l.strip_prefix("[[").and_then(|r| r.split_once("]]"));
    let inner = inner.or_else(|| l.strip_prefix('[').and_then(|r| r.split_once(']')));
    inner.map(|(name, _)| unquoted(name))
}

/// A dotted key without its quotes and spaces (`"a" . b` is `a.b`).
fn unquoted(key: &str) -> String {
    key.split('.')
        .map(|part| part.trim().trim_matches(|c| c == '"' || c == '\''))
        .collect::<Vec<_>>()
        .join(".")
}

/// The `[table]` or `[[array]]` a line at `start` belongs to.
fn table_above(text: &str, start: usize) -> Option<String> {
    text[..start].lines().rev().find_map(header_name)
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
    qualified(text, start, key)
}

/// `offset` within `text` and on a character boundary (a span never panics a message).
fn boundary(text: &str, offset: usize) -> usize {
    let mut o = offset.min(text.len());
    while !text.is_char_boundary(o) {
        o -= 1;
    }
    o
}

/// The text of a file that must be UTF-8, or the line and column of its first byte that is not.
pub(crate) fn utf8_text(bytes: Vec<u8>) -> Result<String, (usize, usize)> {
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        line_col(
            std::str::from_utf8(&e.as_bytes()[..good]).unwrap_or_default(),
            good,
        )
    })
}

/// What a file that is not UTF-8 is told.
pub(crate) const NOT_UTF8: &str =
    "this byte is not UTF-8 text (save the file as UTF-8; other encodings are not read)";

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
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
        let m = message("[server\n");
        assert!(!m.contains(": server"), "{m}");
    }

    #[test]
    fn a_key_set_twice_or_a_header_of_the_wrong_type_is_named() {
        let m = message("[server]\nname = \"a\"\n\n  name = \"b\"\n");
        assert_eq!(m, "server.name: set twice (keep one of the two)");
        let m = message("[server]\nname = \"a\"\n[server]\nsync_uploads = true\n");
        assert_eq!(
            m,
            "server: table defined twice (merge the two [server] sections)"
        );
        let m = message("[server]\n[server.\"name\"]\nx = 1\n");
        assert!(m.starts_with("server.name: "), "{m}");
        let m = message("[server.\"name\"]\nx = 1\n");
        assert!(m.starts_with("server.name: invalid type: map"), "{m}");
        let m = message("[server]\nname = { a = 1 }\n");
        assert!(m.starts_with("server.name: invalid type: map"), "{m}");
        let m = message("[server]\nsync_upload = true\n");
        assert!(
            m.starts_with("server.sync_upload: unknown field `sync_upload`"),
            "{m}"
        );
    }

    #[test]
    fn a_huge_value_is_clipped_in_its_message() {
        let m = message(&format!(
            "[server]\nsync_uploads = \"{}\"\n",
            "x".repeat(300_000)
        ));
        assert!(m.len() < 600, "{} bytes", m.len());
        assert!(m.starts_with("server.sync_uploads: "), "{m}");
        assert!(m.ends_with("expected a boolean"), "{m}");
        assert!(m.contains("characters left out"), "{m}");
        assert_eq!(clipped("short".into()), "short");
        let m = clipped("é".repeat(1000));
        assert!(m.starts_with('é') && m.ends_with('é'), "{m}");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_placed() {
        assert_eq!(utf8_text(b"a = 1\n".to_vec()).unwrap(), "a = 1\n");
        assert_eq!(utf8_text(b"a = 1\nb = \"caf\xe9\"\n".to_vec()), Err((2, 9)));
        assert_eq!(
            utf8_text([&"é\n".as_bytes()[..], b"\xff"].concat()),
            Err((2, 1))
        );
        assert_eq!(utf8_text(b"\xc3".to_vec()), Err((1, 1)));
    }
}
