//! `[log] transfer_format = "xferlog"`: each file transfer as the classic xferlog line
//! (wu-ftpd, vsftpd, ProFTPD), which log analysers such as webalizer and AWStats read:
//!
//! `Sat Dec  5 16:32:47 2026 2 127.0.0.1 1048576 /in/file.bin b _ i r alice ftp 0 * c`
//!
//! time (UTC, like the rest of the log), seconds (at least 1), client address, bytes, path
//! (whitespace and control characters as `_`, so the fields stay countable), `a`scii or
//! `b`inary, no special action, `o`utgoing or `i`ncoming, `a`nonymous or `r`eal user, user,
//! service, no RFC 931 authentication, `c`omplete or `i`ncomplete. Listings are not file
//! transfers and are left out, as in the classic servers.

use std::io::Write;

use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// What the session logs about one transfer (target `xferlog`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TransferRecord {
    pub user: String,
    pub ip: String,
    pub command: String,
    pub path: String,
    pub bytes: u64,
    pub secs: f64,
    pub ok: bool,
    pub ascii: bool,
    pub anonymous: bool,
}

impl Visit for TransferRecord {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "user" => self.user = value.to_string(),
            "command" => self.command = value.to_string(),
            "path" => self.path = value.to_string(),
            "result" => self.ok = value == "ok",
            _ => {}
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "bytes" {
            self.bytes = value;
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "secs" {
            self.secs = value;
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "ascii" => self.ascii = value,
            "anonymous" => self.anonymous = value,
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "ip" {
            self.ip = format!("{value:?}");
        }
    }
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// One field without spaces: whitespace and control characters become `_`; empty is `-`.
fn field(s: &str) -> String {
    if s.is_empty() {
        return "-".into();
    }
    s.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The xferlog line for `r` finished at `now`, or `None` for what is not a file transfer.
pub fn line(r: &TransferRecord, now: OffsetDateTime) -> Option<String> {
    let direction = match r.command.as_str() {
        "RETR" => 'o',
        "STOR" | "APPE" | "STOU" => 'i',
        _ => return None,
    };
    let secs = (r.secs.round() as u64).max(1);
    Some(format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {} {secs} {} {} {} {} _ {direction} {} {} ftp 0 * {}\n",
        DAYS[now.weekday().number_days_from_monday() as usize],
        MONTHS[u8::from(now.month()) as usize - 1],
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.year(),
        field(&r.ip),
        r.bytes,
        field(&r.path),
        if r.ascii { 'a' } else { 'b' },
        if r.anonymous { 'a' } else { 'r' },
        field(&r.user),
        if r.ok { 'c' } else { 'i' },
    ))
}

/// Writes the transfer events it sees as xferlog lines (filter it to target `xferlog`).
pub struct XferlogLayer<W> {
    writer: W,
}

impl<W> XferlogLayer<W> {
    pub fn new(writer: W) -> Self {
        XferlogLayer { writer }
    }
}

impl<S, W> Layer<S> for XferlogLayer<W>
where
    S: tracing::Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut r = TransferRecord::default();
        event.record(&mut r);
        if let Some(l) = line(&r, OffsetDateTime::now_utc()) {
            let _ = self.writer.make_writer().write_all(l.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> OffsetDateTime {
        // Saturday 5 December 2026, 16:32:47 UTC.
        OffsetDateTime::from_unix_timestamp(1_796_488_367).unwrap()
    }

    fn record() -> TransferRecord {
        TransferRecord {
            user: "alice".into(),
            ip: "127.0.0.1".into(),
            command: "STOR".into(),
            path: "/in/file.bin".into(),
            bytes: 1_048_576,
            secs: 1.6,
            ok: true,
            ascii: false,
            anonymous: false,
        }
    }

    #[test]
    fn an_upload_is_the_classic_fourteen_field_line() {
        let l = line(&record(), at()).unwrap();
        assert_eq!(
            l,
            "Sat Dec  5 16:32:47 2026 2 127.0.0.1 1048576 /in/file.bin b _ i r alice ftp 0 * c\n"
        );
        assert_eq!(l.split_whitespace().count(), 18, "5 time words + 13 fields");
    }

    #[test]
    fn download_anonymous_ascii_incomplete_and_awkward_names() {
        let r = TransferRecord {
            command: "RETR".into(),
            path: "/a b\tc\r\nd.txt".into(),
            secs: 0.01,
            ok: false,
            ascii: true,
            anonymous: true,
            user: "anonymous".into(),
            ..record()
        };
        let l = line(&r, at()).unwrap();
        assert!(
            l.ends_with(" 1 127.0.0.1 1048576 /a_b_c__d.txt a _ o a anonymous ftp 0 * i\n"),
            "{l}"
        );
        assert_eq!(l.matches('\n').count(), 1);
    }

    #[test]
    fn listings_are_not_file_transfers() {
        for c in ["LIST", "NLST", "MLSD", ""] {
            let r = TransferRecord {
                command: c.into(),
                ..record()
            };
            assert_eq!(line(&r, at()), None);
        }
    }
}
