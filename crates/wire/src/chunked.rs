//! The chunked transfer coding (RFC 9112 §7.1) as a pure, streaming
//! decoder: bytes in, body bytes out through a callback, no I/O and no
//! buffering of its own, so any split of the input gives the same result.
//!
//! The rules, and why:
//! - A chunk size is hex digits, case-insensitive, leading zeros allowed;
//!   the value is overflow-checked (hyper does the same) so a 17-digit size
//!   is an error, not a wrapped-around small number.
//! - Chunk extensions (`;name=value`) are skipped but count against the
//!   line limit, so a server cannot stream an endless size line at us.
//! - The chunk-size line and the CRLF after chunk data must be CRLF: the
//!   RFC allows a bare LF only for the start line and fields (§2.2).
//! - Trailer fields are read and dropped; they may end with a bare LF
//!   (they are fields) and their section is capped like a head.

use std::ops::Range;

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The size line did not start with a hex digit or had junk after it.
    #[error("invalid chunk size line (expected hex digits, got {0:?})")]
    BadSize(char),
    /// The size does not fit in 64 bits.
    #[error("chunk size has too many digits (more than 64 bits)")]
    SizeOverflow,
    /// A CR not followed by LF, or a bare LF where CRLF is required.
    #[error("expected CRLF {0}")]
    MissingCrlf(&'static str),
    /// A size line (with its extensions) longer than the limit.
    #[error("chunk size line longer than {}", crate::Bytes::of(*.0))]
    LineTooLong(usize),
    /// The trailer section is longer than the limit.
    #[error("trailer section larger than {}", crate::Bytes::of(*.0))]
    TrailersTooLarge(usize),
    /// A control byte inside a chunk extension or trailer field.
    #[error("control byte 0x{0:02x} in a chunk extension or trailer")]
    ControlByte(u8),
}

/// Where the decoder is inside the chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk size.
    Size { value: u64, digits: usize },
    /// Whitespace after the digits; `;` or CR must follow.
    Lws(u64),
    /// Inside chunk extensions, up to CR.
    Ext(u64),
    /// Saw the CR that ends the size line; LF must follow.
    SizeLf(u64),
    /// Inside chunk data, this many bytes to go.
    Data(u64),
    /// Chunk data ended; CR must follow.
    DataCr,
    /// Saw the CR after chunk data; LF must follow.
    DataLf,
    /// At the start of a trailer line (an empty one ends the body).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// Saw CR at the start of a trailer line; LF ends the body.
    EndLf,
    /// Saw CR inside a trailer line; LF ends the line.
    TrailerLf,
    /// The last chunk and trailers are complete.
    Done,
}

/// The result of feeding bytes to [`ChunkedDecoder::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// How many input bytes were used; the rest belong after the body.
    pub consumed: usize,
    /// The whole body, last chunk and trailers included, has been seen.
    pub done: bool,
}

/// After the size digits: whitespace, then `;extensions`, until CR.
fn after_digits(size: u64, b: u8, state: State) -> Result<State, ChunkError> {
    let bare_lf = ChunkError::MissingCrlf("after the chunk size (bare LF)");
    Ok(match (state, b) {
        (_, b'\r') => State::SizeLf(size),
        (_, b'\n') => return Err(bare_lf),
        (State::Ext(_), b'\t') => State::Ext(size),
        (State::Ext(_), c) if c < 0x20 || c == 0x7f => return Err(ChunkError::ControlByte(c)),
        (State::Ext(_), _) | (_, b';') => State::Ext(size),
        // BWS: whitespace between the digits and the `;`.
        (_, b' ' | b'\t') => State::Lws(size),
        (_, c) => return Err(ChunkError::BadSize(c as char)),
    })
}

/// A streaming decoder for one chunked body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// Bytes in the current size line, or in the trailer section.
    line: usize,
    /// The longest size line, and the largest trailer section, accepted.
    max_line: usize,
}

