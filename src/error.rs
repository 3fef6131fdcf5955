//! The library's error: what failed, in words a user can act on, with the
//! underlying cause kept as its `source()` (never flattened into the text),
//! and an [`ErrorKind`] that callers branch on instead of matching messages.
//!
//! As in hyper, a caller matches on the [`ErrorKind`], never on a message.
//! What was being done when a failure happened is an [`Error::Context`]
//! around it, whose kind and hint are the inner error's; a failure of ours
//! with no kind a user acts on is [`ErrorKind::Other`]. [`ErrorKind::of`]
//! finds the first [`Error`] in any chain of causes (the binary's `anyhow`
//! chain included). Exit codes are the binary's business: it maps each
//! kind to one.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tcpkit_wire::chunked::ChunkError;
use tcpkit_wire::head::HeadError;

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

/// A failure whose kind decides what the user should do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An address that does not parse or resolve.
    #[error("invalid address '{spec}': {reason}")]
    Address {
        /// What the user gave.
        spec: String,
        /// What is wrong with it, and what to do.
        reason: String,
        /// The resolver's error, when there was one.
        #[source]
        source: Option<io::Error>,
    },

    /// `bind` failed because another socket holds the address.
    #[error("cannot listen on {addr}: address already in use")]
    AddrInUse {
        /// The address.
        addr: SocketAddr,
        /// The process that holds it, when the system says (Linux, and a
        /// process we may look into).
        holder: Option<crate::sys::Holder>,
        /// The flag that named the address, for the hint (`--bind`; see
        /// [`Error::named_by`]).
        flag: crate::setting::Setting,
    },

    /// `bind` failed for lack of privileges.
    #[error(
        "cannot listen on {addr}: permission denied (ports below 1024 need root or \
         CAP_NET_BIND_SERVICE; pick a port above 1023, e.g. 9999)"
    )]
    PermissionDenied {
        /// The address.
        addr: SocketAddr,
    },

    /// Any other failure to set up a listening socket.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },

    /// No connection could be made.
    #[error("cannot connect to {spec}")]
    Connect {
        /// The server as the user named it.
        spec: String,
        /// What to check; see [`Error::hint`].
        hint: String,
        /// Why the (last) attempt failed.
        #[source]
        source: Option<io::Error>,
    },

    /// An operation ran out of time.
    #[error("{what} timed out after {}", humantime::format_duration(*.after))]
    Timeout {
        /// What was being waited for.
        what: String,
        /// The limit.
        after: Duration,
    },

    /// The peer closed early or sent something the protocol does not allow.
    #[error("{message}")]
    Protocol {
        /// What happened.
        message: String,
        /// The I/O error behind it, when there was one.
        #[source]
        source: Option<io::Error>,
    },

    /// A response head that breaks HTTP/1.1.
    #[error(transparent)]
    Head(#[from] HeadError),

    /// A chunked body that breaks RFC 9112 §7.1.
    #[error("bad chunked body")]
    Chunked(#[from] ChunkError),

    /// Arguments that parse but cannot work together.
    #[error("{0}")]
    InvalidInput(String),

    /// A TLS handshake or TLS record failed.
    #[error("{message}")]
    Tls {
        /// What failed.
        message: String,
        /// What to do; see [`Error::hint`].
        hint: String,
        /// The TLS library's error.
        #[source]
        source: Option<io::Error>,
    },

    /// A body that ended before its framing said it would.
    #[error("{message}")]
    Truncated {
        /// How much was missing.
        message: String,
        /// The I/O error that cut it, when there was one.
        #[source]
        source: Option<io::Error>,
    },

    /// Redirects went on past the limit.
    #[error("{0}")]
    Redirects(String),

    /// The server answered with an error status and `--fail` was given.
    #[error("{0}")]
    HttpStatus(String),

    /// A local file could not be read, created or written.
    #[error("{message}")]
    LocalFile {
        /// Which file and what was being done.
        message: String,
        /// The I/O error.
        #[source]
        source: Option<io::Error>,
    },

    /// A benchmark run saw errors or wrong replies.
    #[error("{0}")]
    BenchFailed(String),

    /// A body larger than its limit (`fetch --max-filesize`).
    #[error("{0}")]
    TooLarge(String),

    /// Our output's reader went away (`tcpkit talk | head`).
    #[error("the output was closed")]
    OutputClosed,

    /// The user stopped the work; says what was kept and how to go on.
    #[error("{0}")]
    Interrupted(String),

    /// What was being done when `source` failed (`download incomplete,
    /// 400 bytes kept in f.part`); its kind and hint are the source's.
    #[error("{message}")]
    Context {
        /// What was being done, and what is left of it.
        message: String,
        /// What failed.
        #[source]
        source: Box<Error>,
    },

    /// Our own failure, of no kind a user acts on ([`ErrorKind::Other`]).
    #[error("{message}")]
    Other {
        /// What failed.
        message: String,
        /// Why, when there is a cause.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Address { .. } => ErrorKind::Address,
            Error::AddrInUse { .. } => ErrorKind::AddrInUse,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::Listen { .. } => ErrorKind::Listen,
            Error::Connect { .. } => ErrorKind::Connect,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Protocol { .. } | Error::Head(_) | Error::Chunked(_) => ErrorKind::Protocol,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Tls { .. } => ErrorKind::Tls,
            Error::Truncated { .. } => ErrorKind::Truncated,
            Error::Redirects(_) => ErrorKind::Redirects,
            Error::HttpStatus(_) => ErrorKind::HttpStatus,
            Error::LocalFile { .. } => ErrorKind::LocalFile,
            Error::BenchFailed(_) => ErrorKind::BenchFailed,
            Error::TooLarge(_) => ErrorKind::TooLarge,
            Error::OutputClosed => ErrorKind::OutputClosed,
            Error::Interrupted(_) => ErrorKind::Interrupted,
            Error::Context { source, .. } => source.kind(),
            Error::Other { .. } => ErrorKind::Other,
        }
    }

    /// What to check or do, written to follow the causes: ` (is the server
    /// running on 127.0.0.1:9999?)`. Empty when there is nothing to add.
    /// The binary prints it after the whole chain of causes.
    pub fn hint(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Error::Context { source, .. } => source.hint(),
            Error::Connect { hint, .. } | Error::Tls { hint, .. } => hint.as_str().into(),
            Error::AddrInUse {
                holder: Some(holder),
                flag,
                ..
            } => format!(" ({holder} holds it: stop it, or choose another address with {flag})")
                .into(),
            // Linux names every listener it can see: one it cannot is
            // another user's, or no listener at all (a connection from
            // that port, a socket bound without listening). TIME_WAIT
            // never holds it: the bind asks SO_REUSEADDR.
            Error::AddrInUse {
                holder: None,
                flag,
                addr,
            } if cfg!(target_os = "linux") => format!(
                " (a socket holds it: another user's listener, or one bound without listening; \
                 ss -tanp 'sport = :{}' names it; choose another address with {flag})",
                addr.port()
            )
            .into(),
            Error::AddrInUse {
                holder: None, flag, ..
            } => format!(" (another program holds it: choose another address with {flag})").into(),
            _ => "".into(),
        }
    }

    /// The error in one line: itself, each cause (I/O errors as they read
    /// in a sentence), then the hint; what the binary prints after
    /// `tcpkit: error: `, for a library that logs it instead.
    pub fn in_words(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            out.push_str(": ");
            match error.downcast_ref::<io::Error>() {
                Some(e) => out.push_str(&describe(e)),
                None => out.push_str(&error.to_string()),
            }
            cause = error.source();
        }
        out.push_str(&self.hint());
        out
    }

    /// Says which flag named the address of a listen that failed, so the
    /// hint points at it (`serve --metrics`, `--agent`); `--bind` otherwise.
    pub fn named_by(self, flag: crate::setting::Setting) -> Error {
        match self {
            Error::AddrInUse { addr, holder, .. } => Error::AddrInUse { addr, holder, flag },
            other => other,
        }
    }

    /// A protocol error with no underlying cause.
    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::Protocol {
            message: message.into(),
            source: None,
        }
    }

    /// A protocol error caused by an I/O error (the connection was lost).
    pub(crate) fn lost(message: impl Into<String>, source: io::Error) -> Error {
        Error::Protocol {
            message: message.into(),
            source: Some(source),
        }
    }

    /// A truncated body with no underlying cause.
    pub(crate) fn truncated(message: impl Into<String>) -> Error {
        Error::Truncated {
            message: message.into(),
            source: None,
        }
    }

    /// A local file error with no I/O cause.
    pub(crate) fn local(message: impl Into<String>) -> Error {
        Error::LocalFile {
            message: message.into(),
            source: None,
        }
    }

    /// A local file error with its I/O cause.
    pub(crate) fn local_file(message: impl Into<String>, source: io::Error) -> Error {
        Error::LocalFile {
            message: message.into(),
            source: Some(source),
        }
    }

    /// A failed write of our output, `what` (standard output, a file): a
    /// reader that went away (a closed pipe, `tcpkit talk | head`) is
    /// [`Error::OutputClosed`], how such a run ends, not a failure; any
    /// other error is [`ErrorKind::LocalFile`] with its cause. Every
    /// command's output goes through here, so that a closed pipe is told
    /// from a failure in one place (a socket's broken pipe is a lost
    /// connection, and never comes here).
    pub fn writing_output(what: &str, source: io::Error) -> Error {
        if source.kind() == io::ErrorKind::BrokenPipe {
            return Error::OutputClosed;
        }
        Error::local_file(format!("cannot write to {what}"), source)
    }

    /// This error, as the cause of what was being done (`message`).
    pub(crate) fn context(self, message: impl Into<String>) -> Error {
        Error::Context {
            message: message.into(),
            source: Box::new(self),
        }
    }

    /// Our own failure ([`ErrorKind::Other`]) with its cause.
    pub(crate) fn other(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Other {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// An I/O error's message as it reads in a sentence: std's text without
/// its "(os error N)" suffix, lower-cased ("connection refused").
pub fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_lowercase(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn causes_are_kept_and_kinds_found_through_context() {
        let err = Error::Listen {
            addr: "127.0.0.1:1".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::OutOfMemory),
        };
        assert!(err.source().is_some());
        let chained = err.context("starting the server");
        assert_eq!(chained.kind(), ErrorKind::Listen);
        assert_eq!(ErrorKind::of(&chained), Some(ErrorKind::Listen));
        assert_eq!(chained.to_string(), "starting the server");
        let plain = io::Error::other("plain");
        assert_eq!(ErrorKind::of(&plain), None);

        let chunked = Error::from(ChunkError::SizeOverflow);
        assert_eq!(chunked.kind(), ErrorKind::Protocol);
        assert!(chunked.source().is_some());
    }
}
