//! Listing formats, pure: `ls -l` lines for LIST, names for NLST, RFC 3659 facts for MLSD/MLST.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Rights;

/// What a listing needs to know about one entry; filled by the sandbox from real metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    /// `UNIX_EPOCH` for a folder whose store keeps no time (a prefix in a bucket, whose
    /// listing carries none); MLSD/MLST then leave the `modify` fact out, as RFC 3659 allows.
    pub modified: SystemTime,
    /// Unix permission bits (for the LIST mode column).
    pub mode: u32,
}

/// Which MLST facts the client selected with `OPTS MLST` (RFC 3659 §7.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub kind: bool,
    pub size: bool,
    pub modify: bool,
    pub perm: bool,
}

impl Default for Facts {
    fn default() -> Self {
        Facts {
            kind: true,
            size: true,
            modify: true,
            perm: true,
        }
    }
}

impl Facts {
    /// Parses the argument of `OPTS MLST type;size;`; unknown facts are ignored.
    pub fn select(arg: &str) -> Facts {
        let mut f = Facts {
            kind: false,
            size: false,
            modify: false,
            perm: false,
        };
        for fact in arg.split(';').map(|s| s.trim().to_ascii_lowercase()) {
            match fact.as_str() {
                "type" => f.kind = true,
                "size" => f.size = true,
                "modify" => f.modify = true,
                "perm" => f.perm = true,
                _ => {}
            }
        }
        f
    }

    /// The facts as listed in FEAT and echoed by OPTS MLST; selected ones carry `*`.
    pub fn feat_string(&self) -> String {
        let mark = |on: bool| if on { "*" } else { "" };
        format!(
            "type{};size{};modify{};perm{};",
            mark(self.kind),
            mark(self.size),
            mark(self.modify),
            mark(self.perm)
        )
    }

    pub fn selected_string(&self) -> String {
        let mut s = String::new();
        for (on, name) in [
            (self.kind, "type"),
            (self.size, "size"),
            (self.modify, "modify"),
            (self.perm, "perm"),
        ] {
            if on {
                s.push_str(name);
                s.push(';');
            }
        }
        s
    }
}

/// Whether a name found on disk can be listed. A CR or LF (possible in names made outside FTP)
/// would end the listing line early and let the rest of the name pose as further entries; no
/// FTP command can name such a file anyway, since commands end at the line break.
pub fn fits_on_a_line(name: &str) -> bool {
    !name.contains(['\r', '\n'])
}

/// One MLSD/MLST line: `fact=value;… name`. `kind_override` gives `cdir`/`pdir`.
pub fn mlsx_line(
    e: &EntryInfo,
    facts: Facts,
    rights: Rights,
    kind_override: Option<&str>,
) -> String {
    let mut s = String::new();
    if facts.kind {
        let kind = kind_override.unwrap_or(if e.is_dir { "dir" } else { "file" });
        s.push_str(&format!("type={kind};"));
    }
    if facts.size && !e.is_dir {
        s.push_str(&format!("size={};", e.size));
    }
    if facts.modify && !(e.is_dir && e.modified == UNIX_EPOCH) {
        s.push_str(&format!("modify={};", mdtm(e.modified)));
    }
    if facts.perm {
        let perm = if e.is_dir {
            rights.dir_perm()
        } else {
            rights.file_perm()
        };
        s.push_str(&format!("perm={perm};"));
    }
    s.push(' ');
    s.push_str(&e.name);
    s
}

