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
/// except tabs and the newline that ends it. C1 controls (U+0080..U+009F) too, which some
/// terminals obey like escape sequences.
pub fn escape(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    let last = buf.len().saturating_sub(1);
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if (b < 0x20 && b != b'\t' && !(b == b'\n' && i == last)) || b == 0x7f {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else if b == 0xc2 && buf.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) {
            out.extend_from_slice(format!("\\u{{{:x}}}", buf[i + 1]).as_bytes());
            i += 1;
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

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
    }
}
