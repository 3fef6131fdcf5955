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
//! - [`session`] runs a whole session in this process, both ends traced,
//!   and records it ([`session::record`]); [`scenario`] holds the
//!   sessions that show TCP's pitfalls (`demo --scenario`).
//! - [`packets`] captures the TCP segments under the calls, where the
//!   process may (Linux, root or `CAP_NET_RAW`), and writes them as pcap.
//! - [`draw`] turns a recorded session into a sequence diagram: SVG, an
//!   HTML page around it, or a plain-text chart.

pub mod draw;
mod info;
pub mod packets;
pub mod scenario;
pub mod session;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tcpkit_wire::{Bytes, Escaped};

pub use info::TcpInfo;

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
    /// Not a call: a TCP segment this side's kernel sent, captured on
    /// the loopback interface ([`packets`]).
    Segment(packets::Segment),
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
    /// What the kernel knew of the connection at the call (Linux), when
    /// the tracer asked.
    pub info: Option<TcpInfo>,
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

    /// One call, with what the kernel knew of the connection then (see
    /// [`TcpInfo`]); a tracer that keeps no such thing takes the call
    /// alone.
    fn event_with(
        &self,
        at: Instant,
        side: Side,
        conn: SocketAddr,
        what: What,
        info: Option<TcpInfo>,
    ) {
        let _ = info;
        self.event(at, side, conn, what);
    }
}

/// Shows each event as a line as it comes (`--trace`):
/// `+412µs server 127.0.0.1:40112 read 8 bytes "Michael\n"`, its time
/// counted from the connection's first call (the client's connect, the
/// server's accept). Each line goes to `show`, which must not wait (the
/// binary queues it in front of stderr).
pub struct Lines {
    /// Each open connection's first call.
    started: Mutex<HashMap<(Side, SocketAddr), Instant>>,
    show: Box<dyn Fn(String) + Send + Sync>,
}

impl Lines {
    /// Lines handed to `show`.
    pub fn new(show: impl Fn(String) + Send + Sync + 'static) -> Lines {
        Lines {
            started: Mutex::default(),
            show: Box::new(show),
        }
    }
}

impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lines")
    }
}

impl Tracer for Lines {
    fn event(&self, at: Instant, side: Side, conn: SocketAddr, what: What) {
        let origin = {
            let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
            let origin = *started.entry((side, conn)).or_insert(at);
            // A closed connection's entry goes: a long-running server
            // keeps none for connections gone.
            if matches!(what, What::Close | What::Reset { .. }) {
                started.remove(&(side, conn));
            }
            origin
        };
        let event = Event {
            at: at.saturating_duration_since(origin),
            side,
            conn,
            what,
            info: None,
        };
        (self.show)(event.line());
    }
}

/// Keeps the events of a session, for a picture of it: every call but
/// reads and writes past [`Recorder::bounded`]'s limit, of which it keeps
/// the first half and the last half, counting (and summing the bytes of)
/// the ones in between. A picture of a million messages would be useless
/// anyway, and its recording took gigabytes.
#[derive(Debug)]
pub struct Recorder {
    inner: Mutex<Kept>,
}

/// Reads and writes a [`Recorder`] keeps by default: the first 1,000 and
/// the last 1,000.
pub const DEFAULT_DRAWN: usize = 2_000;

type Record = (Instant, Side, SocketAddr, What, Option<TcpInfo>);

#[derive(Debug, Default)]
struct Kept {
    /// The first events, and every one that is not a read or write.
    events: Vec<Record>,
    /// The last reads and writes once the first half is full: a ring.
    tail: std::collections::VecDeque<Record>,
    /// Reads and writes kept in `events`.
    head_data: usize,
    /// At most this many reads and writes in all.
    limit: usize,
    /// Reads and writes not kept, and when the first of them was.
    skipped: usize,
    skipped_from: Option<Instant>,
    /// Bytes written and read, by end and connection, every one counted.
    bytes: std::collections::HashMap<(Side, SocketAddr), (usize, usize)>,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::bounded(DEFAULT_DRAWN)
    }
}

