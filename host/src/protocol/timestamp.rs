//! FTP timestamps (`YYYYMMDDHHMMSS[.sss]`, UTC; RFC 3659 `time-val`) as MFMT and SITE UTIME
//! send them. Pure, no I/O.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a `time-val`; None if it is not one (wrong length, not digits, impossible date).
pub fn parse(s: &str) -> Option<SystemTime> {
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| main[a..b].parse::<u32>().ok();
    let (year, month, day) = (n(0, 4)?, n(4, 6)?, n(6, 8)?);
    let (hour, min, sec) = (n(8, 10)?, n(10, 12)?, n(12, 14)?);
    let nanos = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    if !(1..=12).contains(&month) || day == 0 || day > days_in(year, month) {
        return None;
    }
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year as i64, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec.min(59));
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Whether `s` looks like a `time-val` (for telling the forms of SITE UTIME apart).
pub fn is_time(s: &str) -> bool {
    parse(s).is_some()
}

fn leap(y: u32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn parses_what_mfmt_and_site_utime_send() {
        assert_eq!(secs(parse("19700101000000").unwrap()), 0);
        assert_eq!(secs(parse("20200229123456").unwrap()), 1_582_979_696);
        assert_eq!(secs(parse("20261204165700").unwrap()), 1_796_403_420);
        let t = parse("20200101000000.250").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().subsec_millis(), 250);
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "2020",
            "20201301000000",
            "20200230000000",
            "20190229000000",
            "20200101250000",
            "2020010100000x",
            "20200101000000.",
            "20200101000000.1234567890",
            "19600101000000",
            "file.txt",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
