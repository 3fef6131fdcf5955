//! What the bench sends and what it must get back, byte for byte.
//!
//! Every connection sends one fixed message (its own, so replies crossing
//! between connections would be caught), so the reply stream is one reply
//! repeated. [`Checker`] compares incoming bytes against that repetition
//! however the reads split it, with one `memcmp` per read in the common
//! case, and counts whole replies. That keeps checking every byte cheap
//! enough for ten million replies a second.

use std::time::Duration;

use tcpkit_wire::Escaped;
use tcpkit_wire::greeting::{ClientFraming, Template};

/// The bytes of one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The welcome the server sends first (may be empty).
    pub welcome: Vec<u8>,
    /// One message as sent, terminator included.
    pub message: Vec<u8>,
    /// The reply to it, terminator included.
    pub reply: Vec<u8>,
    /// `exit` as sent.
    pub exit: Vec<u8>,
}

impl Script {
    /// The script for `message` under the server's `welcome` and `reply`
    /// template: line framing adds `\n` to each, chunk framing nothing.
    pub fn new(framing: ClientFraming, welcome: &str, reply: &Template, message: &[u8]) -> Script {
        let end: &[u8] = match framing {
            ClientFraming::Line => b"\n",
            ClientFraming::Chunk => b"",
        };
        let with_end = |bytes: &[u8]| [bytes, end].concat();
        let rendered = reply.reply_to(message);
        Script {
            welcome: if welcome.is_empty() {
                Vec::new()
            } else {
                with_end(welcome.as_bytes())
            },
            message: with_end(message),
            reply: with_end(&rendered),
            exit: with_end(b"exit"),
        }
    }
}

/// A wrong byte in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What was expected from the point of the difference (escaped, cut).
    pub expected: String,
    /// What arrived instead (escaped, cut).
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {}, got {}", self.expected, self.got)
    }
}

/// What to say when an exact answer (`what`) stopped coming after its
/// first `got` bytes, which were right: what came, and when all that is
/// missing is the newline, the likely cause and the fix.
pub fn not_in_time(
    what: &str,
    expected: &[u8],
    got: usize,
    waited: Duration,
) -> crate::setting::Words {
    let waited = humantime::format_duration(waited);
    if got == 0 {
        return crate::words!("the {what} did not come within {waited} (nothing came)");
    }
    let hint = if &expected[got..] == b"\n" {
        crate::words!(
            ": it has no newline, as from the tutorial's own server? try {} chunk",
            crate::setting::Setting::Framing
        )
    } else {
        crate::setting::Words::default()
    };
    crate::words!(
        "the {what} did not come within {waited}: only {} came, {got} of its {} bytes{}",
        Escaped(&expected[..got]),
        expected.len(),
        hint
    )
}

/// Checks one piece of an exact answer (a welcome, a reply) that arrived
/// at offset `at` of `expected`; the message names `what` was wrong.
pub fn check_piece(
    expected: &[u8],
    at: usize,
    piece: &[u8],
    what: &str,
) -> Result<(), crate::setting::Words> {
    if expected.get(at..at + piece.len()) == Some(piece) {
        return Ok(());
    }
    Err(crate::words!(
        "wrong {what}: expected {}, got {}",
        Escaped(expected),
        Escaped(piece)
    ))
}

/// Checks a stream of replies that should be `reply` repeated.
#[derive(Debug, Clone)]
pub struct Checker {
    /// The reply repeated `repeat` times, so one comparison covers a read
    /// holding many replies.
    pattern: Vec<u8>,
    /// The length of one reply.
    len: usize,
    /// How far into the current reply the stream is.
    offset: usize,
}

impl Checker {
    /// A checker for `reply`, comparing up to `batch` replies at a time.
    pub fn new(reply: &[u8], batch: usize) -> Checker {
        Checker {
            pattern: reply.repeat(batch.max(1) + 1),
            len: reply.len(),
            offset: 0,
        }
    }

    /// Checks `input`, the next bytes of the stream; returns how many
    /// replies it completed.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<usize, Mismatch> {
        let mut done = 0;
        while !input.is_empty() {
            // pattern[offset..] is the stream from here on, for as many
            // whole replies as the pattern holds.
            let window = &self.pattern[self.offset..self.pattern.len() - self.len];
            let take = window.len().min(input.len());
            if input[..take] != window[..take] {
                let at = input[..take]
                    .iter()
                    .zip(window)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                // Show the reply from its start, as far as this read has it.
                let into_reply = (self.offset + at) % self.len;
                let start = at.saturating_sub(into_reply);
                let reply = &self.pattern[..self.len];
                return Err(Mismatch {
                    expected: Escaped(reply).to_string(),
                    got: Escaped(&input[start..]).to_string(),
                });
            }
            let total = self.offset + take;
            done += total / self.len;
            self.offset = total % self.len;
            input = &input[take..];
        }
        Ok(done)
    }

    /// True when the stream is between replies.
    #[cfg(test)]
    pub fn at_boundary(&self) -> bool {
        self.offset == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_follow_the_framing() {
        let t = Template::parse("Hello, {}!");
        let line = Script::new(ClientFraming::Line, "Welcome!", &t, b"Michael");
        assert_eq!(line.welcome, b"Welcome!\n");
        assert_eq!(line.message, b"Michael\n");
        assert_eq!(line.reply, b"Hello, Michael!\n");
        let chunk = Script::new(ClientFraming::Chunk, "", &t, b"Tracy");
        assert_eq!(chunk.welcome, b"");
        assert_eq!(
            (chunk.message.as_slice(), chunk.reply.as_slice()),
            (&b"Tracy"[..], &b"Hello, Tracy!"[..])
        );
    }

    #[test]
    fn counts_replies_across_any_split() {
        let stream = b"Hi!\n".repeat(50);
        for step in 1..stream.len() {
            let mut c = Checker::new(b"Hi!\n", 7);
            let done: usize = stream.chunks(step).map(|p| c.feed(p).unwrap()).sum();
            assert_eq!(done, 50, "step {step}");
            assert!(c.at_boundary());
        }
    }

    #[test]
    fn finds_the_first_wrong_byte() {
        let mut c = Checker::new(b"Hi!\n", 4);
        assert_eq!(c.feed(b"Hi!\nH"), Ok(1));
        let err = c.feed(b"o!\n").unwrap_err();
        assert_eq!(err.expected, "\"Hi!\\n\"");
        assert!(err.got.starts_with("\"o!"), "{err}");
        let mut c = Checker::new(b"Hi!\n", 4);
        let err = c.feed(b"Hi!\nHo!\n").unwrap_err();
        assert_eq!(err.got, "\"Ho!\\n\"", "from the start of the wrong reply");
    }
}
