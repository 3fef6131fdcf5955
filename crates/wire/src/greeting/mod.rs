//! The greeting protocol as a pure decoder/encoder: bytes in, replies out, no I/O.
//!
//! The server (`tcpkit::server`) reads from a socket and hands every read to a
//! [`Decoder`], which appends the replies it owes to an output buffer and says
//! when the connection must close. Keeping the decoder free of I/O lets it be
//! unit-tested and property-tested with arbitrary splits of the byte stream.
//! `docs/protocol.md` is the specification this module implements.

use std::fmt;

use thin_vec::ThinVec;

use settings::WIDE;

mod settings;

pub use settings::{
    ClientFraming, DEFAULT_MAX_MESSAGE, DEFAULT_REPLY, DEFAULT_WELCOME, EXIT, Framing, Settings,
    Template,
};

/// Why the decoder wants the connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// The client sent `exit`.
    Exit,
    /// A message was longer than the limit; the error reply was appended.
    TooLong,
}

impl fmt::Display for Close {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Close::Exit => f.write_str("client sent exit"),
            Close::TooLong => f.write_str("message too long"),
        }
    }
}

/// What one call to [`Decoder::decode`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used; less than the input only when stopped early
    /// (the reply budget ran out, or the connection must close).
    pub consumed: usize,
    /// Replies appended to the output.
    pub replies: usize,
    /// Set when the connection must close after the output is sent.
    pub close: Option<Close>,
}

/// One connection's decoding state.
#[derive(Debug, Default)]
pub struct Decoder {
    /// True once the connection is line-framed.
    line: bool,
    /// The start of a line whose `\n` has not arrived yet. One pointer,
    /// and no allocation while empty: a server keeps a decoder in every
    /// idle connection's state.
    partial: ThinVec<u8>,
    /// Set once a [`Close`] was returned; later input is ignored.
    closed: bool,
}

/// A partial line keeps at most this much capacity when it is cleared, so a
/// connection that once saw a long line does not hold its memory forever.
const KEEP_CAPACITY: usize = 1024;

impl Decoder {
    /// A decoder for a new connection.
    pub fn new(framing: Framing) -> Decoder {
        Decoder {
            line: framing == Framing::Line,
            ..Decoder::default()
        }
    }

    /// True once the connection is line-framed.
    pub fn is_line_framed(&self) -> bool {
        self.line
    }

    /// Bytes held of a line whose terminator has not arrived.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// The memory held for a line whose terminator has not arrived: what a
    /// server counts against its budget for buffered input.
    pub fn buffered(&self) -> usize {
        self.partial.capacity()
    }

    /// Decodes `input` (the next bytes of the stream, exactly one socket read
    /// when chunk-framed), appending at most `budget` replies to `out`.
    pub fn decode(
        &mut self,
        settings: &Settings,
        input: &[u8],
        out: &mut Vec<u8>,
        budget: usize,
    ) -> Progress {
        self.decode_until(settings, input, out, budget, usize::MAX)
    }

