//! Text log lines hold what clients typed (user names, paths, commands). A control character
//! in them — a newline forging a second log line, an escape sequence for the terminal that
//! shows the log — is written escaped (`\x1b`), so one event stays one honest line.
//! (JSON lines escape them already.)

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Wraps a writer maker so every event is written with its control characters escaped.
pub struct EscapeControls<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for EscapeControls<M> {
    type Writer = Escaping<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Escaping(self.0.make_writer())
    }
}

pub struct Escaping<W>(W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(&escape(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// One formatted event (the formatter writes each in one call): control characters escaped,
/// except tabs and the newline that ends it; C1 controls (U+0080..U+009F, which some terminals
/// obey like escape sequences), line separators and bidi overrides (which reorder what the
/// operator reads) too.
pub fn escape(buf: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(buf);
    let body = text.strip_suffix('\n');
    let mut out = printable(body.unwrap_or(&text)).into_bytes();
    if body.is_some() {
        out.push(b'\n');
    }
    out
}

/// `s` safe to show on a terminal or in a log line: control characters (but tab), C1
/// controls, line/paragraph separators and bidi embedding/override/isolate characters as
/// `\x1b` / `\u{202e}`. For everything a client chose (user names, paths) shown to an operator.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let u = c as u32;
        if (u < 0x20 && c != '\t') || u == 0x7f {
            out.push_str(&format!("\\x{u:02x}"));
        } else if (0x80..=0x9f).contains(&u)
            || matches!(u, 0x2028 | 0x2029 | 0x202a..=0x202e | 0x2066..=0x2069 | 0x200e | 0x200f)
        {
            out.push_str(&format!("\\u{{{u:x}}}"));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, printable};

    #[test]
    fn forged_lines_and_terminal_escapes_are_escaped() {
        assert_eq!(escape(b"user=bob\n"), b"user=bob\n");
        assert_eq!(
            escape(b"user=bob\nINFO login user=root\n"),
            b"user=bob\\x0aINFO login user=root\n"
        );
        assert_eq!(escape(b"a\x1b[2Jb\r\x7f\n"), b"a\\x1b[2Jb\\x0d\\x7f\n");
        assert_eq!(
            escape("x\u{9b}y é\t\n".as_bytes()),
            "x\\u{9b}y é\t\n".as_bytes()
        );
        assert_eq!(
            printable("evil\u{202e}txt.exe\u{2028}x"),
            "evil\\u{202e}txt.exe\\u{2028}x"
        );
    }
}
