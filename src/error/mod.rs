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

use tcpkit_wire::Bytes;
use tcpkit_wire::chunked::ChunkError;
use tcpkit_wire::head::HeadError;

use crate::setting::{Naming, Words};

mod kind;
mod words;

pub use kind::ErrorKind;
pub use words::{Kept, chain_in_words, describe};

/// A failure whose kind decides what the user should do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An address that does not parse or resolve.
    Address {
        /// What the user gave.
        spec: String,
        /// What is wrong with it, and what to do.
        reason: Words,
        /// The resolver's error, when there was one.
        source: Option<io::Error>,
    },

    /// `bind` failed because another socket holds the address.
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
    PermissionDenied {
        /// The address.
        addr: SocketAddr,
    },

    /// Any other failure to set up a listening socket.
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What the kernel said.
        source: io::Error,
    },

    /// No connection could be made.
    Connect {
        /// The server as the user named it.
        spec: String,
        /// What to check; see [`Error::hint`].
        hint: Words,
        /// Why the (last) attempt failed.
        source: Option<io::Error>,
    },

    /// An operation ran out of time.
    Timeout {
        /// What was being waited for.
        what: Words,
        /// The limit.
        after: Duration,
        /// The I/O error that said so (a read or connect that timed out),
        /// when there was one. It only restates the timeout, so the
        /// error's line leaves it out.
        source: Option<io::Error>,
    },

    /// The peer closed early or sent something the protocol does not allow.
    Protocol {
        /// What happened.
        message: Words,
        /// The I/O error behind it, when there was one.
        source: Option<io::Error>,
    },

    /// A response head that breaks HTTP/1.1.
    Head(HeadError),

    /// A chunked body that breaks RFC 9112 §7.1.
    Chunked(ChunkError),

    /// Arguments that parse but cannot work together.
    InvalidInput(Words),

    /// A TLS handshake or TLS record failed.
    Tls {
        /// What failed.
        message: Words,
        /// What to do; see [`Error::hint`].
        hint: Words,
        /// The TLS library's error.
        source: Option<io::Error>,
    },

    /// A body that ended before its framing said it would.
    Truncated {
        /// How much was missing.
        message: Words,
        /// The I/O error that cut it, when there was one.
        source: Option<io::Error>,
    },

    /// Redirects went on past the limit.
    Redirects {
        /// The redirects followed: the limit.
        followed: u32,
        /// Where the last one pointed, as the server wrote it.
        location: String,
    },

    /// The server answered with a status that ends the fetch: an error
    /// status with `fail`, or any but the rest of a part file to continue.
    HttpStatus {
        /// The status code.
        status: u16,
        /// What the status means here.
        message: Words,
    },

    /// A local file could not be read, created or written.
    LocalFile {
        /// Which file and what was being done.
        message: Words,
        /// The I/O error.
        source: Option<io::Error>,
    },

    /// A benchmark run saw errors or wrong replies.
    BenchFailed(Words),

    /// A body larger than its limit (`fetch --max-filesize`).
    TooLarge {
        /// The limit.
        limit: u64,
        /// The file's length as the response declared it (its
        /// Content-Length, plus the part file's bytes when continuing
        /// one), when that was over the limit before a byte was written;
        /// `None` when the body crossed the limit as it came.
        declared: Option<u64>,
    },

    /// Our output's reader went away (`tcpkit talk | head`).
    OutputClosed,

    /// The user stopped the work; says what was kept and how to go on.
    Interrupted {
        /// The part file a stopped download left, if it did.
        kept: Option<Kept>,
    },

    /// What was being done when `source` failed (`download incomplete,
    /// 400 bytes kept in f.part`); its kind and hint are the source's.
    Context {
        /// What was being done, and what is left of it.
        message: Words,
        /// What failed.
        source: Box<Error>,
    },

    /// Our own failure, of no kind a user acts on ([`ErrorKind::Other`]).
    Other {
        /// What failed.
        message: Words,
        /// Why, when there is a cause.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl std::fmt::Display for Error {
    /// This error's line, settings named as the library's fields; see
    /// [`Error::render`] for another naming.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Naming::Fields))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Address { source, .. }
            | Error::Timeout { source, .. }
            | Error::Connect { source, .. }
            | Error::Protocol { source, .. }
            | Error::Tls { source, .. }
            | Error::Truncated { source, .. }
            | Error::LocalFile { source, .. } => source
                .as_ref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            Error::Listen { source, .. } => Some(source),
            // The head error's own line is this error's: its cause, if
            // any, is next (as thiserror's `transparent`).
            Error::Head(e) => std::error::Error::source(e),
            Error::Chunked(e) => Some(e),
            Error::Context { source, .. } => Some(source.as_ref()),
            Error::Other { source, .. } => source
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

impl From<HeadError> for Error {
    fn from(e: HeadError) -> Error {
        Error::Head(e)
    }
}

impl From<ChunkError> for Error {
    fn from(e: ChunkError) -> Error {
        Error::Chunked(e)
    }
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
            Error::Redirects { .. } => ErrorKind::Redirects,
            Error::HttpStatus { .. } => ErrorKind::HttpStatus,
            Error::LocalFile { .. } => ErrorKind::LocalFile,
            Error::BenchFailed(_) => ErrorKind::BenchFailed,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::OutputClosed => ErrorKind::OutputClosed,
            Error::Interrupted { .. } => ErrorKind::Interrupted,
            Error::Context { source, .. } => source.kind(),
            Error::Other { .. } => ErrorKind::Other,
        }
    }

    /// This error's own line, without its causes or hint, each setting
    /// named as `naming` wants (`Display` names them as fields).
    pub fn render(&self, naming: Naming) -> String {
        self.line().render(naming)
    }

    /// This error's own line, its settings kept as data.
    pub fn line(&self) -> Words {
        match self {
            Error::Address { spec, reason, .. } => {
                crate::words!("invalid address '{}': {}", spec, reason)
            }
            Error::AddrInUse { addr, .. } => {
                format!("cannot listen on {addr}: address already in use").into()
            }
            Error::PermissionDenied { addr } => format!(
                "cannot listen on {addr}: permission denied (ports below 1024 need root or \
                 CAP_NET_BIND_SERVICE; pick a port above 1023, e.g. 9999)"
            )
            .into(),
            Error::Listen { addr, .. } => format!("cannot listen on {addr}").into(),
            Error::Connect { spec, .. } => format!("cannot connect to {spec}").into(),
            Error::Timeout { what, after, .. } => crate::words!(
                "{} timed out after {}",
                what,
                humantime::format_duration(*after)
            ),
            Error::Head(e) => e.to_string().into(),
            Error::Chunked(_) => "bad chunked body".into(),
            Error::OutputClosed => "the output was closed".into(),
            Error::Redirects { followed, location } => crate::words!(
                "too many redirects: stopped after {followed} (the last pointed to {location}; \
                 raise {}, or the server may be looping)",
                crate::setting::Setting::MaxRedirs
            ),
            Error::TooLarge {
                limit,
                declared: Some(length),
            } => crate::words!(
                "the body is {} (Content-Length), larger than {} {}",
                Bytes(*length),
                crate::setting::Setting::MaxFilesize,
                Bytes(*limit)
            ),
            Error::TooLarge {
                limit,
                declared: None,
            } => crate::words!(
                "the body is larger than {} {}",
                crate::setting::Setting::MaxFilesize,
                Bytes(*limit)
            ),
            Error::Interrupted { kept: None } => "interrupted".into(),
            Error::Interrupted { kept: Some(kept) } => {
                crate::words!("interrupted: {}", kept.words())
            }
            Error::Protocol { message, .. }
            | Error::Tls { message, .. }
            | Error::Truncated { message, .. }
            | Error::LocalFile { message, .. }
            | Error::Context { message, .. }
            | Error::Other { message, .. }
            | Error::InvalidInput(message)
            | Error::HttpStatus { message, .. }
            | Error::BenchFailed(message) => message.clone(),
        }
    }

    /// What to check or do, written to follow the causes: ` (is the server
    /// running on 127.0.0.1:9999?)`, its settings kept as data. Empty when
    /// there is nothing to add. The binary prints it after the whole chain
    /// of causes.
    pub fn hint(&self) -> Words {
        match self {
            Error::Context { source, .. } => source.hint(),
            Error::Connect { hint, .. } | Error::Tls { hint, .. } => hint.clone(),
            Error::AddrInUse {
                holder: Some(holder),
                flag,
                ..
            } => crate::words!(
                " ({} holds it: stop it, or choose another address with {})",
                holder,
                flag
            ),
            // Linux names every listener it can see: one it cannot is
            // another user's, or no listener at all (a connection from
            // that port, a socket bound without listening). TIME_WAIT
            // never holds it: the bind asks SO_REUSEADDR.
            Error::AddrInUse {
                holder: None,
                flag,
                addr,
            } if cfg!(target_os = "linux") => crate::words!(
                " (a socket holds it: another user's listener, or one bound without listening; \
                 ss -tanp 'sport = :{}' names it; choose another address with {})",
                addr.port(),
                flag
            ),
            Error::AddrInUse {
                holder: None, flag, ..
            } => crate::words!(
                " (another program holds it: choose another address with {})",
                flag
            ),
            _ => Words::default(),
        }
    }

    /// The error in one line, its settings kept as data: itself, each
    /// cause (I/O errors as they read in a sentence), then the hint. What
    /// the binary prints after `tcpkit: error: `, for a library user that
    /// logs it instead (`.render(Naming::Fields)`).
    pub fn in_words(&self) -> Words {
        chain_in_words(self)
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
    pub(crate) fn protocol(message: impl Into<Words>) -> Error {
        Error::Protocol {
            message: message.into(),
            source: None,
        }
    }

    /// A protocol error caused by an I/O error (the connection was lost).
    pub(crate) fn lost(message: impl Into<Words>, source: io::Error) -> Error {
        Error::Protocol {
            message: message.into(),
            source: Some(source),
        }
    }

    /// A truncated body with no underlying cause.
    pub(crate) fn truncated(message: impl Into<Words>) -> Error {
        Error::Truncated {
            message: message.into(),
            source: None,
        }
    }

    /// A local file error with no I/O cause.
    pub(crate) fn local(message: impl Into<Words>) -> Error {
        Error::LocalFile {
            message: message.into(),
            source: None,
        }
    }

    /// A local file error with its I/O cause.
    pub(crate) fn local_file(message: impl Into<Words>, source: io::Error) -> Error {
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
    pub(crate) fn context(self, message: impl Into<Words>) -> Error {
        Error::Context {
            message: message.into(),
            source: Box::new(self),
        }
    }

    /// Our own failure ([`ErrorKind::Other`]) with its cause.
    pub(crate) fn other(
        message: impl Into<Words>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Other {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

#[cfg(test)]
mod tests;