/// One `ls -l` style line. Dates within ~6 months show the time, older ones the year.
pub fn list_line(e: &EntryInfo, now: SystemTime) -> String {
    let kind = if e.is_dir { 'd' } else { '-' };
    let mut mode = String::with_capacity(9);
    for shift in [6u32, 3, 0] {
        let bits = (e.mode >> shift) & 7;
        mode.push(if bits & 4 != 0 { 'r' } else { '-' });
        mode.push(if bits & 2 != 0 { 'w' } else { '-' });
        mode.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    let (y, mo, d, h, mi, _) = civil(e.modified);
    let recent = match now.duration_since(e.modified) {
        Ok(age) => age < Duration::from_secs(180 * 86_400),
        Err(_) => e
            .modified
            .duration_since(now)
            .map(|d| d < Duration::from_secs(86_400))
            .unwrap_or(false),
    };
    let when = if recent {
        format!("{h:02}:{mi:02}")
    } else {
        format!("{y:>5}")
    };
    format!(
        "{kind}{mode} 1 ftp ftp {size:>12} {mon} {d:>2} {when} {name}",
        size = e.size,
        mon = MONTHS[(mo - 1) as usize],
        name = e.name
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `YYYYMMDDHHMMSS` in UTC, as MDTM and the `modify` fact want (RFC 3659 §2.3).
pub fn mdtm(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

/// UTC calendar fields of a time (times before 1970 clamp to the epoch).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_line_breaks_are_not_listable() {
        assert!(fits_on_a_line("ok.txt"));
        assert!(fits_on_a_line("tab\tand spaces ✓"));
        assert!(!fits_on_a_line(
            "x\r\n-rw-r--r-- 1 ftp ftp 1 Jan  1 00:00 fake"
        ));
        assert!(!fits_on_a_line("new\nline"));
        assert!(!fits_on_a_line("cr\rname"));
    }

    fn entry(name: &str, is_dir: bool, secs: u64) -> EntryInfo {
        EntryInfo {
            name: name.into(),
            is_dir,
            size: 1234,
            modified: UNIX_EPOCH + Duration::from_secs(secs),
            mode: 0o644,
        }
    }

    #[test]
    fn mdtm_format() {
        assert_eq!(mdtm(UNIX_EPOCH), "19700101000000");
        // 2024-02-29 12:34:56 UTC
        assert_eq!(
            mdtm(UNIX_EPOCH + Duration::from_secs(1_709_210_096)),
            "20240229123456"
        );
    }

    #[test]
    fn list_line_recent_and_old() {
        let e = entry("a file.txt", false, 1_709_210_096);
        let now = UNIX_EPOCH + Duration::from_secs(1_709_210_096 + 3600);
        assert_eq!(
            list_line(&e, now),
            "-rw-r--r-- 1 ftp ftp         1234 Feb 29 12:34 a file.txt"
        );
        let later = now + Duration::from_secs(400 * 86_400);
        assert_eq!(
            list_line(&e, later),
            "-rw-r--r-- 1 ftp ftp         1234 Feb 29  2024 a file.txt"
        );
        let d = EntryInfo {
            mode: 0o755,
            ..entry("d", true, 0)
        };
        assert!(list_line(&d, now).starts_with("drwxr-xr-x"));
    }

    #[test]
    fn a_folder_without_a_time_has_no_modify_fact() {
        let unknown = entry("prefix", true, 0);
        assert_eq!(
            mlsx_line(&unknown, Facts::default(), Rights::All, None),
            "type=dir;perm=elcmdfp; prefix"
        );
        let known = entry("d", true, 1_709_210_096);
        assert!(mlsx_line(&known, Facts::default(), Rights::All, None).contains("modify=2024"));
    }

    #[test]
    fn mlsx_facts() {
        let e = entry("x.bin", false, 0);
        assert_eq!(
            mlsx_line(&e, Facts::default(), Rights::All, None),
            "type=file;size=1234;modify=19700101000000;perm=rawdf; x.bin"
        );
        let only = Facts::select("size;TYPE;bogus");
        assert_eq!(
            mlsx_line(&e, only, Rights::Read, None),
            "type=file;size=1234; x.bin"
        );
        let d = entry(".", true, 0);
        assert_eq!(
            mlsx_line(&d, Facts::select("type"), Rights::Read, Some("cdir")),
            "type=cdir; ."
        );
        assert_eq!(only.feat_string(), "type*;size*;modify;perm;");
    }
}