    /// As [`Decoder::decode`], but also stops once `out` holds `out_limit`
    /// bytes or more (checked before each message, so `out` ends at most one
    /// reply past it): a server that must write before it decodes further
    /// (its client is slow to read) keeps its output bounded.
    pub fn decode_until(
        &mut self,
        settings: &Settings,
        input: &[u8],
        out: &mut Vec<u8>,
        budget: usize,
        out_limit: usize,
    ) -> Progress {
        let mut progress = Progress::default();
        if self.closed || budget == 0 || input.is_empty() {
            return progress;
        }
        if !self.line {
            if settings.framing == Framing::Auto && memchr::memchr(b'\n', input).is_some() {
                self.line = true;
            } else {
                progress.consumed = input.len();
                progress.close = self.answer(settings, out, input, b"", b"");
                progress.replies = usize::from(progress.close.is_none());
                return progress;
            }
        }
        let mut pos = 0;
        while progress.replies < budget && pos < input.len() && out.len() < out_limit {
            if self.partial.is_empty() {
                // Every usual line there is, in a loop of its own; the
                // rest of this one sees the line it stopped at, if any.
                let (used, replies) = usual_lines(
                    settings,
                    &input[pos..],
                    out,
                    budget - progress.replies,
                    out_limit,
                );
                pos += used;
                progress.replies += replies;
                if progress.replies == budget || pos == input.len() || out.len() >= out_limit {
                    break;
                }
            }
            let rest = &input[pos..];
            let Some(nl) = find_newline(rest) else {
                pos = input.len();
                progress.close = self.keep_partial(settings, out, rest);
                break;
            };
            pos += nl + 1;
            let piece = &rest[..nl];
            let close = if self.partial.is_empty() {
                // A line `usual_lines` left: `exit`, too long, or any
                // line of a template with other than one `{}`.
                let (body, terminator): (&[u8], &[u8]) = match piece.split_last() {
                    Some((b'\r', body)) => (body, b"\r\n"),
                    _ => (piece, b"\n"),
                };
                answer_line(settings, out, body, b"", terminator)
            } else {
                // Drop the `\r` of a `\r\n`, which may be the last byte of
                // the partial line when the `\r` and the `\n` came in
                // different reads.
                let (head, tail, terminator): (&[u8], &[u8], &[u8]) = match piece.split_last() {
                    Some((b'\r', body)) => (&self.partial, body, b"\r\n"),
                    Some(_) => (&self.partial, piece, b"\n"),
                    None => match self.partial.split_last() {
                        Some((b'\r', body)) => (body, b"", b"\r\n"),
                        _ => (&self.partial, b"", b"\n"),
                    },
                };
                let close = answer_line(settings, out, head, tail, terminator);
                self.clear_partial();
                close
            };
            if close.is_some() {
                progress.close = close;
                break;
            }
            progress.replies += 1;
        }
        if progress.close.is_some() {
            self.closed = true;
        }
        progress.consumed = pos;
        progress
    }

    /// The stream ended: an unterminated line counts as a message.
    pub fn finish(&mut self, settings: &Settings, out: &mut Vec<u8>) -> Progress {
        let mut progress = Progress::default();
        if self.closed || self.partial.is_empty() {
            return progress;
        }
        let partial = std::mem::take(&mut self.partial);
        // A line-framed connection's error reply is a line, even when the
        // too-long message is the unterminated rest of the stream.
        if self.line && partial.len() > settings.max_message {
            progress.close = Some(self.refuse(settings, out));
            return progress;
        }
        progress.close = self.answer(settings, out, &partial, b"", b"");
        if progress.close.is_none() {
            progress.replies = 1;
        }
        progress
    }

    /// Answers one whole message, or says why the connection must close.
    fn answer(
        &mut self,
        settings: &Settings,
        out: &mut Vec<u8>,
        head: &[u8],
        tail: &[u8],
        terminator: &[u8],
    ) -> Option<Close> {
        let close = answer_line(settings, out, head, tail, terminator);
        if close.is_some() {
            self.closed = true;
        }
        close
    }

    /// Keeps the start of a line until its `\n` arrives, unless it is already
    /// longer than any message may be.
    fn keep_partial(
        &mut self,
        settings: &Settings,
        out: &mut Vec<u8>,
        rest: &[u8],
    ) -> Option<Close> {
        let held = self.partial.len() + rest.len();
        // One byte over the limit may still be the `\r` of a `\r\n`.
        let last = rest.last().copied();
        if held > settings.max_message + 1
            || (held == settings.max_message + 1 && last != Some(b'\r'))
        {
            return Some(self.refuse(settings, out));
        }
        // Grow as a Vec does (doubling), but never past the longest line
        // that may be kept: doubling 64 KiB for its last byte would hold
        // (and count against a server's budget) 128 KiB for a 64 KiB line.
        if held > self.partial.capacity() {
            let doubled = self.partial.capacity().saturating_mul(2);
            let capacity = doubled.min(settings.max_message + 1).max(held);
            self.partial.reserve_exact(capacity - self.partial.len());
        }
        self.partial.extend_from_slice(rest);
        None
    }

    /// Refuses a line-framed message that is too long: the error reply,
    /// as a line, and the end of the conversation.
    fn refuse(&mut self, settings: &Settings, out: &mut Vec<u8>) -> Close {
        self.clear_partial();
        too_long(settings, out, b"\n");
        self.closed = true;
        Close::TooLong
    }

    /// Drops any unfinished message and its memory, and ignores all later
    /// input: for a connection that is being closed.
    pub fn abandon(&mut self) {
        self.partial = ThinVec::new();
        self.closed = true;
    }

    fn clear_partial(&mut self) {
        if self.partial.capacity() > KEEP_CAPACITY {
            self.partial = ThinVec::new();
        } else {
            self.partial.clear();
        }
    }
}

