//! The kinds of failure a caller branches on, and the one found in any
//! chain of causes.

use super::Error;

/// What kind of failure an [`Error`] is: the thing a caller decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An address does not parse or resolve, or is not this machine's.
    Address,
    /// The address to listen on is already in use.
    AddrInUse,
    /// Listening was not permitted (a port below 1024 without privileges).
    PermissionDenied,
    /// Some other failure to set up a listening socket.
    Listen,
    /// No connection could be made (refused, unreachable).
    Connect,
    /// Something took longer than its limit.
    Timeout,
    /// The peer broke the protocol, sent a malformed response, or closed
    /// the connection too early.
    Protocol,
    /// Arguments that cannot work together, or a value out of range.
    InvalidInput,
    /// A TLS handshake or TLS record failed.
    Tls,
    /// A body ended before its framing said it would.
    Truncated,
    /// Redirects went on past the limit.
    Redirects,
    /// The server answered with an error status and failing on it was asked.
    HttpStatus,
    /// A local file could not be read, created or written.
    LocalFile,
    /// A benchmark run saw errors or wrong replies.
    BenchFailed,
    /// A body larger than its limit (`fetch --max-filesize`).
    TooLarge,
    /// Whoever reads our output went away (a closed pipe): not a failure
    /// of the work, so the binary ends quietly.
    OutputClosed,
    /// The user stopped the work (Ctrl+C).
    Interrupted,
    /// Our own failure, of no kind above (a thread that could not start).
    Other,
}

impl ErrorKind {
    /// The kind of the first [`Error`] in a chain of causes (`err`, its
    /// `source()`, ...), if there is one.
    pub fn of(err: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
        let mut cause = Some(err);
        while let Some(e) = cause {
            if let Some(ours) = e.downcast_ref::<Error>() {
                return Some(ours.kind());
            }
            cause = e.source();
        }
        None
    }
}
