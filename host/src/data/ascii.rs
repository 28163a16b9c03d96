//! TYPE A line-ending conversion, pure and chunk-safe: LF → CRLF on the way out,
//! CRLF → LF on the way in (a CR at a chunk boundary is held until the next chunk).

/// Local text (LF) to wire text (CRLF). `prev_cr` carries state across chunks.
pub fn to_wire(input: &[u8], out: &mut Vec<u8>, prev_cr: &mut bool) {
    out.clear();
    for &b in input {
        if b == b'\n' && !*prev_cr {
            out.push(b'\r');
        }
        out.push(b);
        *prev_cr = b == b'\r';
    }
}

/// Wire text (CRLF) to local text (LF). `pending_cr` is a CR not yet known to start CRLF.
pub fn from_wire(input: &[u8], out: &mut Vec<u8>, pending_cr: &mut bool) {
    out.clear();
    for &b in input {
        if *pending_cr {
            *pending_cr = false;
            if b != b'\n' {
                out.push(b'\r');
            }
        }
        if b == b'\r' {
            *pending_cr = true;
        } else {
            out.push(b);
        }
    }
}

/// Flushes a CR held at the end of an upload.
pub fn finish_from_wire(out: &mut Vec<u8>, pending_cr: &mut bool) {
    out.clear();
    if std::mem::take(pending_cr) {
        out.push(b'\r');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_all(chunks: &[&[u8]]) -> Vec<u8> {
        let (mut st, mut all, mut o) = (false, Vec::new(), Vec::new());
        for c in chunks {
            to_wire(c, &mut o, &mut st);
            all.extend_from_slice(&o);
        }
        all
    }

    fn in_all(chunks: &[&[u8]]) -> Vec<u8> {
        let (mut st, mut all, mut o) = (false, Vec::new(), Vec::new());
        for c in chunks {
            from_wire(c, &mut o, &mut st);
            all.extend_from_slice(&o);
        }
        finish_from_wire(&mut o, &mut st);
        all.extend_from_slice(&o);
        all
    }

    #[test]
    fn outbound() {
        assert_eq!(out_all(&[b"a\nb\r\nc"]), b"a\r\nb\r\nc");
        assert_eq!(out_all(&[b"a\r", b"\nb\n"]), b"a\r\nb\r\n");
    }

    #[test]
    fn inbound() {
        assert_eq!(in_all(&[b"a\r\nb\r\n"]), b"a\nb\n");
        assert_eq!(in_all(&[b"a\r", b"\nb"]), b"a\nb");
        assert_eq!(in_all(&[b"a\rb\r"]), b"a\rb\r");
    }

    proptest::proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), split in 0usize..300) {
            // Text without CR survives LF -> CRLF -> LF in any chunking.
            let text: Vec<u8> = data.into_iter().filter(|b| *b != b'\r').collect();
            let wire = out_all(&[&text]);
            let s = split.min(wire.len());
            proptest::prop_assert_eq!(in_all(&[&wire[..s], &wire[s..]]), text);
        }
    }
}
