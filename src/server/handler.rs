//! One connection's policy: welcome, read, answer (after `--delay` if
//! set), and close gracefully, with shutdown, the grace period, and the
//! idle and write timeouts. How bytes move, and everything that makes it
//! fast, is [`Connection`]'s business (`conn.rs`); this file should read
//! like the protocol.
//!
//! Every idle connection keeps this task's future, so its state is kept
//! small: rare, long steps (a blocked write, `--delay`, shutdown, the
//! lingering close) are boxed by [`killable`] and cost one pointer until
//! they run.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tcpkit_wire::greeting::{Close, Progress};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::conn::{Answered, Connection, End, Exchange, OUTPUT_STEP, SendError, Wake};
use super::socket::Socket;
use super::{Shared, metrics};
use tcpkit_wire::proxy;

/// `message_since` when no message is unfinished.
const NO_MESSAGE: u32 = u32::MAX;

/// What a client is told when `--max-buffered` has no room for its input.
const BUSY: &[u8] = b"Error: server busy: no room to buffer more input; retry later\n";

/// What a client is told when it sends a PROXY header it may not send.
const UNTRUSTED_HEADER: &[u8] =
    b"Error: PROXY protocol header refused: this address is not a trusted proxy\n";

/// At shutdown, answer at most this many reads already waiting in the socket.
const SHUTDOWN_READS: usize = 64;

