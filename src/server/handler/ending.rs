//! Why a connection ended: the reason its close line gives, and the
//! `reason` label of the closed-connections metric. A client's own close
//! or reset is its choice, not our failure ([`Ending::settled`]).

use std::fmt;
use std::io;

use tcpkit_wire::greeting::Close;

use crate::setting::Naming;

use super::super::conn::{End, SendError};
use super::super::metrics;

/// Why a connection ended; logged with its close.
#[derive(Debug)]
pub(super) enum Ending {
    Exit,
    TooLong,
    ClientClosed,
    IdleTimeout,
    MessageTimeout,
    WriteTimeout,
    /// A PROXY header from an address not trusted to send one.
    UntrustedHeader,
    /// A load balancer's connection without a valid PROXY header (logged
    /// when found; the connection never began).
    NoProxyHeader,
    /// A TLS handshake that failed or timed out (logged when found, within
    /// the log's rate limit; the connection never began).
    NoHandshake,
    /// An unfinished message found the buffer budget full (told so).
    Busy,
    /// Replies the client is not reading found the budget full.
    BusyUnread,
    Shutdown,
    Killed,
    /// Closed or reset before sending a byte: a health check (HAProxy's
    /// `check`, kubelet's `tcpSocket`, `nc -z`), not a failure.
    Probe,
    /// The client reset the connection after it had spoken.
    ClientReset,
    Failed(io::Error),
}

/// An [`Ending`] in a close line, naming settings as the server's
/// [`Config::naming`](crate::server::Config::naming) says.
pub(super) struct Shown<'a>(&'a Ending, Naming);

impl Ending {
    /// This ending as its close line gives it.
    pub(super) fn shown(&self, naming: Naming) -> Shown<'_> {
        Shown(self, naming)
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Shown(ending, naming) = self;
        match ending {
            Ending::Exit => f.write_str("client sent exit"),
            Ending::TooLong => f.write_str("message too long"),
            Ending::ClientClosed => f.write_str("client closed"),
            Ending::IdleTimeout => f.write_str("idle timeout"),
            Ending::MessageTimeout => f.write_str("message not completed in time"),
            Ending::WriteTimeout => f.write_str("client did not read its replies in time"),
            Ending::Busy => f.write_str("no room in the buffer budget for its unfinished message"),
            Ending::NoProxyHeader => f.write_str("no valid PROXY header"),
            Ending::NoHandshake => f.write_str("no TLS handshake"),
            Ending::UntrustedHeader => write!(
                f,
                "it sent a PROXY header, but its address is not in {}",
                crate::setting::Setting::ProxyFrom.name(*naming)
            ),
            Ending::BusyUnread => f.write_str(
                "client was not reading its replies and the buffer budget had no room to hold them",
            ),
            Ending::Shutdown => f.write_str("grace period over: what it sent was answered"),
            Ending::Killed => f.write_str("dropped at shutdown"),
            Ending::Probe => f.write_str("closed before sending anything: a probe"),
            Ending::ClientReset => f.write_str("client reset the connection"),
            Ending::Failed(e) => write!(f, "error: {e}"),
        }
    }
}

impl Ending {
    /// The `reason` label of the closed-connections metric.
    pub(super) fn reason(&self) -> metrics::Reason {
        use metrics::Reason;
        match self {
            Ending::Exit => Reason::Exit,
            Ending::TooLong => Reason::TooLong,
            Ending::ClientClosed => Reason::ClientClosed,
            Ending::IdleTimeout => Reason::IdleTimeout,
            Ending::MessageTimeout => Reason::MessageTimeout,
            Ending::WriteTimeout => Reason::WriteTimeout,
            Ending::Busy | Ending::BusyUnread => Reason::Busy,
            Ending::UntrustedHeader | Ending::NoProxyHeader => Reason::Proxy,
            Ending::NoHandshake => Reason::Tls,
            Ending::Shutdown | Ending::Killed => Reason::Shutdown,
            Ending::Probe => Reason::Probe,
            Ending::ClientReset => Reason::ClientReset,
            Ending::Failed(_) => Reason::Error,
        }
    }
}

impl From<Close> for Ending {
    fn from(close: Close) -> Self {
        match close {
            Close::Exit => Ending::Exit,
            Close::TooLong => Ending::TooLong,
        }
    }
}

impl From<End> for Ending {
    fn from(end: End) -> Self {
        match end {
            End::Close(close) => close.into(),
            End::Eof => Ending::ClientClosed,
        }
    }
}

impl From<SendError> for Ending {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Failed(e) => Ending::Failed(e),
            SendError::TimedOut => Ending::WriteTimeout,
        }
    }
}

impl Ending {
    /// The ending as the client caused it: a close or reset before its
    /// first byte is a probe (a health check); a reset after it is the
    /// client's, not a failure of ours.
    pub(super) fn settled(self, spoke: bool) -> Ending {
        match self {
            Ending::ClientClosed if !spoke => Ending::Probe,
            Ending::Failed(e) if is_peer_reset(&e) && !spoke => Ending::Probe,
            Ending::Failed(e) if is_peer_reset(&e) => Ending::ClientReset,
            other => other,
        }
    }
}

/// A reset or broken pipe: the client went away without a clean close.
fn is_peer_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}
