//! Virtual paths: what the client sees. Always absolute, normalised, `/` is the user's root.
//! Resolution is pure string logic; the sandbox enforces the boundary again on real I/O.

/// Longest accepted path (bytes) and longest single name (bytes), as on Linux.
pub const MAX_PATH: usize = 4096;
pub const MAX_NAME: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VirtualPath {
    /// Normalised components, none empty, none `.` or `..`.
    parts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("Path contains a NUL byte.")]
    Nul,
    #[error("Path contains a backslash; use '/' as separator.")]
    Backslash,
    #[error("Path is too long.")]
    TooLong,
    #[error("File name is too long (limit {MAX_NAME} bytes).")]
    NameTooLong,
}

impl VirtualPath {
    pub fn root() -> Self {
        VirtualPath { parts: Vec::new() }
    }

    /// Resolves a client argument against the current directory. `..` never climbs above `/`.
    pub fn resolve(&self, arg: &str) -> Result<VirtualPath, PathError> {
        if arg.contains('\0') {
            return Err(PathError::Nul);
        }
        if arg.contains('\\') {
            return Err(PathError::Backslash);
        }
        if arg.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        let mut parts = if arg.starts_with('/') {
            Vec::new()
        } else {
            self.parts.clone()
        };
        for comp in arg.split('/') {
            match comp {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                name => {
                    if name.len() > MAX_NAME {
                        return Err(PathError::NameTooLong);
                    }
                    parts.push(name.to_string());
                }
            }
        }
        let resolved = VirtualPath { parts };
        if resolved.as_string().len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        Ok(resolved)
    }

    pub fn first(&self) -> Option<&str> {
        self.parts.first().map(String::as_str)
    }

    /// The names from the root down.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The path without its first component (the path inside a mount folder).
    pub fn strip_first(&self) -> VirtualPath {
        self.strip_prefix_len(1)
    }

    /// The path without its first `n` components (the path inside a mount at depth `n`).
    pub fn strip_prefix_len(&self, n: usize) -> VirtualPath {
        VirtualPath {
            parts: self.parts.iter().skip(n).cloned().collect(),
        }
    }

    /// Whether `prefix` is this path or one of its ancestors.
    pub fn starts_with(&self, prefix: &VirtualPath) -> bool {
        self.parts.len() >= prefix.parts.len()
            && self.parts[..prefix.parts.len()] == prefix.parts[..]
    }

    /// The `i`-th name from the root.
    pub fn component(&self, i: usize) -> Option<&str> {
        self.parts.get(i).map(String::as_str)
    }

    pub fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    pub fn parent(&self) -> VirtualPath {
        let mut parts = self.parts.clone();
        parts.pop();
        VirtualPath { parts }
    }

    pub fn file_name(&self) -> Option<&str> {
        self.parts.last().map(String::as_str)
    }

    pub fn join(&self, name: &str) -> VirtualPath {
        let mut parts = self.parts.clone();
        parts.push(name.to_string());
        VirtualPath { parts }
    }

    /// The path relative to the user's root, as the sandbox wants it (`.` for the root).
    pub fn relative(&self) -> std::path::PathBuf {
        if self.parts.is_empty() {
            std::path::PathBuf::from(".")
        } else {
            self.parts.iter().collect()
        }
    }

    pub fn as_string(&self) -> String {
        if self.parts.is_empty() {
            "/".to_string()
        } else {
            let mut s = String::new();
            for p in &self.parts {
                s.push('/');
                s.push_str(p);
            }
            s
        }
    }
}

impl std::fmt::Display for VirtualPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p: &str) -> VirtualPath {
        VirtualPath::root().resolve(p).unwrap()
    }

    #[test]
    fn relative_and_absolute() {
        assert_eq!(at("/a/b").resolve("c").unwrap().as_string(), "/a/b/c");
        assert_eq!(at("/a/b").resolve("/c").unwrap().as_string(), "/c");
        assert_eq!(
            at("/a/b").resolve("./c//d/").unwrap().as_string(),
            "/a/b/c/d"
        );
    }

    #[test]
    fn dotdot_never_climbs_above_root() {
        assert_eq!(
            at("/a").resolve("../../../etc/passwd").unwrap().as_string(),
            "/etc/passwd"
        );
        assert_eq!(at("/").resolve("..").unwrap().as_string(), "/");
        assert_eq!(at("/a/b").resolve("../c").unwrap().as_string(), "/a/c");
        assert_eq!(
            at("/a").resolve("../../..").unwrap().relative(),
            std::path::PathBuf::from(".")
        );
    }

    #[test]
    fn hostile_bytes_are_refused() {
        assert_eq!(at("/").resolve("a\0b"), Err(PathError::Nul));
        assert_eq!(at("/").resolve("..\\..\\x"), Err(PathError::Backslash));
        assert_eq!(
            at("/").resolve(&"x".repeat(256)),
            Err(PathError::NameTooLong)
        );
        assert_eq!(
            at("/").resolve(&"ab/".repeat(2000)),
            Err(PathError::TooLong)
        );
    }

    #[test]
    fn names_with_spaces_and_utf8() {
        let p = at("/").resolve("my dir/Grüße ✓.txt").unwrap();
        assert_eq!(p.file_name(), Some("Grüße ✓.txt"));
        assert_eq!(p.parent().as_string(), "/my dir");
    }

    proptest::proptest! {
        #[test]
        fn resolved_paths_are_normalised(arg in "[a./\\\\\\x00 ü]{0,64}") {
            if let Ok(p) = at("/x/y").resolve(&arg) {
                let s = p.as_string();
                proptest::prop_assert!(s.starts_with('/'));
                proptest::prop_assert!(!s.split('/').any(|c| c == ".." || c == "."));
                proptest::prop_assert!(!p.relative().is_absolute());
            }
        }
    }
}