/// Why a connection ended; logged with its close.
#[derive(Debug)]
enum Ending {
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

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Exit => f.write_str("client sent exit"),
            Ending::TooLong => f.write_str("message too long"),
            Ending::ClientClosed => f.write_str("client closed"),
            Ending::IdleTimeout => f.write_str("idle timeout"),
            Ending::MessageTimeout => f.write_str("message not completed in time"),
            Ending::WriteTimeout => f.write_str("client did not read its replies in time"),
            Ending::Busy => f.write_str("no room in the buffer budget for its unfinished message"),
            Ending::NoProxyHeader => f.write_str("no valid PROXY header"),
            Ending::NoHandshake => f.write_str("no TLS handshake"),
            Ending::UntrustedHeader => {
                f.write_str("it sent a PROXY header, but its address is not in --proxy-from")
            }
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
    fn reason(&self) -> metrics::Reason {
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

/// Why an idle connection stopped waiting for input, other than input.
enum Stop {
    Shutdown,
    IdleTimeout,
    MessageTimeout,
}

/// Why an unfinished message is refused.
enum Refusal {
    /// `--message-timeout` passed since its first byte.
    SlowMessage,
    /// `--max-buffered` has no room for it.
    Busy,
}

/// An answer given at once, or one that must wait (boxed, see
/// [`Handler::read_and_answer`]).
enum Answer<'a> {
    Done(Option<Ending>),
    Later(Pin<Box<dyn Future<Output = Option<Ending>> + Send + 'a>>),
}

/// Serves one connection to the end and logs how it ended.
///
/// A plain fn returning the connection's future: as an `async fn`,
/// its arguments would keep slots of their own in every connection's task
/// after being moved into the handler.
pub(super) fn serve<S: Socket>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
) -> impl Future<Output = ()> + Send {
    // Read only for the duration histogram: without --metrics, an accept
    // does not look at the clock.
    let opened_ms = if shared.metrics.is_some() {
        shared.uptime_ms()
    } else {
        0
    };
    shared.open.fetch_add(1, Ordering::AcqRel);
    let mut handler = Handler {
        conn: Connection::new(stream, shared.settings.framing),
        peer,
        shared,
        messages: 0,
        answered: false,
        spoke: false,
        check_first: false,
        heavy: false,
        budgeted: 0,
        opened_ms,
        _permit: permit,
    };
    // An `async move` block that uses the captured handler in place; an
    // `async fn run(mut self)` would copy it into a second slot.
    async move {
        let ending = handler.serve().await;
        if let Ending::NoProxyHeader | Ending::NoHandshake = ending {
            handler.shared.open.fetch_sub(1, Ordering::AcqRel);
            if let Some(metrics) = &handler.shared.metrics {
                metrics.closed(ending.reason(), 0, handler.seconds_open());
            }
            return; // logged already; there was no conversation
        }
        // Whatever it held goes back before the lingering close: refused
        // clients must not keep the budget for seconds.
        handler.conn.drop_unfinished();
        handler.budget_unfinished();
        match ending {
            // The socket is broken, the client is not reading, or time is up.
            Ending::Failed(_) | Ending::WriteTimeout | Ending::BusyUnread | Ending::Killed => {}
            _ => {
                let shared = handler.shared.clone();
                // Bound first: a temporary would keep a slot in this future.
                let closing = killable(&shared.kill, handler.conn.linger(shared.linger));
                closing.await;
            }
        }
        // The client's own close or reset is its choice, not our failure:
        // before its first byte, a probe; after, a reset of its own.
        let ending = match ending {
            Ending::ClientClosed if !handler.spoke => Ending::Probe,
            Ending::Failed(e) if is_peer_reset(&e) && !handler.spoke => Ending::Probe,
            Ending::Failed(e) if is_peer_reset(&e) => Ending::ClientReset,
            other => other,
        };
        if let Some(metrics) = &handler.shared.metrics {
            metrics.closed(ending.reason(), handler.messages, handler.seconds_open());
        }
        let s = if handler.messages == 1 { "" } else { "s" };
        // Closed, as far as anyone outside can tell: no longer open.
        handler.shared.open.fetch_sub(1, Ordering::AcqRel);
        if let Ending::Probe = ending {
            debug!(
                "Connection from {} closed. ({ending}, {} message{s})",
                handler.peer, handler.messages
            );
            handler.shared.probes.count();
            return;
        }
        info!(
            "Connection from {} closed. ({ending}, {} message{s})",
            handler.peer, handler.messages
        );
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

/// Owns one connection.
struct Handler<S> {
    /// The client's connection: its socket and framing.
    conn: Connection<S>,
    /// The client's address, for logs.
    peer: SocketAddr,
    /// Settings shared by all connections.
    shared: Arc<Shared>,
    /// Messages answered so far.
    messages: u64,
    /// The last read finished at least one message.
    answered: bool,
    /// The client has sent at least one byte (after any PROXY header and
    /// TLS handshake): one that never does is a probe.
    spoke: bool,
    /// The first read must be checked for a PROXY header that this client
    /// may not send (`--proxy-protocol`, an address not in `--proxy-from`).
    check_first: bool,
    /// The last read asked for more replies than one turn makes: the next
    /// one waits for a turn in the lane too (see `Shared::lane`).
    heavy: bool,
    /// Bytes of the unfinished message taken from the server's budget
    /// (a u32 beside the bool: it costs no room in the future).
    budgeted: u32,
    /// When it was accepted, in `Shared::uptime_ms`.
    opened_ms: u32,

    /// This connection's place under `--max-connections`, given back on drop.
    _permit: OwnedSemaphorePermit,
}

impl<S: Socket> Handler<S> {
    /// Seconds since the connection was accepted.
    fn seconds_open(&self) -> f64 {
        f64::from(self.shared.uptime_ms().wrapping_sub(self.opened_ms)) / 1000.0
    }

    /// With `--proxy-protocol`, a load balancer's connection starts with a
    /// header and anyone else's must not; then the welcome. Synchronous
    /// unless something must wait (the header, a welcome the socket would
    /// not take at once): only then is a future made, boxed, so the
    /// opening adds nothing to every connection's state.
    fn open(&mut self) -> Answer<'_> {
        let trusted = self.shared.proxy.as_ref().map(|p| p.trusts(self.peer.ip()));
        self.check_first = trusted == Some(false);
        if trusted == Some(true) || self.shared.tls.is_some() {
            let proxied = trusted == Some(true);
            return Answer::Later(Box::pin(async move {
                let kill = self.shared.kill.clone();
                tokio::select! {
                    biased;
                    _ = kill.cancelled() => Some(Ending::Killed),
                    ending = self.open_slowly(proxied) => ending,
                }
            }));
        }
        info!("Accept new connection from {}...", self.peer);
        self.welcome()
    }

    /// Sends the welcome, waiting (boxed, killable) only for what the
    /// socket would not take at once.
    fn welcome(&mut self) -> Answer<'_> {
        if let Some(metrics) = &self.shared.metrics {
            metrics.sent(self.shared.welcome.len());
        }
        let welcomed = match self.conn.send_now(&self.shared.welcome) {
            Ok(n) => n,
            Err(e) => return Answer::Done(Some(Ending::Failed(e))),
        };
        if welcomed == self.shared.welcome.len() {
            return Answer::Done(None);
        }
        Answer::Later(Box::pin(async move {
            let shared = self.shared.clone();
            let rest = &shared.welcome[welcomed..];
            tokio::select! {
                biased;
                _ = shared.kill.cancelled() => Some(Ending::Killed),
                sent = self.conn.send(rest, shared.write_timeout) => sent.err().map(Ending::from),
            }
        }))
    }

    /// An opening that must wait: with `proxied` (a load balancer's
    /// connection under `--proxy-protocol`) the whole PROXY header first,
    /// nothing sent before it; with TLS the handshake; then the welcome,
    /// then answers to whatever came after them in the same reads.
    async fn open_slowly(&mut self, proxied: bool) -> Option<Ending> {
        let shared = self.shared.clone();
        let balancer = self.peer;
        let mut first = Vec::new();
        let mut via = String::new();
        if let Some(policy) = shared.proxy.as_ref().filter(|_| proxied) {
            let origin;
            (origin, first) = match self
                .conn
                .read_proxy_header(policy.versions, policy.timeout)
                .await
            {
                Ok(header) => header,
                Err(why) => {
                    info!("Closed a connection from {balancer}: {why}.");
                    return Some(Ending::NoProxyHeader);
                }
            };
            via = match origin {
                proxy::Origin::Proxied { source, .. } => {
                    self.peer = source;
                    format!("via {balancer}")
                }
                proxy::Origin::Local => "PROXY LOCAL: the load balancer itself".to_string(),
            };
        }
        if let Some(tls) = &shared.tls {
            let started = self
                .conn
                .start_tls(tls.config(), &first, shared.tls_handshake_timeout)
                .await;
            if let Err(why) = started {
                if let Some(left_out) = shared.tls_failures.admit() {
                    let also = match left_out {
                        0 => String::new(),
                        n => format!(" ({n} more failed handshakes were not logged one by one)"),
                    };
                    info!("TLS handshake with {} failed: {why}.{also}", self.peer);
                }
                return Some(Ending::NoHandshake);
            }
            first.clear(); // it was the start of the handshake
            if let Some(summary) = self.conn.tls_summary() {
                via = match via.is_empty() {
                    true => summary,
                    false => format!("{via}, {summary}"),
                };
            }
        }
        match via.is_empty() {
            true => info!("Accept new connection from {}...", self.peer),
            false => info!("Accept new connection from {} ({via})...", self.peer),
        }
        let welcomed = match self.welcome() {
            Answer::Done(ended) => ended,
            Answer::Later(sending) => sending.await,
        };
        if welcomed.is_some() {
            return welcomed;
        }
        // What came after the header is the client's first input.
        self.count(first.len(), 0, 0);
        if let Some(ending) = self.answer_stuck(Vec::new(), first, None).await {
            return Some(ending);
        }
        if !self.budget_unfinished() {
            return Some(self.refuse(Refusal::Busy).await);
        }
        None
    }

    /// Opens the connection (the PROXY header if one is due, the
    /// welcome), then converses until it ends.
    async fn serve(&mut self) -> Ending {
        // The opening is awaited in here, not by the caller: a value that
        // the caller kept across two awaits would take a slot in every
        // connection's state.
        // No binding for the outcome: a local would keep its slot across
        // every later await of the connection.
        if let Some(ending) = match self.open() {
            Answer::Done(ended) => ended,
            Answer::Later(opening) => opening.await,
        } {
            return ending;
        }
        // One waiter, registered once and kept for the whole connection: it
        // hears the idle clock's ticks and the shutdown. Making a timer and
        // a waiter afresh for every wait would cost two registrations per
        // read, which a busy connection does millions of times.
        let shared = self.shared.clone();
        let mut events = std::pin::pin!(shared.clock.events.notified());
        let mut last_input = shared.clock.now();
        // The tick at which the unfinished message's first byte came, or
        // NO_MESSAGE (a sentinel, not an Option: this lives in every idle
        // connection's state).
        let mut message_since: u32 = NO_MESSAGE;
        // Both refusals leave the loop and share one await below: each
        // await point of its own would add to every connection's state.
        let refusal = loop {
            let shared: &Shared = &shared;
            // Shutdown first: it answers what is waiting, then closes.
            let stop = move || {
                if shared.token.is_cancelled() {
                    Some(Stop::Shutdown)
                } else if message_since != NO_MESSAGE && shared.clock.message_overdue(message_since)
                {
                    Some(Stop::MessageTimeout)
                } else if shared.clock.expired(last_input) {
                    Some(Stop::IdleTimeout)
                } else {
                    None
                }
            };
            let notify = &shared.clock.events;
            match self
                .conn
                .wait_for_input(notify, events.as_mut(), stop)
                .await
            {
                Wake::Readable => {}
                Wake::Event(Stop::Shutdown) => {
                    return killable(&shared.kill, self.answer_waiting_input())
                        .await
                        .unwrap_or(Ending::Killed);
                }
                Wake::Event(Stop::IdleTimeout) => return Ending::IdleTimeout,
                Wake::Event(Stop::MessageTimeout) => break Refusal::SlowMessage,
                Wake::Failed(e) => return Ending::Failed(e),
            }
            // One await for both ways: a second would add a slot to every
            // connection's state.
            let ending = match if self.heavy {
                self.read_in_turn()
            } else {
                self.read_and_answer()
            } {
                Answer::Done(ending) => ending,
                Answer::Later(answering) => answering.await,
            };
            if let Some(ending) = ending {
                return ending;
            }
            if !self.budget_unfinished() {
                break Refusal::Busy;
            }
            last_input = shared.clock.now();
            // An unfinished message dates from its first byte: from now if
            // this read finished the one before it, else from then.
            message_since = match (self.conn.pending(), self.answered) {
                (0, _) => NO_MESSAGE,
                (_, true) => last_input,
                (_, false) if message_since == NO_MESSAGE => last_input,
                (_, false) => message_since,
            };
        };
        killable(&shared.kill, self.refuse(refusal))
            .await
            .unwrap_or(Ending::Killed)
    }

    /// Refuses the unfinished message: says why (as a line: only line
    /// framing holds unfinished messages), then ends.
    async fn refuse(&mut self, refusal: Refusal) -> Ending {
        // The refused message's memory goes back now, not after a reply
        // that a slow client may take long to accept.
        self.conn.drop_unfinished();
        self.budget_unfinished();
        let (line, ending) = match refusal {
            // --message-timeout: it took too long.
            Refusal::SlowMessage => {
                let limit = self.shared.message_timeout.unwrap_or_default();
                let line = format!(
                    "Error: message not completed within {}\n",
                    humantime::format_duration(limit)
                );
                (line, Ending::MessageTimeout)
            }
            // --max-buffered: no room to hold it.
            Refusal::Busy => (String::from_utf8_lossy(BUSY).into_owned(), Ending::Busy),
        };
        if let Some(metrics) = &self.shared.metrics {
            metrics.sent(line.len());
        }
        match self
            .conn
            .send(line.as_bytes(), self.shared.write_timeout)
            .await
        {
            Ok(()) => ending,
            Err(e) => e.into(),
        }
    }

    /// Counts what one read (or a part of one) did: for the log line's
    /// message count, and per read for `--metrics`.
    fn count(&mut self, bytes_in: usize, replies: usize, bytes_out: usize) {
        self.messages += replies as u64;
        self.spoke |= bytes_in > 0;
        if let Some(metrics) = &self.shared.metrics {
            metrics.read(bytes_in, replies, bytes_out);
        }
    }

    /// Brings what the unfinished message holds from the server's budget up
    /// to date; false when it grew and the budget has no room.
    fn budget_unfinished(&mut self) -> bool {
        let now = self.conn.buffered();
        let before = self.budgeted as usize;
        if now == before {
            return true;
        }
        // An unfinished line of 4 GiB or more (a --max-message that large)
        // is refused like one the budget has no room for: the count is a
        // u32 to keep every connection's state small.
        let Ok(now_u32) = u32::try_from(now) else {
            return false;
        };
        if now < before {
            self.shared.budget.give(before - now);
        } else if !self.shared.budget.take(now - before) {
            return false;
        }
        self.budgeted = now_u32;
        true
    }

    /// Reads and answers as [`Handler::read_and_answer`] does, for a
    /// connection whose last read took more than one turn: only once the
    /// lane gives it a turn, so that such connections wait in the lane's
    /// line and not in the runtime's, ahead of everyone else.
    fn read_in_turn(&mut self) -> Answer<'_> {
        Answer::Later(Box::pin(async move {
            let kill = self.shared.kill.clone();
            tokio::select! {
                biased;
                _ = kill.cancelled() => Some(Ending::Killed),
                ending = self.wait_for_turn_then_read() => ending,
            }
        }))
    }