impl Recorder {
    /// A recorder that keeps at most `limit` reads and writes (at least 2):
    /// the first half and the last half.
    pub fn bounded(limit: usize) -> Recorder {
        Recorder {
            inner: Mutex::new(Kept {
                limit: limit.max(2),
                ..Kept::default()
            }),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The events so far, timed from `origin` (the connect's call), in
    /// the order of their times. Where reads and writes were left out, a
    /// [`What::Note`] says how many.
    pub fn events(&self, origin: Instant) -> Vec<Event> {
        let kept = self.kept();
        let event = |(at, side, conn, what, info): &Record| Event {
            at: at.saturating_duration_since(origin),
            side: *side,
            conn: *conn,
            what: what.clone(),
            info: *info,
        };
        let mut events: Vec<Event> = kept.events.iter().chain(&kept.tail).map(event).collect();
        if let Some(from) = kept.skipped_from {
            let nobody = SocketAddr::from(([0, 0, 0, 0], 0));
            events.push(Event {
                at: from.saturating_duration_since(origin),
                side: Side::Client,
                conn: nobody,
                what: What::Note(format!(
                    "{} reads and writes not drawn here (the first {} and the last {} are)",
                    kept.skipped,
                    kept.limit / 2,
                    kept.limit - kept.limit / 2
                )),
                info: None,
            });
        }
        // Stable: calls at the same instant keep the order they came in.
        events.sort_by_key(|e| e.at);
        events
    }

    /// Where reads and writes were left out, timed from `origin`: from
    /// the first left out to the first kept after them.
    pub fn gap(&self, origin: Instant) -> Option<(Duration, Duration)> {
        let kept = self.kept();
        let from = kept.skipped_from?;
        let to = kept.tail.front().map_or(from, |(at, ..)| *at);
        Some((
            from.saturating_duration_since(origin),
            to.saturating_duration_since(origin),
        ))
    }

    /// Reads and writes recorded but not kept.
    pub fn skipped(&self) -> usize {
        self.kept().skipped
    }

    /// The bytes `side` wrote and read on `conn`, all of them, kept or not.
    pub fn bytes(&self, side: Side, conn: SocketAddr) -> (usize, usize) {
        self.kept()
            .bytes
            .get(&(side, conn))
            .copied()
            .unwrap_or_default()
    }
}

impl Tracer for Recorder {
    fn event(&self, at: Instant, side: Side, conn: SocketAddr, what: What) {
        self.event_with(at, side, conn, what, None);
    }

    fn event_with(
        &self,
        at: Instant,
        side: Side,
        conn: SocketAddr,
        what: What,
        info: Option<TcpInfo>,
    ) {
        let mut kept = self.kept();
        let total = kept.bytes.entry((side, conn)).or_default();
        match &what {
            What::Write(b) => total.0 += b.len(),
            What::Read(b) => total.1 += b.len(),
            _ => {
                kept.events.push((at, side, conn, what, info));
                return;
            }
        }
        if kept.head_data < kept.limit / 2 {
            kept.head_data += 1;
            kept.events.push((at, side, conn, what, info));
            return;
        }
        let room = kept.limit - kept.limit / 2;
        kept.tail.push_back((at, side, conn, what, info));
        if kept.tail.len() > room
            && let Some((gone, ..)) = kept.tail.pop_front()
        {
            kept.skipped += 1;
            kept.skipped_from.get_or_insert(gone);
        }
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
            What::Segment(segment) => format!("segment {}", segment.words()),
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
    fn a_recorder_keeps_the_first_and_last_reads_and_writes_every_close_and_every_byte() {
        let conn: SocketAddr = "127.0.0.1:40112".parse().unwrap();
        let origin = Instant::now();
        let recorder = Recorder::bounded(4);
        let at = |n: u64| origin + Duration::from_micros(n);
        recorder.event(at(0), Side::Client, conn, What::Accept);
        for n in 1..=10u8 {
            recorder.event(
                at(u64::from(n)),
                Side::Client,
                conn,
                What::Write(vec![n; 3]),
            );
        }
        recorder.event(at(11), Side::Client, conn, What::Close);
        let events = recorder.events(origin);
        let kinds: Vec<String> = events.iter().map(|e| e.what.words()).collect();
        assert_eq!(
            kinds,
            [
                "accept returned the connection",
                "write 3 bytes \"\\x01\\x01\\x01\"",
                "write 3 bytes \"\\x02\\x02\\x02\"",
                "-- 6 reads and writes not drawn here (the first 2 and the last 2 are)",
                "write 3 bytes \"\\t\\t\\t\"",
                "write 3 bytes \"\\n\\n\\n\"",
                "close",
            ]
        );
        assert_eq!(recorder.skipped(), 6);
        assert_eq!(recorder.bytes(Side::Client, conn), (30, 0));
    }

    #[test]
    fn lines_show_escaped_shortened_bytes_and_comparable_times() {
        let conn: SocketAddr = "127.0.0.1:40112".parse().unwrap();
        let e = Event {
            at: Duration::from_micros(412),
            side: Side::Server,
            conn,
            what: What::Read(b"Michael\n".to_vec()),
            info: None,
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