/// Appends the reply to the message `head` + `tail`, or the error reply when
/// it is too long; returns why the connection must close, if it must.
fn answer_line(
    settings: &Settings,
    out: &mut Vec<u8>,
    head: &[u8],
    tail: &[u8],
    terminator: &[u8],
) -> Option<Close> {
    let len = head.len() + tail.len();
    if len > settings.max_message {
        let terminator: &[u8] = if terminator.is_empty() { b"" } else { b"\n" };
        too_long(settings, out, terminator);
        return Some(Close::TooLong);
    }
    if len == EXIT.len() && is_exit(head, tail) {
        return Some(Close::Exit);
    }
    settings.reply.render(out, head, tail);
    out.extend_from_slice(terminator);
    None
}

/// The hot path: answers the whole lines at the start of `input` that are
/// usual (a template with one `{}`, not `exit`, not too long), at most
/// `budget` of them and until `out` holds `out_limit` bytes; stops at the
/// first line that is not, and before an unfinished one. Returns the bytes
/// consumed and the replies made. The caller has no partial line.
///
/// A loop of its own, the template's pieces looked up once, so that its
/// few values stay in registers; with [`find_newline`] and
/// [`settings::OneSlot::render_wide`], `benches/decoder.rs` measured a
/// read of 64 short lines at 360 ns against 890 for the general loop.
#[inline]
fn usual_lines(
    settings: &Settings,
    input: &[u8],
    out: &mut Vec<u8>,
    budget: usize,
    out_limit: usize,
) -> (usize, usize) {
    let Some(one) = settings.reply.one_slot() else {
        return (0, 0);
    };
    let mut pos = 0;
    let mut replies = 0;
    // Replies are written at `used`, into zeroed room kept ahead of it, so
    // that a short reply is three fixed-size copies and no length check.
    let mut used = out.len();
    while replies < budget && used < out_limit {
        let rest = &input[pos..];
        let Some(nl) = find_newline(rest) else {
            break;
        };
        let (body, crlf) = match rest[..nl].split_last() {
            Some((b'\r', body)) => (body, true),
            _ => (&rest[..nl], false),
        };
        if body.len() > settings.max_message || body == EXIT {
            break;
        }
        if out.len() < used + 3 * WIDE {
            out.resize(used + ROOM, 0);
        }
        let wide = out[used..]
            .first_chunk_mut()
            .and_then(|room| one.render_wide(room, body, rest, crlf));
        if let Some(len) = wide {
            used += len;
        } else {
            out.truncate(used);
            one.render(out, body, crlf);
            used = out.len();
        }
        pos += nl + 1;
        replies += 1;
    }
    out.truncate(used);
    (pos, replies)
}

/// How much zeroed room [`usual_lines`] makes ahead of its replies at a
/// time: a dozen short replies. Zeroing is the cost of making room without
/// `unsafe`; 4 KiB at a time took 410 ns for 64 lines, 256 bytes 360.
const ROOM: usize = 256;

/// Where the first `\n` in `hay` is. A pipelining client's lines are
/// short, a few words each, and a read holds dozens: for those, a word at
/// a time in plain code is quicker than a call into `memchr`, whose
/// vector search pays for itself only over longer stretches, where it
/// takes over.
#[inline]
fn find_newline(hay: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let head = &hay[..hay.len().min(SHORT)];
    let mut words = head.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        // The classic test for a zero byte, on the word XOR newlines: a
        // bit is set at the first newline's byte (later ones may be wrong,
        // the first never is).
        let x = u64::from_le_bytes(bytes) ^ NEWLINES;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if let Some(i) = words.remainder().iter().position(|&b| b == b'\n') {
        return Some(at + i);
    }
    if hay.len() <= SHORT {
        return None;
    }
    memchr::memchr(b'\n', &hay[SHORT..]).map(|i| SHORT + i)
}

fn is_exit(head: &[u8], tail: &[u8]) -> bool {
    let (a, b) = EXIT.split_at(head.len());
    a == head && b == tail
}

fn too_long(settings: &Settings, out: &mut Vec<u8>, terminator: &[u8]) {
    out.extend_from_slice(b"Error: message longer than ");
    out.extend_from_slice(
        crate::Bytes::of(settings.max_message)
            .to_string()
            .as_bytes(),
    );
    out.extend_from_slice(terminator);
}

#[cfg(test)]
mod tests;
