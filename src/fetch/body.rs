//! Moving the body from the connection to the sink, by its framing, and
//! saying exactly how it ended: complete, or cut short by how much.

use tcpkit_wire::Bytes;
use tcpkit_wire::chunked::ChunkedDecoder;
use tcpkit_wire::head::Framing;

use super::conn::Conn;
use super::output::Sink;
use crate::error::Error;

/// How a body transfer ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Bytes read after the body had ended (ignored, reported as a warning).
    pub excess: usize,
}

/// Copies one body of the given framing into `sink`. `max_line` bounds
/// each chunk-size line and the trailer section.
pub async fn copy(
    conn: &mut Conn,
    framing: Framing,
    max_line: usize,
    sink: &mut Sink,
) -> Result<Copied, Error> {
    let mut copied = Copied { excess: 0 };
    match framing {
        Framing::None => copied.excess = conn.buffered().len(),
        Framing::Length(total) => {
            let mut left = total;
            loop {
                let buffered = conn.buffered();
                let take = buffered
                    .len()
                    .min(usize::try_from(left).unwrap_or(usize::MAX));
                if take > 0 {
                    sink.write(&buffered[..take])?;
                    conn.consume(take);
                    left -= take as u64;
                }
                if left == 0 {
                    copied.excess = conn.buffered().len();
                    return Ok(copied);
                }
                if conn.fill().await? == 0 {
                    return Err(Error::truncated(format!(
                        "transfer closed with {} remaining (got {} of {total})",
                        Bytes(left),
                        total - left
                    )));
                }
            }
        }
        Framing::Chunked => {
            let mut decoder = ChunkedDecoder::new(max_line);
            loop {
                let buffered = conn.buffered();
                let mut write_result = Ok(());
                let decoded = decoder
                    .decode(buffered, |range| {
                        if write_result.is_ok() {
                            write_result = sink.write(&buffered[range]);
                        }
                    })
                    .map_err(Error::Chunked)?;
                write_result?;
                conn.consume(decoded.consumed);
                if decoded.done {
                    copied.excess = conn.buffered().len();
                    return Ok(copied);
                }
                if conn.fill().await? == 0 {
                    return Err(Error::truncated(match decoder.remaining_in_chunk() {
                        Some(n) => format!(
                            "transfer closed with {} remaining in a chunk \
                             (and before the last chunk)",
                            Bytes(n)
                        ),
                        None => "transfer closed before the last chunk".to_string(),
                    }));
                }
            }
        }
        Framing::Close => loop {
            let n = conn.buffered().len();
            if n > 0 {
                sink.write(conn.buffered())?;
                conn.consume(n);
            }
            if conn.fill().await? == 0 {
                if conn.closed_uncleanly() {
                    return Err(Error::truncated(
                        "the TLS connection closed without close_notify, so the end of a \
                         body delimited by the close cannot be trusted",
                    ));
                }
                return Ok(copied);
            }
        },
    }
    Ok(copied)
}