    /// The body of [`Handler::read_in_turn`].
    async fn wait_for_turn_then_read(&mut self) -> Option<Ending> {
        let shared = self.shared.clone();
        let turn = shared.lane.acquire().await;
        let answer = self.read_and_answer();
        drop(turn);
        match answer {
            Answer::Done(ending) => ending,
            Answer::Later(answering) => answering.await,
        }
    }

    /// Reads once and answers; returns how the connection ends, if it
    /// does. Synchronous unless the answer must wait (a write the socket
    /// would not take, `--delay`): only then is a future made, boxed, so
    /// the rare path adds one pointer to every connection's state.
    fn read_and_answer(&mut self) -> Answer<'_> {
        self.answered = false;
        let hold = self.shared.delay.is_some() || self.check_first;
        match self.conn.exchange(&self.shared.settings, hold, self.peer) {
            Ok(Exchange::WouldBlock) => Answer::Done(None),
            Err(e) => Answer::Done(Some(Ending::Failed(e))),
            Ok(Exchange::Answered(answered)) => {
                self.count(answered.bytes_in, answered.replies, answered.bytes_out);
                self.answered = answered.replies > 0;
                self.heavy = !answered.rest.is_empty();
                if answered.unsent.is_empty() && answered.rest.is_empty() {
                    return Answer::Done(answered.end.map(Ending::from));
                }
                Answer::Later(Box::pin(async move {
                    let kill = self.shared.kill.clone();
                    tokio::select! {
                        biased;
                        _ = kill.cancelled() => Some(Ending::Killed),
                        ending = self.finish_read(answered) => ending,
                    }
                }))
            }
            Ok(Exchange::Held(input)) => Answer::Later(Box::pin(async move {
                let kill = self.shared.kill.clone();
                self.count(input.len(), 0, 0);
                if std::mem::take(&mut self.check_first) && proxy::looks_like_header(&input) {
                    if let Some(metrics) = &self.shared.metrics {
                        metrics.sent(UNTRUSTED_HEADER.len());
                    }
                    let refused = self.conn.send(UNTRUSTED_HEADER, self.shared.write_timeout);
                    return Some(match refused.await {
                        Ok(()) => Ending::UntrustedHeader,
                        Err(e) => e.into(),
                    });
                }
                tokio::select! {
                    biased;
                    _ = kill.cancelled() => Some(Ending::Killed),
                    ending = self.answer_held(input) => ending,
                }
            })),
        }
    }

    /// The client is not taking its replies as fast as it sends: hold what
    /// the socket would not take and the input behind it (from the
    /// server's budget), and read nothing more until both are answered and
    /// sent. TCP does the rest: the client's sends stall once the kernel's
    /// buffers fill, and each such client costs a bounded amount.
    async fn answer_stuck(
        &mut self,
        unsent: Vec<u8>,
        rest: Vec<u8>,
        end: Option<End>,
    ) -> Option<Ending> {
        if unsent.is_empty() && rest.is_empty() {
            return end.map(Ending::from);
        }
        let shared = self.shared.clone();
        let Some(held) = shared
            .budget
            .hold(rest.len() + unsent.len().max(OUTPUT_STEP))
        else {
            return Some(Ending::BusyUnread);
        };
        self.answer_rest(unsent, rest, end, held).await
    }

    /// Sends `unsent`, then answers `rest` a step at a time, each step's
    /// replies sent before the next is made, while `_held` keeps their
    /// share of the budget.
    async fn answer_rest(
        &mut self,
        mut unsent: Vec<u8>,
        rest: Vec<u8>,
        end: Option<End>,
        _held: super::Held<'_>,
    ) -> Option<Ending> {
        let mut pos = 0;
        let shared = self.shared.clone();
        let mut turn = None;
        loop {
            if let Err(ending) = self.send_held(&unsent, &mut turn).await {
                return Some(ending);
            }
            if pos == rest.len() {
                return end.map(Ending::from);
            }
            // A client that reads as fast as it is answered never makes
            // the send above wait: a step is a turn in the lane. After
            // each, the runtime's other tasks run (yielding, the lane kept,
            // so that a handful of such connections are in the runtime's
            // queue, not all of them), then the lane goes to the next in
            // line (it is fair: a turn given back goes to the first in
            // line, and this connection lines up behind it).
            if turn.is_some() {
                tokio::task::yield_now().await;
                drop(turn.take());
            }
            turn = shared.lane.acquire().await.ok();
            unsent.clear();
            let progress = self
                .conn
                .answer_more(&self.shared.settings, &rest[pos..], &mut unsent);
            pos += progress.consumed;
            self.count(0, progress.replies, unsent.len());
            self.answered |= progress.replies > 0;
            if let Some(close) = progress.close {
                if let Err(e) = self.conn.send(&unsent, self.shared.write_timeout).await {
                    return Some(e.into());
                }
                return Some(close.into());
            }
        }
    }

    /// Sends replies; when the socket does not take them all at once, the
    /// client is not reading: the lane's `turn` goes to the next in line,
    /// and what the kernel holds unsent (its send buffer is full of our
    /// replies: memory this client holds as much as ours, bounded by
    /// --send-buffer) is held from the budget while we wait. No room: the
    /// client is closed.
    async fn send_held(
        &mut self,
        bytes: &[u8],
        turn: &mut Option<tokio::sync::SemaphorePermit<'_>>,
    ) -> Result<(), Ending> {
        let sent = self.conn.send_now(bytes).map_err(Ending::Failed)?;
        let shared = self.shared.clone();
        let _kernel = if sent < bytes.len() {
            drop(turn.take());
            let Some(held) = shared.budget.hold(self.conn.unsent_in_kernel()) else {
                return Err(Ending::BusyUnread);
            };
            Some(held)
        } else {
            None
        };
        self.conn
            .send(&bytes[sent..], self.shared.write_timeout)
            .await
            .map_err(Ending::from)
    }

    /// Sends what one read left unsent and answers the rest of it.
    async fn finish_read(&mut self, answered: Answered) -> Option<Ending> {
        let Answered {
            unsent, rest, end, ..
        } = answered;
        if unsent.is_empty() && !rest.is_empty() {
            return self.answer_in_turns(rest).await;
        }
        self.answer_stuck(unsent, rest, end).await
    }

    /// Answers the rest of a read that asked for more replies than one turn
    /// makes ([`super::conn::TURN_REPLIES`]), after letting the thread's other connections
    /// have their turn. The rest is held from the server's budget while it
    /// waits; with no room there, it is answered now, in this turn, as far
    /// as the socket takes the replies, as before turns were taken.
    async fn answer_in_turns(&mut self, rest: Vec<u8>) -> Option<Ending> {
        let shared = self.shared.clone();
        if let Some(held) = shared.budget.hold(rest.len() + OUTPUT_STEP) {
            return self.answer_rest(Vec::new(), rest, None, held).await;
        }
        let answered = match self.conn.answer_rest_now(&self.shared.settings, &rest) {
            Ok(answered) => answered,
            Err(e) => return Some(Ending::Failed(e)),
        };
        self.count(0, answered.replies, answered.bytes_out);
        self.answered |= answered.replies > 0;
        self.answer_stuck(answered.unsent, answered.rest, answered.end)
            .await
    }

    /// Answers a read handed back undecoded: slowly with `--delay`, else
    /// as any other read (it was held only to be checked).
    async fn answer_held(&mut self, input: Vec<u8>) -> Option<Ending> {
        if self.shared.delay.is_some() {
            self.answer_slowly(input).await
        } else {
            self.answer_stuck(Vec::new(), input, None).await
        }
    }

    /// `--delay`: answers the messages of one read one at a time, waiting
    /// before each reply. Only this connection waits.
    async fn answer_slowly(&mut self, input: Vec<u8>) -> Option<Ending> {
        // The read waits here, up to --delay per message: it counts
        // against the budget like any other buffered input.
        let shared = self.shared.clone();
        let Some(_held) = shared.budget.hold(input.len()) else {
            return Some(match self.conn.send(BUSY, shared.write_timeout).await {
                Ok(()) => Ending::Busy,
                Err(e) => e.into(),
            });
        };
        let delay = self.shared.delay.unwrap_or_default();
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            out.clear();
            let rest = &input[pos..];
            let progress = if rest.is_empty() {
                Progress::default()
            } else {
                self.conn.decode(&self.shared.settings, rest, &mut out, 1)
            };
            pos += progress.consumed;
            if progress.replies == 0 && progress.close.is_none() {
                return None;
            }
            if progress.replies > 0 {
                tokio::time::sleep(delay).await;
                self.count(0, 1, out.len());
                self.answered = true;
            }
            if let Err(e) = self.conn.send(&out, self.shared.write_timeout).await {
                return Some(e.into());
            }
            if let Some(close) = progress.close {
                return Some(close.into());
            }
        }
    }

    /// Shutdown has begun: answer what the client already sent, then end.
    async fn answer_waiting_input(&mut self) -> Ending {
        let hold = self.shared.delay.is_some();
        for _ in 0..SHUTDOWN_READS {
            match self.conn.exchange(&self.shared.settings, hold, self.peer) {
                Ok(Exchange::WouldBlock) => break,
                Err(e) => return Ending::Failed(e),
                Ok(Exchange::Held(input)) => {
                    if let Some(ending) = self.answer_slowly(input).await {
                        return ending;
                    }
                }
                Ok(Exchange::Answered(answered)) => {
                    self.count(answered.bytes_in, answered.replies, answered.bytes_out);
                    if let Some(ending) = self.finish_read(answered).await {
                        return ending;
                    }
                }
            }
        }
        Ending::Shutdown
    }
}

