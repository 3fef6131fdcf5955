//! The errors a caller must tell apart, and the exit code of each class.
//!
//! Everything else travels as `anyhow::Error` with context; `main` looks for
//! an [`Error`] in the chain to choose the exit code (see the README's table).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Documented process exit codes, one per failure class.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any failure without a class of its own.
    pub const OTHER: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// An address did not parse or did not resolve.
    pub const ADDRESS: u8 = 3;
    /// The address to listen on is already in use.
    pub const ADDR_IN_USE: u8 = 4;
    /// Listening was not permitted (a port below 1024 without privileges).
    pub const PERMISSION: u8 = 5;
    /// A connection could not be made (refused, unreachable).
    pub const CONNECT: u8 = 6;
    /// Something took longer than its timeout.
    pub const TIMEOUT: u8 = 7;
    /// The peer broke the protocol or closed the connection too early.
    pub const PROTOCOL: u8 = 8;
    /// `fetch`: the TLS handshake failed (untrusted or wrong certificate).
    pub const TLS: u8 = 9;
    /// `fetch`: the body ended before its framing said it would.
    pub const TRUNCATED: u8 = 10;
    /// `fetch`: more redirects than `--max-redirs`.
    pub const REDIRECTS: u8 = 11;
    /// `fetch --fail`: the server answered with an error status (4xx, 5xx).
    pub const HTTP_STATUS: u8 = 12;
    /// `fetch`: a local file could not be read or written.
    pub const LOCAL_FILE: u8 = 13;
    /// `bench`: the run saw errors or wrong replies.
    pub const BENCH_FAILED: u8 = 14;
    /// A second Ctrl+C or SIGTERM ended the server at once.
    pub const INTERRUPTED: u8 = 130;
}

/// A failure whose class decides what the user should do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An address that does not parse or resolve.
    #[error("invalid address '{spec}': {reason}")]
    Address { spec: String, reason: String },

    /// `bind` failed because another socket holds the address.
    #[error("cannot listen on {addr}: address already in use (is another tcpkit serve running?)")]
    AddrInUse { addr: SocketAddr },

    /// `bind` failed for lack of privileges.
    #[error(
        "cannot listen on {addr}: permission denied (ports below 1024 need root or \
         CAP_NET_BIND_SERVICE; pick a port above 1023, e.g. 9999)"
    )]
    PermissionDenied { addr: SocketAddr },

    /// Any other failure to set up a listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },

    /// No connection could be made.
    #[error("cannot connect to {spec}: {reason}")]
    Connect { spec: String, reason: String },

    /// An operation ran out of time.
    #[error("{what} timed out after {}", humantime::format_duration(*.after))]
    Timeout { what: String, after: Duration },

    /// The peer closed early or sent something the protocol does not allow.
    #[error("{0}")]
    Protocol(String),

    /// Arguments that parse but cannot work together.
    #[error("{0}")]
    Usage(String),

    /// A TLS handshake or TLS record failed.
    #[error("{0}")]
    Tls(String),

    /// A body that ended before its framing said it would.
    #[error("{0}")]
    Truncated(String),

    /// Redirects went on past the limit.
    #[error("{0}")]
    Redirects(String),

    /// The server answered with an error status and `--fail` was given.
    #[error("{0}")]
    HttpStatus(String),

    /// A local file could not be read, created or written.
    #[error("{0}")]
    LocalFile(String),

    /// A benchmark run saw errors or wrong replies.
    #[error("{0}")]
    BenchFailed(String),
}

impl Error {
    /// The process exit code for this class of failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Address { .. } => exit::ADDRESS,
            Error::AddrInUse { .. } => exit::ADDR_IN_USE,
            Error::PermissionDenied { .. } => exit::PERMISSION,
            Error::Listen { .. } => exit::OTHER,
            Error::Connect { .. } => exit::CONNECT,
            Error::Timeout { .. } => exit::TIMEOUT,
            Error::Protocol(_) => exit::PROTOCOL,
            Error::Usage(_) => exit::USAGE,
            Error::Tls(_) => exit::TLS,
            Error::Truncated(_) => exit::TRUNCATED,
            Error::Redirects(_) => exit::REDIRECTS,
            Error::HttpStatus(_) => exit::HTTP_STATUS,
            Error::LocalFile(_) => exit::LOCAL_FILE,
            Error::BenchFailed(_) => exit::BENCH_FAILED,
        }
    }
}

/// The exit code for any error chain: the first [`Error`] in it decides.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Error>())
        .map_or(exit::OTHER, Error::exit_code)
}
