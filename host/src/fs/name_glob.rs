//! Wildcards in the last part of a LIST or NLST argument (`NLST *.txt`, `LIST logs/2026-*`):
//! the classic clients' `mget` and `ls pattern` send them and expect the server to expand
//! them, as vsftpd and ProFTPD do. Only the last path component is matched, `*` never crosses
//! a `/`, and only one directory is read, so a pattern costs no more than listing it.

use globset::{GlobBuilder, GlobMatcher};

/// A parsed wildcard argument.
#[derive(Clone)]
pub struct NameGlob {
    /// The argument up to and including its last `/` ("" for none), as the client typed it:
    /// NLST puts it before each name, so the names work as given in RETR.
    pub dir_prefix: String,
    matcher: GlobMatcher,
}

impl NameGlob {
    /// `Some` when the argument's last component holds a wildcard (`*`, `?`, `[`) and is a
    /// valid pattern.
    pub fn parse(arg: &str) -> Option<NameGlob> {
        let (dir_prefix, last) = match arg.rfind('/') {
            Some(i) => (&arg[..=i], &arg[i + 1..]),
            None => ("", arg),
        };
        if !last.contains(['*', '?', '[']) {
            return None;
        }
        let glob = GlobBuilder::new(last)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .ok()?;
        Some(NameGlob {
            dir_prefix: dir_prefix.to_string(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_component_is_a_pattern() {
        let g = NameGlob::parse("logs/2026-*.txt").unwrap();
        assert_eq!(g.dir_prefix, "logs/");
        assert!(g.matches("2026-01.txt") && !g.matches("2025-01.txt"));
        assert!(!g.matches("2026-a/b.txt"), "* does not cross /");
        assert!(NameGlob::parse("dir*/file.txt").is_none());
        assert!(NameGlob::parse("plain.txt").is_none());
        assert_eq!(NameGlob::parse("*.TXT").unwrap().dir_prefix, "");
    }

    #[test]
    fn question_marks_and_classes() {
        let g = NameGlob::parse("f?.[ab]").unwrap();
        assert!(g.matches("f1.a") && g.matches("fx.b"));
        assert!(!g.matches("f12.a") && !g.matches("f1.c"));
        assert!(
            NameGlob::parse("bad[").is_none(),
            "an unclosed class is no pattern"
        );
    }
}
