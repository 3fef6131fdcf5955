//! TLS under [`Connection`](super::conn::Connection): rustls's
//! `ServerConnection` driven over the nonblocking socket, so the handler
//! and the hot path (one read, every reply, one write, no await) work
//! the same over TLS. Only `conn.rs` calls these.
//!
//! - [`handshake`] runs before the welcome, within a time limit. A client
//!   that sends plain text instead of a ClientHello is told so in plain
//!   text (as nginx answers plain HTTP on an HTTPS port).
//! - [`read_now`] hands out plaintext rustls holds, reading ciphertext
//!   only when it holds none.
//! - [`write_now`] takes plaintext only when no ciphertext is stuck, so a
//!   client that does not read holds at most one step of replies inside
//!   rustls; the rest stays with the caller as unsent, as over plain TCP.
//! - [`FailureLog`] logs failed handshakes one line per client, but at
//!   most [`FAILURES_PER_SECOND`] lines a second: a flood of bad clients
//!   becomes one summary line, not a flood of log.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection};
use tcpkit_wire::Escaped;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Failed handshakes logged one by one per second; beyond it they are
/// counted and summed up in the next line logged.
pub(super) const FAILURES_PER_SECOND: u64 = 10;

/// The first byte of a TLS handshake record (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;

/// Why a handshake did not finish.
#[derive(Debug)]
pub(super) enum HandshakeError {
    /// The client sent something that is not TLS (the bytes, escaped).
    NotTls(String),
    /// The client's TLS was refused (no common version or cipher, a bad
    /// record, an alert from the client about our certificate).
    Refused(rustls::Error),
    /// The client closed before the handshake finished.
    Closed,
    /// The handshake did not finish within the limit.
    TimedOut(Duration),
    /// The socket failed.
    Failed(io::Error),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::NotTls(bytes) => {
                write!(
                    f,
                    "not a TLS client: it sent {bytes} (told it in plain text)"
                )
            }
            HandshakeError::Refused(rustls::Error::AlertReceived(alert)) => write!(
                f,
                "the client refused it with the alert {alert:?} (does it trust our certificate?)"
            ),
            HandshakeError::Refused(e) => write!(f, "{e}"),
            HandshakeError::Closed => f.write_str("the client closed before it finished"),
            HandshakeError::TimedOut(limit) => write!(
                f,
                "not finished within {} (see --tls-handshake-timeout)",
                humantime::format_duration(*limit)
            ),
            HandshakeError::Failed(e) => write!(f, "error: {e}"),
        }
    }
}

/// What a plain-text client is told on a TLS port.
pub(super) const PLAIN_ON_TLS: &[u8] =
    b"Error: this server speaks TLS; connect with TLS (tcpkit talk --tls, openssl s_client)\n";

