//! The texts a client is greeted with: the banner (220, before login) and the welcome message
//! (230, after it). Either may span lines — sent as one multi-line reply, each line made safe
//! by `Reply` — and may come from a file, read when the config is loaded or reloaded.

use std::path::Path;

/// Lines and bytes a greeting may have; the rest is cut (a welcome text is not a document).
pub const MAX_LINES: usize = 40;
pub const MAX_BYTES: usize = 8 * 1024;

/// A greeting's reply lines: split at line ends, trailing blank lines dropped, capped.
pub fn lines(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .lines()
        .take(MAX_LINES)
        .map(|l| l.trim_end().to_string())
        .collect();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// Reads a greeting file (at most [`MAX_BYTES`]): a regular file, so a FIFO or a device named
/// by mistake can neither hang a (re)load nor feed it without end.
pub fn read(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    if !std::fs::metadata(path).map_err(cannot)?.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_trimmed_and_capped() {
        assert_eq!(lines("ftpsd ready."), ["ftpsd ready."]);
        assert_eq!(
            lines("Welcome\r\n\r\nRules:\n- be nice\n\n\n"),
            ["Welcome", "", "Rules:", "- be nice"]
        );
        assert!(lines("").is_empty());
        assert_eq!(lines(&"x\n".repeat(500)).len(), MAX_LINES);
    }

    #[test]
    fn files_are_read_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.txt");
        std::fs::write(&p, "é".repeat(MAX_BYTES)).unwrap();
        let text = read(&p).unwrap();
        assert!(text.len() <= MAX_BYTES + 3 && text.starts_with('é'));
        assert!(
            read(&dir.path().join("missing"))
                .unwrap_err()
                .contains("missing")
        );
        assert!(
            read(Path::new("/dev/zero"))
                .unwrap_err()
                .contains("not a regular file")
        );
        assert!(read(dir.path()).unwrap_err().contains("not a regular file"));
    }
}
