//! [`SafeTerminal`]: a writer that makes a peer's bytes harmless to show
//! on a terminal. A hostile server can send escape sequences that clear
//! the screen, set the window title, write the clipboard (OSC 52) or
//! rewrite earlier lines; written through this, every control byte other
//! than `\n`, `\t` and the `\r` of a `\r\n` (and the characters
//! [`is_unsafe`] names) shows as `\x1b`-style text instead, and bytes that
//! are not UTF-8 as `\xNN`.
//! Output that is not a terminal is never altered: callers wrap only
//! when it is one (and the user did not ask for raw bytes).

use std::io::{self, Write};

use tcpkit_wire::escape::is_unsafe;

/// Escapes what passes through it (see the module doc), keeping a UTF-8
/// sequence split across two writes whole.
pub struct SafeTerminal<W: Write> {
    inner: W,
    /// The start of a UTF-8 sequence whose rest has not come yet.
    carry: Vec<u8>,
}

impl<W: Write> SafeTerminal<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> SafeTerminal<W> {
        SafeTerminal {
            inner,
            carry: Vec::new(),
        }
    }

    /// Escapes `bytes` (the carry first) into `out`; an unfinished UTF-8
    /// sequence at the end is kept for the next write unless `last`.
    fn escape(&mut self, bytes: &[u8], last: bool, out: &mut String) {
        let mut input = std::mem::take(&mut self.carry);
        input.extend_from_slice(bytes);
        let mut chunks = input.utf8_chunks().peekable();
        while let Some(chunk) = chunks.next() {
            let mut chars = chunk.valid().chars().peekable();
            while let Some(c) = chars.next() {
                let line_end = c == '\n' || (c == '\r' && chars.peek() == Some(&'\n'));
                if !line_end && c != '\t' && is_unsafe(c) {
                    push_escaped(c, out);
                } else {
                    out.push(c);
                }
            }
            let invalid = chunk.invalid();
            // The last invalid piece may be a sequence cut by the write.
            if !last && chunks.peek().is_none() && is_utf8_prefix(invalid) {
                self.carry = invalid.to_vec();
            } else {
                for b in invalid {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
        }
    }
}

/// `c` as text: `\x1b` for an ASCII byte, `\u{9b}` for the rest.
fn push_escaped(c: char, out: &mut String) {
    match u8::try_from(u32::from(c)) {
        Ok(b) if b < 0x80 => out.push_str(&format!("\\x{b:02x}")),
        _ => out.extend(c.escape_unicode()),
    }
}

/// Text from a file we did not write (a report `bench merge` reads), with
/// every character a terminal could act on shown as text, line ends and
/// tabs too: harmless on a terminal, in a log line, in a table's row.
pub fn safe_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) || c.is_control() {
            push_escaped(c, &mut out);
        } else {
            out.push(c);
        }
    }
    out
}

/// True when `bytes` could begin a UTF-8 sequence that more bytes finish.
fn is_utf8_prefix(bytes: &[u8]) -> bool {
    let Some(&lead) = bytes.first() else {
        return false;
    };
    let len = match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return false,
    };
    bytes.len() < len && bytes[1..].iter().all(|b| (0x80..=0xBF).contains(b))
}

impl<W: Write> Write for SafeTerminal<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = String::with_capacity(buf.len());
        self.escape(buf, false, &mut out);
        self.inner.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for SafeTerminal<W> {
    fn drop(&mut self) {
        if !self.carry.is_empty() {
            let mut out = String::new();
            self.escape(b"", true, &mut out);
            let _ = self.inner.write_all(out.as_bytes());
            let _ = self.inner.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(writes: &[&[u8]]) -> String {
        let mut out = Vec::new();
        {
            let mut term = SafeTerminal::new(&mut out);
            for w in writes {
                term.write_all(w).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escape_sequences_are_shown_not_run() {
        assert_eq!(
            shown(&[b"\x1b[2J\x1b]52;c;aGk=\x07hi\r\n\tok\rno\n"]),
            "\\x1b[2J\\x1b]52;c;aGk=\\x07hi\r\n\tok\\x0dno\n"
        );
        assert_eq!(
            shown(&["a\u{202E}b\u{9b}c".as_bytes()]),
            "a\\u{202e}b\\u{9b}c"
        );
        assert_eq!(shown(&[b"\xff\xfe x"]), "\\xff\\xfe x");
    }

    #[test]
    fn a_character_split_across_writes_stays_whole() {
        let e_acute = "é".as_bytes();
        assert_eq!(shown(&[&[b'x', e_acute[0]], &e_acute[1..]]), "xé");
        let csi = "\u{9b}".as_bytes();
        assert_eq!(shown(&[&csi[..1], &csi[1..]]), "\\u{9b}");
        // A sequence that never finishes is shown escaped at the end.
        assert_eq!(shown(&[&[b'x', e_acute[0]]]), "x\\xc3");
    }
}
