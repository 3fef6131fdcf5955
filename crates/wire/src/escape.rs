//! [`Escaped`]: the only way peer bytes reach a log line or an error
//! message. Control bytes and non-UTF-8 are escaped and long input is cut,
//! so a peer can neither forge log lines, nor flood a log, nor send escape
//! sequences to the user's terminal.

use std::fmt;

/// Client bytes shown in a log line at most.
pub const LOG_BYTES: usize = 64;

/// Characters that must not reach a log or a terminal as they are: C0
/// and C1 controls (`char::is_control`), and the ones that reorder or
/// break what is shown around them: the bidi embeddings, overrides and
/// isolates (U+202A-U+202E, U+2066-U+2069, as in "Trojan Source") and the
/// line and paragraph separators (U+2028, U+2029).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Displays bytes escaped (`\n`, `\x1b`, ...) and cut at [`LOG_BYTES`].
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(LOG_BYTES)];
        f.write_str("\"")?;
        for chunk in shown.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_ascii_control() && !matches!(c, '\t' | '\r' | '\n') {
                    // As a byte, like the non-UTF-8 ones below: one
                    // form for every raw byte (`\x00`, `\x1b`, `\xa3`).
                    write!(f, "\\x{:02x}", c as u32)?;
                } else if c == '"' || c == '\\' || is_unsafe(c) {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")?;
        if self.0.len() > shown.len() {
            let more = self.0.len() - shown.len();
            let s = if more == 1 { "" } else { "s" };
            write!(f, "... ({more} more byte{s})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_separators_and_c1_are_escaped() {
        let text = "a\u{202E}b\u{2066}c\u{2028}d\u{2029}e\u{85}f\u{9b}g é";
        assert_eq!(
            Escaped(text.as_bytes()).to_string(),
            "\"a\\u{202e}b\\u{2066}c\\u{2028}d\\u{2029}e\\u{85}f\\u{9b}g é\""
        );
    }

    #[test]
    fn escapes_and_truncates() {
        assert_eq!(Escaped(b"Michael").to_string(), "\"Michael\"");
        assert_eq!(
            Escaped(b"a\r\n\x1b[31m\"\\\xff").to_string(),
            "\"a\\r\\n\\x1b[31m\\\"\\\\\\xff\""
        );
        // A NUL and a byte that is not UTF-8 look alike.
        assert_eq!(Escaped(b"\0\xa3\x7f").to_string(), "\"\\x00\\xa3\\x7f\"");
        let long = vec![b'x'; 100];
        assert!(
            Escaped(&long)
                .to_string()
                .ends_with("\"... (36 more bytes)")
        );
    }
}
