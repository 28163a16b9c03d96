//! FTP replies: a code and one or more lines, rendered per RFC 959 §4.2 (multi-line form
//! `123-first` … `123 last`). Text is sanitised so no name can inject a reply line.

use std::fmt::Write as _;

use super::code::Code;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Code,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: Code, text: impl Into<String>) -> Self {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply: the first and last line carry the code, the middle lines are indented.
    pub fn multi(code: Code, lines: Vec<String>) -> Self {
        if lines.is_empty() {
            return Reply::new(code, "");
        }
        Reply { code, lines }
    }

    /// Wire form, CRLF-terminated.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = String::new();
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            let line = sanitise(line);
            if i == last {
                let _ = write!(out, "{} {}\r\n", self.code, line);
            } else if i == 0 {
                let _ = write!(out, "{}-{}\r\n", self.code, line);
            } else if line.len() >= 3 && line.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
                // A middle line must not look like the end of the reply.
                let _ = write!(out, " {line}\r\n");
            } else {
                let _ = write!(out, "{line}\r\n");
            }
        }
        out.into_bytes()
    }

    pub fn is_positive(&self) -> bool {
        self.code.is_positive()
    }
}

/// Replaces CR and LF (and other C0 controls) so text can never end a reply line early.
fn sanitise(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(|c| c.is_control()) {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// Quotes a path for 257 replies: embedded double quotes are doubled (RFC 959 appendix II).
pub fn quote_path(path: &str) -> String {
    format!("\"{}\"", path.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line() {
        assert_eq!(Reply::new(Code::OK, "OK").to_wire(), b"200 OK\r\n");
    }

    #[test]
    fn multi_line_form() {
        let r = Reply::multi(
            Code::SYSTEM_STATUS,
            vec!["Features:".into(), " UTF8".into(), "End".into()],
        );
        assert_eq!(r.to_wire(), b"211-Features:\r\n UTF8\r\n211 End\r\n");
    }

    #[test]
    fn middle_line_that_looks_like_a_code_is_indented() {
        let r = Reply::multi(
            Code::FILE_STATUS,
            vec!["Status".into(), "213 fake".into(), "End".into()],
        );
        assert_eq!(r.to_wire(), b"213-Status\r\n 213 fake\r\n213 End\r\n");
    }

    #[test]
    fn newlines_cannot_inject_lines() {
        assert_eq!(
            Reply::new(Code::FILE_UNAVAILABLE, "a\r\n230 b").to_wire(),
            b"550 a??230 b\r\n"
        );
    }

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote_path("/a\"b"), "\"/a\"\"b\"");
    }
}