impl<S> Drop for Handler<S> {
    /// Gives the unfinished message's share of the budget back, however
    /// the connection ended (the grace period drops it mid-await).
    fn drop(&mut self) {
        self.shared.budget.give(self.budgeted as usize);
    }
}

/// Runs a rare, possibly long step (a blocked write, `--delay`, shutdown,
/// the lingering close) boxed, so its state does not enlarge the future of
/// every idle connection, and cut short when the grace period ends.
// A plain fn, not an `async fn`: an async fn would keep `step` unboxed in
// the caller's state, which is what the box is there to avoid.
fn killable<'a, T: Send + 'a>(
    kill: &'a CancellationToken,
    step: impl Future<Output = T> + Send + 'a,
) -> Pin<Box<dyn Future<Output = Option<T>> + Send + 'a>> {
    Box::pin(async move {
        tokio::select! {
            biased;
            _ = kill.cancelled() => None,
            done = step => Some(done),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    /// Every idle connection keeps this future; the README's under-1-KiB
    /// figure depends on it. Doubling it (an awaited future captured by an
    /// `async move` block, an unboxed rare path) fails here first.
    #[tokio::test]
    async fn connection_future_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let shared = Arc::new(super::super::Shared {
            settings: Default::default(),
            welcome: Vec::new(),
            delay: None,
            write_timeout: Some(Duration::from_secs(1)),
            message_timeout: Some(Duration::from_secs(1)),
            linger: Duration::from_secs(1),
            token: Default::default(),
            kill: Default::default(),
            clock: super::super::IdleClock::new(Some(Duration::from_secs(1)), None),
            budget: super::super::Budget::new(None),
            proxy: None,
            metrics: Some(Default::default()),
            tls: None,
            tls_handshake_timeout: None,
            tls_failures: Default::default(),
            send_buffer: None,
            refuse_rate: None,
            probes: Default::default(),
            lane: tokio::sync::Semaphore::new(1),
            started: std::time::Instant::now(),
            open: Default::default(),
        });
        let permit = Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .unwrap();
        let future = super::serve(stream, addr, shared, permit);
        let size = std::mem::size_of_val(&future);
        // 336 before TLS; the boxed rustls state beside the socket costs
        // one pointer (8 bytes) on every connection, plain ones too. The
        // opening time for the duration histogram (a u32) fits in the
        // optimized layout, which is what a server pays; an unoptimized
        // build keeps 8 bytes more.
        let limit = if cfg!(debug_assertions) { 352 } else { 344 };
        assert!(size <= limit, "the connection future grew to {size} bytes");
    }
}
