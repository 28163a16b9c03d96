//! The log viewer's reading side: the daily files of `[log] dir`, filtered by minimum level and
//! text, read from a byte offset so the page can tail them. Pure over the file contents.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Levels from most to least severe.
const LEVELS: [&str; 5] = ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub level: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChunk {
    pub day: String,
    pub lines: Vec<LogLine>,
    /// Offset to ask from next time (live tail).
    pub next: u64,
}

/// `YYYY-MM-DD`, nothing else: the day names a file, so it must not name any other.
pub fn valid_day(day: &str) -> bool {
    let b = day.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// Days with a log file, newest first.
pub fn days(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("ftpsd.log.")
                .filter(|d| valid_day(d))
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v.reverse();
    v
}

/// The level of a text or JSON log line.
pub fn level_of(line: &str) -> &'static str {
    // Only a JSON line's own field: text a client typed (a user name) cannot pose as a level.
    if line.starts_with('{')
        && let Some(rest) = line.split("\"level\":\"").nth(1)
    {
        return LEVELS
            .iter()
            .find(|l| rest.starts_with(**l))
            .copied()
            .unwrap_or("INFO");
    }
    line.split_whitespace()
        .nth(1)
        .and_then(|w| LEVELS.iter().find(|l| **l == w).copied())
        .unwrap_or("INFO")
}

/// Whether `line` passes: at least as severe as `min`, containing `q` (case-insensitive).
pub fn keep(line: &str, min: Option<&str>, q: Option<&str>) -> bool {
    let rank = |l: &str| LEVELS.iter().position(|x| x.eq_ignore_ascii_case(l));
    let level_ok = match min.and_then(rank) {
        Some(m) => rank(level_of(line)).is_some_and(|r| r <= m),
        None => true,
    };
    let text_ok = match q.filter(|q| !q.is_empty()) {
        Some(q) => line.to_lowercase().contains(&q.to_lowercase()),
        None => true,
    };
    level_ok && text_ok
}

/// Where a read begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At this byte offset (the `next` of the previous chunk: a live tail).
    After(u64),
    /// At the first whole line of the last this-many bytes: a viewer opens at the newest lines
    /// instead of paging through the whole day from its first line.
    Tail(u64),
}

/// At most this much is read per call.
const CHUNK: u64 = 1 << 20;

/// Reads a day's file from `start` (at most 1 MiB per call).
pub fn read(
    dir: &Path,
    day: &str,
    min: Option<&str>,
    q: Option<&str>,
    start: Start,
) -> std::io::Result<LogChunk> {
    if !valid_day(day) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "day must be YYYY-MM-DD",
        ));
    }
    let mut f = std::fs::File::open(dir.join(format!("ftpsd.log.{day}")))?;
    let len = f.metadata()?.len();
    let (mut start, skip_partial) = match start {
        Start::After(after) => (after.min(len), false),
        Start::Tail(bytes) => {
            let from = len.saturating_sub(bytes.min(CHUNK));
            (from, from > 0)
        }
    };
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(CHUNK).read_to_end(&mut buf)?;
    // A tail that begins inside a line starts at the next one.
    let first = if skip_partial {
        buf.iter()
            .position(|b| *b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(buf.len())
    } else {
        0
    };
    // Only whole lines; a partial last line is read next time.
    let end = buf
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0)
        .max(first);
    let text = String::from_utf8_lossy(&buf[first..end]);
    let lines = text
        .lines()
        .filter(|l| keep(l, min, q))
        .map(|l| LogLine {
            level: level_of(l).to_string(),
            text: l.to_string(),
        })
        .collect();
    Ok(LogChunk {
        day: day.to_string(),
        lines,
        next: {
            start += end as u64;
            start
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_strict() {
        assert!(valid_day("2026-11-22"));
        for bad in [
            "2026-11-2",
            "../../etc",
            "2026-11-22/../x",
            "2026/11/22",
            "abcd-ef-gh",
        ] {
            assert!(!valid_day(bad), "{bad}");
        }
    }

    #[test]
    fn levels_and_filters() {
        let text = "2026-11-22T08:00:00.1Z  WARN ftpsd::server: slow";
        let json = r#"{"timestamp":"x","level":"ERROR","fields":{"message":"boom"}}"#;
        assert_eq!(level_of(text), "WARN");
        assert_eq!(level_of(json), "ERROR");
        let posing = "2026-11-22T08:00:00.1Z  INFO ftpsd::session: login failed user=\"\\\"level\\\":\\\"ERROR\\\"\"";
        assert_eq!(level_of(posing), "INFO");
        assert!(keep(text, Some("warn"), None));
        assert!(!keep(text, Some("error"), None));
        assert!(keep(json, Some("error"), Some("BOOM")));
        assert!(!keep(json, None, Some("nothing")));
    }

    #[test]
    fn reads_whole_lines_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ftpsd.log.2026-11-22");
        std::fs::write(&p, "t  INFO a: one\nt ERROR a: two\nt  INFO a: par").unwrap();
        let c = read(dir.path(), "2026-11-22", None, None, Start::After(0)).unwrap();
        assert_eq!(c.lines.len(), 2);
        assert_eq!(c.lines[1].level, "ERROR");
        let errors = read(
            dir.path(),
            "2026-11-22",
            Some("error"),
            None,
            Start::After(0),
        )
        .unwrap();
        assert_eq!(errors.lines.len(), 1);
        std::fs::write(
            &p,
            "t  INFO a: one\nt ERROR a: two\nt  INFO a: part three\n",
        )
        .unwrap();
        let more = read(dir.path(), "2026-11-22", None, None, Start::After(c.next)).unwrap();
        assert_eq!(more.lines[0].text, "t  INFO a: part three");
        assert_eq!(days(dir.path()), ["2026-11-22"]);
        assert!(read(dir.path(), "../x", None, None, Start::After(0)).is_err());
    }

    #[test]
    fn a_tail_starts_at_a_whole_line_near_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ftpsd.log.2026-11-22");
        let text: String = (0..100).map(|i| format!("t  INFO a: line {i}\n")).collect();
        std::fs::write(&p, &text).unwrap();
        let c = read(dir.path(), "2026-11-22", None, None, Start::Tail(60)).unwrap();
        assert_eq!(c.lines.last().unwrap().text, "t  INFO a: line 99");
        assert!(c.lines.len() < 5, "{:?}", c.lines);
        assert!(
            c.lines
                .iter()
                .all(|l| l.text.starts_with("t  INFO a: line 9"))
        );
        assert_eq!(c.next, text.len() as u64);
        // A tail longer than the file is the whole file.
        let all = read(dir.path(), "2026-11-22", None, None, Start::Tail(1 << 40)).unwrap();
        assert_eq!(all.lines.len(), 100);
        // A tail inside one long last line gives nothing yet, and continues after it.
        std::fs::write(&p, "x".repeat(300) + "\n").unwrap();
        let c = read(dir.path(), "2026-11-22", None, None, Start::Tail(10)).unwrap();
        assert!(c.lines.is_empty());
        assert_eq!(c.next, 301);
    }
}