/// Runs the server side of a handshake on `tcp`, starting with `first`
/// (bytes already read, after a PROXY header), within `limit`.
pub(super) async fn handshake(
    tcp: &TcpStream,
    config: Arc<ServerConfig>,
    first: &[u8],
    limit: Option<Duration>,
) -> Result<Box<ServerConnection>, HandshakeError> {
    let mut tls = Box::new(ServerConnection::new(config).map_err(HandshakeError::Refused)?);
    let run = async {
        let mut piece = vec![0u8; 4096];
        let mut input: Vec<u8> = first.to_vec();
        let mut checked = false;
        loop {
            if !input.is_empty() {
                if !checked {
                    checked = true;
                    if input[0] != HANDSHAKE_RECORD {
                        let _ = tcp.try_write(PLAIN_ON_TLS);
                        let shown = &input[..input.len().min(64)];
                        return Err(HandshakeError::NotTls(Escaped(shown).to_string()));
                    }
                }
                let mut rest = &input[..];
                while !rest.is_empty() {
                    tls.read_tls(&mut rest).map_err(HandshakeError::Failed)?;
                    if let Err(e) = tls.process_new_packets() {
                        flush_all(tcp, &mut tls).await.ok();
                        return Err(HandshakeError::Refused(e));
                    }
                }
                input.clear();
            }
            flush_all(tcp, &mut tls)
                .await
                .map_err(HandshakeError::Failed)?;
            if !tls.is_handshaking() {
                return Ok(());
            }
            tcp.readable().await.map_err(HandshakeError::Failed)?;
            match tcp.try_read(&mut piece) {
                Ok(0) => return Err(HandshakeError::Closed),
                Ok(n) => input.extend_from_slice(&piece[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(HandshakeError::Failed(e)),
            }
        }
    };
    match crate::net::within(limit, run).await {
        Some(Ok(())) => Ok(tls),
        Some(Err(e)) => Err(e),
        None => Err(HandshakeError::TimedOut(limit.unwrap_or_default())),
    }
}

/// Hands out up to `buf.len()` bytes of plaintext without waiting,
/// reading ciphertext only while rustls holds none. 0 is the end of the
/// stream (a close_notify, or a close without one: the greeting protocol
/// has no lengths for a truncation to hide behind, as HTTP has).
/// `WouldBlock` when there is nothing yet.
pub(super) fn read_now(
    tcp: &TcpStream,
    tls: &mut ServerConnection,
    buf: &mut [u8],
) -> io::Result<usize> {
    let mut filled = 0;
    loop {
        match tls.reader().read(&mut buf[filled..]) {
            Ok(0) => return Ok(filled),
            Ok(n) => {
                filled += n;
                if filled == buf.len() {
                    return Ok(filled);
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
            Err(e) => return Err(e),
        }
        let read = tcp.try_io(Interest::READABLE, || {
            tls.read_tls(&mut &*socket2::SockRef::from(tcp))
        });
        match read {
            Ok(_) => {
                if let Err(e) = tls.process_new_packets() {
                    let _ = flush_now(tcp, tls);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                // Key updates and alerts rustls wants to answer.
                flush_now(tcp, tls)?;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => return Ok(filled),
            Err(e) => return Err(e),
        }
    }
}

/// Takes as much of `bytes` as rustls will hold and writes what the
/// socket takes without waiting; takes nothing while earlier ciphertext is
/// still stuck. The number of plaintext bytes taken.
pub(super) fn write_now(
    tcp: &TcpStream,
    tls: &mut ServerConnection,
    bytes: &[u8],
) -> io::Result<usize> {
    flush_now(tcp, tls)?;
    if tls.wants_write() || bytes.is_empty() {
        return Ok(0);
    }
    let taken = tls.writer().write(bytes)?;
    flush_now(tcp, tls)?;
    Ok(taken)
}

/// Writes what ciphertext the socket takes without waiting.
pub(super) fn flush_now(tcp: &TcpStream, tls: &mut ServerConnection) -> io::Result<()> {
    while tls.wants_write() {
        let wrote = tcp.try_io(Interest::WRITABLE, || {
            tls.write_tls(&mut &*socket2::SockRef::from(tcp))
        });
        match wrote {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all ciphertext rustls holds, waiting for the socket as needed.
pub(super) async fn flush_all(tcp: &TcpStream, tls: &mut ServerConnection) -> io::Result<()> {
    loop {
        flush_now(tcp, tls)?;
        if !tls.wants_write() {
            return Ok(());
        }
        tcp.writable().await?;
    }
}

/// Writes all of `bytes`, waiting for the socket as needed.
pub(super) async fn send(
    tcp: &TcpStream,
    tls: &mut ServerConnection,
    bytes: &[u8],
) -> io::Result<()> {
    let mut pos = 0;
    loop {
        flush_all(tcp, tls).await?;
        if pos == bytes.len() {
            return Ok(());
        }
        pos += tls.writer().write(&bytes[pos..])?;
    }
}

/// Rate-limits the log lines of failed handshakes.
#[derive(Debug)]
pub(super) struct FailureLog {
    start: Instant,
    /// The second (since `start`) the count is for.
    second: AtomicU64,
    /// Lines logged in that second.
    logged: AtomicU64,
    /// Failures not logged one by one since the last summary.
    suppressed: AtomicU64,
}

impl Default for FailureLog {
    fn default() -> Self {
        FailureLog {
            start: Instant::now(),
            second: AtomicU64::new(0),
            logged: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }
}

impl FailureLog {
    /// Whether to log this failure one by one; if so, also how many were
    /// left out before it (to say in the same line).
    pub(super) fn admit(&self) -> Option<u64> {
        let now = self.start.elapsed().as_secs();
        if self.second.swap(now, Ordering::Relaxed) != now {
            self.logged.store(0, Ordering::Relaxed);
        }
        if self.logged.fetch_add(1, Ordering::Relaxed) < FAILURES_PER_SECOND {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_beyond_the_rate_are_counted_and_told_with_the_next_line() {
        let log = FailureLog::default();
        for _ in 0..FAILURES_PER_SECOND {
            assert_eq!(log.admit(), Some(0));
        }
        assert_eq!(log.admit(), None);
        assert_eq!(log.admit(), None);
        // A second later the next one is logged, with the two left out.
        let log = FailureLog {
            start: log.start - Duration::from_secs(1),
            ..log
        };
        assert_eq!(log.admit(), Some(2));
        assert_eq!(log.admit(), Some(0));
    }
}
