//! What a TCP session really did, call by call: every connect, accept,
//! write, read, half-close and close either side made, with its bytes
//! and its time. The tutorial tells these in words; a trace shows them.
//!
//! - [`Tracer`] receives [`Event`]s: the binary's `--trace` prints each
//!   as a line ([`Event::line`]), and a [`Recorder`] keeps them for a
//!   picture.
//! - Where events come from: the server's sockets wrapped by
//!   [`crate::server::traced`] (on the [`crate::server::Socket`] seam, so
//!   an untraced server runs the very same code without a check), and
//!   `talk`'s connection when [`crate::talk::TalkOptions::trace`] is set.
//! - [`draw`] turns a recorded session into a sequence diagram: SVG, an
//!   HTML page around it, or a plain-text chart.

pub mod draw;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tcpkit_wire::{Bytes, Escaped};

/// Which end of the connection made the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The end that connected.
    Client,
    /// The end that accepted.
    Server,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// One call and what it returned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum What {
    /// `connect` was called (the event's time) and returned after the
    /// three-way handshake, `took` later.
    Connect {
        /// From the call to its return.
        took: Duration,
        /// The server's address.
        to: SocketAddr,
    },
    /// `accept` returned this connection.
    Accept,
    /// A write took these bytes (all of them, or as many as the socket
    /// took at once).
    Write(Vec<u8>),
    /// A read returned these bytes: whatever had arrived, which need not be
    /// one message.
    Read(Vec<u8>),
    /// A read returned 0: the other side has closed its sending half.
    End,
    /// `shutdown(SHUT_WR)`: this side sends no more (a FIN goes out).
    ShutdownWrite,
    /// The socket was closed, with nothing left unread: the kernel sends a
    /// FIN (unless this side sent one already).
    Close,
    /// The socket was closed with this many bytes unread: the kernel
    /// sends a reset (RST) instead of a FIN.
    Reset {
        /// Bytes that had arrived and were never read.
        unread: usize,
    },
    /// A call failed (a reset shows here as "connection reset").
    Failed(String),
    /// The kernel's state of this side's socket after the session
    /// (`TIME_WAIT` on the side that closed first), or why it is not shown.
    State(String),
    /// Not a call: what the next part of a recording shows (a scenario
    /// with two sessions says which is which).
    Note(String),
}

/// One call, when it returned, and on which connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Since the tracer's start (for a recorded session: the connect).
    pub at: Duration,
    /// The end that made the call.
    pub side: Side,
    /// The connection, by its client's address (the same from both ends).
    pub conn: SocketAddr,
    /// The call.
    pub what: What,
}

/// Receives the events of traced connections.
///
/// `at` keeps cause before effect across the two ends: a call that
/// sends (the connect, a write, a half-close, a close) is timed when it
/// is made, one that receives (a read, an accept) when it returns, so the
/// bytes of a write are never shown read before they were written.
pub trait Tracer: Send + Sync + fmt::Debug {
    /// One call, made or returned at `at`.
    fn event(&self, at: Instant, side: Side, conn: SocketAddr, what: What);
}

/// Keeps every event, for a picture of the session.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<(Instant, Side, SocketAddr, What)>>,
}

impl Recorder {
    /// The events so far, timed from `origin` (the connect's call), in
    /// the order of their times.
    pub fn events(&self, origin: Instant) -> Vec<Event> {
        let mut events: Vec<Event> = self
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(at, side, conn, what)| Event {
                at: at.saturating_duration_since(origin),
                side: *side,
                conn: *conn,
                what: what.clone(),
            })
            .collect();
        // Stable: calls at the same instant keep the order they came in.
        events.sort_by_key(|e| e.at);
        events
    }
}

impl Tracer for Recorder {
    fn event(&self, at: Instant, side: Side, conn: SocketAddr, what: What) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, side, conn, what));
    }
}

impl What {
    /// The call in a few words, with its bytes escaped and cut at 64:
    /// `read 9 bytes "Welcome!\n"`.
    pub fn words(&self) -> String {
        match self {
            What::Connect { took, to } => {
                format!("connect to {to} returned after {}", time(*took))
            }
            What::Accept => "accept returned the connection".into(),
            What::Write(bytes) => format!("write {} {}", Bytes::of(bytes.len()), Escaped(bytes)),
            What::Read(bytes) => format!("read {} {}", Bytes::of(bytes.len()), Escaped(bytes)),
            What::End => "read 0 bytes: the other side closed its half".into(),
            What::ShutdownWrite => "shutdown(write): FIN sent, no more from this side".into(),
            What::Close => "close".into(),
            What::Reset { unread } => {
                format!(
                    "close with {} unread: the kernel sends a reset (RST)",
                    Bytes::of(*unread)
                )
            }
            What::Failed(why) => format!("failed: {why}"),
            What::State(state) => format!("TCP state afterwards: {state}"),
            What::Note(note) => format!("-- {note}"),
        }
    }
}

impl Event {
    /// The event as one line, for `--trace`:
    /// `+0.412ms server 127.0.0.1:40112 read 8 bytes "Michael\n"`.
    pub fn line(&self) -> String {
        format!(
            "+{} {} {} {}",
            time(self.at),
            self.side,
            self.conn,
            self.what.words()
        )
    }
}

/// A time to compare at a glance, to the microsecond: µs below a
/// millisecond, else ms with three decimals, else seconds with six.
pub fn time(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.3}ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.6}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_escaped_shortened_bytes_and_comparable_times() {
        let conn: SocketAddr = "127.0.0.1:40112".parse().unwrap();
        let e = Event {
            at: Duration::from_micros(412),
            side: Side::Server,
            conn,
            what: What::Read(b"Michael\n".to_vec()),
        };
        assert_eq!(
            e.line(),
            "+412µs server 127.0.0.1:40112 read 8 bytes \"Michael\\n\""
        );
        let long = What::Write(vec![b'x'; 100]);
        assert_eq!(
            long.words(),
            format!("write 100 bytes \"{}\"... (36 more bytes)", "x".repeat(64))
        );
        assert_eq!(time(Duration::from_micros(1500)), "1.500ms");
        assert_eq!(time(Duration::from_micros(2_500_017)), "2.500017s");
        assert_eq!(
            What::Read(vec![0x1b, b'[']).words(),
            "read 2 bytes \"\\x1b[\""
        );
    }
}