impl ChunkedDecoder {
    /// A decoder that accepts size lines and trailer sections of at most
    /// `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            line: 0,
            max_line,
        }
    }

    /// True once the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes still owed in the current chunk, if the decoder is inside one
    /// (for the "transfer closed with N bytes remaining" message).
    pub fn remaining_in_chunk(&self) -> Option<u64> {
        match self.state {
            State::Data(n) => Some(n),
            _ => None,
        }
    }

    /// Decodes as much of `input` as possible, handing each run of body
    /// bytes to `data` as a range of `input`. Stops at the end of the body.
    pub fn decode(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(Range<usize>),
    ) -> Result<Decoded, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            if let State::Data(left) = self.state {
                // Hand out body bytes in one piece, not byte by byte.
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                data(i..i + take);
                i += take;
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data(left)
                };
                continue;
            }
            if self.state == State::Done {
                break;
            }
            self.byte(input[i])?;
            i += 1;
        }
        Ok(Decoded {
            consumed: i,
            done: self.state == State::Done,
        })
    }

    /// Advances the line-level states by one byte.
    fn byte(&mut self, b: u8) -> Result<(), ChunkError> {
        self.state = match self.state {
            State::Size { value, digits } => {
                self.count_line()?;
                match (b as char).to_digit(16) {
                    Some(d) => State::Size {
                        value: value
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(u64::from(d)))
                            .ok_or(ChunkError::SizeOverflow)?,
                        digits: digits + 1,
                    },
                    None if digits == 0 => return Err(ChunkError::BadSize(b as char)),
                    None => after_digits(value, b, self.state)?,
                }
            }
            State::Lws(size) | State::Ext(size) => {
                self.count_line()?;
                after_digits(size, b, self.state)?
            }
            State::SizeLf(size) => {
                if b != b'\n' {
                    return Err(ChunkError::MissingCrlf("after the chunk size"));
                }
                self.line = 0;
                if size == 0 {
                    State::TrailerStart
                } else {
                    State::Data(size)
                }
            }
            State::DataCr => match b {
                b'\r' => State::DataLf,
                _ => return Err(ChunkError::MissingCrlf("after chunk data")),
            },
            State::DataLf => match b {
                b'\n' => State::Size {
                    value: 0,
                    digits: 0,
                },
                _ => return Err(ChunkError::MissingCrlf("after chunk data")),
            },
            State::TrailerStart => {
                self.count_trailer()?;
                match b {
                    b'\r' => State::EndLf,
                    b'\n' => State::Done,
                    _ => self.trailer_byte(b)?,
                }
            }
            State::Trailer => {
                self.count_trailer()?;
                match b {
                    b'\r' => State::TrailerLf,
                    b'\n' => State::TrailerStart,
                    _ => self.trailer_byte(b)?,
                }
            }
            State::EndLf | State::TrailerLf => {
                self.count_trailer()?;
                if b != b'\n' {
                    return Err(ChunkError::MissingCrlf("in the trailer section"));
                }
                if self.state == State::EndLf {
                    State::Done
                } else {
                    State::TrailerStart
                }
            }
            State::Data(_) | State::Done => self.state,
        };
        Ok(())
    }

    fn trailer_byte(&self, b: u8) -> Result<State, ChunkError> {
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            return Err(ChunkError::ControlByte(b));
        }
        Ok(State::Trailer)
    }

    fn count_line(&mut self) -> Result<(), ChunkError> {
        self.line += 1;
        if self.line > self.max_line {
            return Err(ChunkError::LineTooLong(self.max_line));
        }
        Ok(())
    }

    fn count_trailer(&mut self) -> Result<(), ChunkError> {
        self.line += 1;
        if self.line > self.max_line {
            return Err(ChunkError::TrailersTooLarge(self.max_line));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes, as a connection would.
    fn decode(input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ChunkError> {
        let mut decoder = ChunkedDecoder::new(64);
        let mut body = Vec::new();
        let mut used = 0;
        let mut pending: Vec<u8> = Vec::new();
        for piece in input.chunks(step) {
            pending.extend_from_slice(piece);
            let d = decoder.decode(&pending, |r| body.extend_from_slice(&pending[r]))?;
            used += d.consumed;
            pending.drain(..d.consumed);
            if d.done {
                return Ok((body, used, true));
            }
        }
        Ok((body, used, decoder.is_done()))
    }

    #[test]
    fn decodes_across_every_split() {
        let input = b"5\r\nhello\r\nA;ext=1;q=\"a b\"\r\n, world!!!\r\n000\r\nX-T: 1\r\n\r\nextra";
        for step in 1..input.len() {
            let (body, used, done) = decode(input, step).unwrap();
            assert_eq!(body, b"hello, world!!!", "step {step}");
            assert!(done);
            assert_eq!(used, input.len() - 5);
        }
    }

    #[test]
    fn hex_sizes() {
        let ok = |text: &[u8]| decode(text, text.len()).map(|(b, _, d)| (b.len(), d));
        assert_eq!(ok(b"a\r\n0123456789\r\n0\r\n\r\n"), Ok((10, true)));
        assert_eq!(ok(b"A\r\n0123456789\r\n0\r\n\r\n"), Ok((10, true)));
        assert_eq!(ok(b"0000000000000000001\r\nx\r\n0\r\n\r\n"), Ok((1, true)));
        assert_eq!(ok(b"3 ;x\r\nabc\r\n0\r\n\r\n"), Ok((3, true)));
        assert_eq!(
            ok(b"10000000000000000\r\n"),
            Err(ChunkError::SizeOverflow),
            "17 digits"
        );
        assert_eq!(ok(b"zz\r\n"), Err(ChunkError::BadSize('z')));
        assert_eq!(ok(b"5x\r\n"), Err(ChunkError::BadSize('x')));
        assert_eq!(ok(b"5 x\r\n"), Err(ChunkError::BadSize('x')));
        assert_eq!(ok(b"\r\n"), Err(ChunkError::BadSize('\r')));
    }

    #[test]
    fn line_endings() {
        let err = |text: &[u8]| decode(text, 1).unwrap_err();
        assert!(matches!(err(b"5\nhello"), ChunkError::MissingCrlf(_)));
        assert!(matches!(err(b"5\r\nhelloX"), ChunkError::MissingCrlf(_)));
        assert!(matches!(err(b"5\r\nhello\n"), ChunkError::MissingCrlf(_)));
        assert!(matches!(err(b"5\rX"), ChunkError::MissingCrlf(_)));
        // Trailer fields are fields: a bare LF may end them (RFC 9112 §2.2).
        assert_eq!(decode(b"0\r\nA: 1\nB: 2\n\n", 1), Ok((vec![], 14, true)));
        assert_eq!(decode(b"0\r\n\n", 1), Ok((vec![], 4, true)));
    }

    #[test]
    fn limits() {
        let long_ext = format!("1;{}\r\n", "e".repeat(100));
        assert_eq!(
            decode(long_ext.as_bytes(), 7).unwrap_err(),
            ChunkError::LineTooLong(64)
        );
        let long_trailers = format!("0\r\n{}", "X-A: b\r\n".repeat(20));
        assert_eq!(
            decode(long_trailers.as_bytes(), 3).unwrap_err(),
            ChunkError::TrailersTooLarge(64)
        );
        assert_eq!(
            decode(b"1;\x01\r\n", 1).unwrap_err(),
            ChunkError::ControlByte(1)
        );
    }

    #[test]
    fn missing_last_chunk_is_not_done() {
        let (body, _, done) = decode(b"5\r\nhello\r\n", 3).unwrap();
        assert_eq!((body.as_slice(), done), (&b"hello"[..], false));
        let mut d = ChunkedDecoder::new(64);
        d.decode(b"8\r\nabc", |_| {}).unwrap();
        assert_eq!(d.remaining_in_chunk(), Some(5));
    }
}
