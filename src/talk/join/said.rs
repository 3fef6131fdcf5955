//! What the server has said in a joined session, for how it ended: its
//! lines counted, and the first `Error:` line among them kept.

use tcpkit_wire::Escaped;
use tcpkit_wire::greeting::ClientFraming;

use crate::error::Error;

/// What the server has said in a joined session, for how it ended: how
/// many lines (chunk framing: reads) it sent, and the first `Error:` line
/// among them, the way our server (and the tutorial's habit) refuses a
/// session: `Error: server busy ...`, `Error: this server speaks TLS ...`.
#[derive(Default)]
pub(super) struct Said {
    count: u64,
    /// The start (at most [`ERROR_KEPT`] bytes) of the line being read.
    line: Vec<u8>,
    error: Option<Vec<u8>>,
}

/// How much of an `Error:` line is kept to be shown.
const ERROR_KEPT: usize = 200;

impl Said {
    pub(super) fn heard(&mut self, bytes: &[u8], framing: ClientFraming) {
        if framing == ClientFraming::Chunk {
            self.count += 1;
            self.line.clear();
            self.keep(bytes.split(|&b| b == b'\n').next().unwrap_or_default());
            self.line_done();
            return;
        }
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            self.keep(piece);
            if piece.ends_with(b"\n") {
                self.count += 1;
                self.line_done();
            }
        }
    }

    fn keep(&mut self, piece: &[u8]) {
        let room = ERROR_KEPT.saturating_sub(self.line.len());
        self.line.extend_from_slice(&piece[..piece.len().min(room)]);
    }

    /// A line is complete: is it an `Error:` answer?
    fn line_done(&mut self) {
        if self.error.is_none() && self.line.starts_with(b"Error: ") {
            let line = self.line.trim_ascii_end().to_vec();
            self.error = Some(line);
        }
        self.line.clear();
    }

    /// The server has closed: the last line counts even without its
    /// newline.
    pub(super) fn ended(&mut self) {
        if !self.line.is_empty() {
            self.count += 1;
            self.line_done();
        }
    }

    /// How a client's session ended: an `Error:` answer, or a server that
    /// closed `first` (before the input ended, and unasked), is an error
    /// that says so; otherwise it went as asked.
    pub(super) fn verdict(&self, first: bool, framing: ClientFraming) -> Result<(), Error> {
        let what = match (framing, self.count) {
            (ClientFraming::Line, 1) => "line",
            (ClientFraming::Line, _) => "lines",
            (ClientFraming::Chunk, 1) => "message",
            (ClientFraming::Chunk, _) => "messages",
        };
        let count = self.count;
        if let Some(error) = &self.error {
            return Err(Error::protocol(format!(
                "the server answered {} and closed the session (after {count} {what})",
                Escaped(error)
            )));
        }
        if first {
            return Err(Error::protocol(format!(
                "the server closed the session first, after {count} {what}, before the input \
                 ended (was it stopped, or did it time the session out?)"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_is_found_however_the_reads_split_it() {
        let stream = b"Welcome!\nHello, a!\nError: server busy\nbye";
        for cut in 0..stream.len() {
            for cut2 in cut..stream.len() {
                let mut said = Said::default();
                for part in [&stream[..cut], &stream[cut..cut2], &stream[cut2..]] {
                    if !part.is_empty() {
                        said.heard(part, ClientFraming::Line);
                    }
                }
                said.ended();
                assert_eq!(said.count, 4, "{cut} {cut2}");
                assert_eq!(said.error.as_deref(), Some(&b"Error: server busy"[..]));
            }
        }
        // Not at a line's start: no error.
        let mut said = Said::default();
        said.heard(b"Hello, Error: x!\n", ClientFraming::Line);
        assert_eq!(said.error, None);
        assert!(said.verdict(false, ClientFraming::Line).is_ok());
    }
}
