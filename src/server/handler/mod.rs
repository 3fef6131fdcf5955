//! One connection's policy: welcome, read, answer (after `--delay` if
//! set), and close gracefully, with shutdown, the grace period, and the
//! idle and write timeouts. How bytes move, and everything that makes it
//! fast, is [`Connection`]'s business (`conn.rs`, over any
//! [`Socket`]); this file reads as the protocol, and what is rare or
//! long lives beside it:
//! - `opening.rs`: an opening that must wait (a PROXY header, the TLS
//!   handshake) before the welcome;
//! - `held.rs`: replies a client has not taken yet, reads answered in
//!   turns, `--delay`'s slow answers, all held from the budget;
//! - `close.rs`: the lingering close, the metric and the log line;
//! - `ending.rs`: why a connection ended, in words and as a metric label.
//!
//! Every idle connection keeps this task's future, so its state is kept
//! small: rare, long steps (a blocked write, `--delay`, shutdown, the
//! lingering close) are boxed by [`killable`] and cost one pointer until
//! they run.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tokio_util::sync::CancellationToken;
use tracing::info;

mod close;
mod ending;
mod held;
mod opening;
mod peer;

use ending::Ending;
use peer::Peer;

use super::Shared;
use super::conn::{Connection, Exchange, Wake};
use super::socket::Socket;

/// `message_since` when no message is unfinished.
const NO_MESSAGE: u32 = u32::MAX;

/// What a client is told when `--max-buffered` has no room for its input.
const BUSY: &[u8] = b"Error: server busy: no room to buffer more input; retry later\n";

/// What a client is told when it sends a PROXY header it may not send.
const UNTRUSTED_HEADER: &[u8] =
    b"Error: PROXY protocol header refused: this address is not a trusted proxy\n";

/// At shutdown, answer at most this many reads already waiting in the socket.
const SHUTDOWN_READS: usize = 64;

/// Why an idle connection stopped waiting for input, other than input.
enum Stop {
    Shutdown,
    IdleTimeout,
    MessageTimeout,
}

/// Why the conversation stops: an unfinished message is refused, or the
/// server shuts down (after answering what is waiting).
enum Refusal {
    /// Shutdown has begun.
    Shutdown,
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

/// How the answer ends the connection, if it does: at once, or once the
/// boxed step is done. Awaiting the answer itself moves all of it into the
/// await; a `match` over it would keep it beside the step it awaits, in
/// every connection's state.
impl Future for Answer<'_> {
    type Output = Option<Ending>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Ending>> {
        match &mut *self {
            Answer::Done(ending) => Poll::Ready(ending.take()),
            Answer::Later(step) => step.as_mut().poll(cx),
        }
    }
}

impl<'a> Answer<'a> {
    /// An answer that must wait: boxed (one pointer in the connection's
    /// state until it runs), and cut short when the grace period ends.
    fn later(
        kill: CancellationToken,
        step: impl Future<Output = Option<Ending>> + Send + 'a,
    ) -> Answer<'a> {
        Answer::Later(Box::pin(async move {
            tokio::select! {
                biased;
                _ = kill.cancelled() => Some(Ending::Killed),
                ending = step => ending,
            }
        }))
    }
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
) -> impl Future<Output = ()> + Send {
    // Read only for the duration histogram: without --metrics, an accept
    // does not look at the clock.
    let opened_ms = if shared.config.metrics.is_some() {
        shared.uptime_ms()
    } else {
        0
    };
    shared.open.fetch_add(1, Ordering::AcqRel);
    let mut handler = Handler {
        conn: Connection::new(stream, shared.config.settings.framing),
        peer: peer.into(),
        shared,
        messages: 0,
        answered: false,
        spoke: false,
        check_first: false,
        heavy: false,
        budgeted: 0,
        opened_ms,
    };
    // An `async move` block that uses the captured handler in place; an
    // `async fn run(mut self)` would copy it into a second slot.
    async move {
        let ending = handler.serve().await;
        handler.close(ending).await;
    }
}

/// Owns one connection.
struct Handler<S> {
    /// The client's connection: its socket and framing.
    conn: Connection<S>,
    /// The client's address, for logs.
    peer: Peer,
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
        let trusted = self
            .shared
            .config
            .proxy
            .as_ref()
            .map(|p| p.trusts(self.peer.ip()));
        self.check_first = trusted == Some(false);
        if trusted == Some(true) || self.shared.config.tls.is_some() {
            let proxied = trusted == Some(true);
            return Answer::later(self.shared.kill.clone(), self.open_slowly(proxied));
        }
        info!(target: crate::server::CONNECTION_LOG, "Accept new connection from {}...", self.peer);
        self.welcome()
    }

    /// Sends the welcome, waiting (boxed, killable) only for what the
    /// socket would not take at once.
    fn welcome(&mut self) -> Answer<'_> {
        self.shared.metered(|m| m.sent(self.shared.welcome.len()));
        let welcomed = match self.conn.send_now(&self.shared.welcome) {
            Ok(n) => n,
            Err(e) => return Answer::Done(Some(Ending::Failed(e))),
        };
        if welcomed == self.shared.welcome.len() {
            return Answer::Done(None);
        }
        let shared = self.shared.clone();
        Answer::later(shared.kill.clone(), async move {
            let rest = &shared.welcome[welcomed..];
            let sent = self.conn.send(rest, shared.config.write_timeout).await;
            sent.err().map(Ending::from)
        })
    }

    /// Opens the connection (the PROXY header if one is due, the
    /// welcome), then converses until it ends.
    ///
    /// Every idle connection keeps this future, so its shape is chosen for
    /// size (`tests::connection_future_stays_small`):
    /// - A plain fn returning an `async move` block, not an `async fn`,
    ///   which would keep `self` twice (as passed, and moved in).
    /// - An [`Answer`] is awaited whole (it is a future itself): a value
    ///   that the awaited step came out of (a match's scrutinee, say) would
    ///   keep its slot across the await, and so in every idle connection.
    // The async fn clippy suggests is the 8 bytes this avoids.
    #[allow(clippy::manual_async_fn)]
    fn serve(&mut self) -> impl Future<Output = Ending> + Send + '_ {
        async move {
            // The opening is awaited in here, not by the caller: a value
            // that the caller kept across two awaits would take a slot in
            // every connection's state.
            if let Some(ending) = self.open().await {
                return ending;
            }
            // One waiter, registered once and kept for the whole
            // connection: it hears the idle clock's ticks and the shutdown.
            // Making a timer and a waiter afresh for every wait would cost
            // two registrations per read, which a busy connection does
            // millions of times.
            let shared = self.shared.clone();
            let mut events = std::pin::pin!(shared.clock.events.notified());
            let mut last_input = shared.clock.now();
            // The tick at which the unfinished message's first byte came,
            // or NO_MESSAGE (a sentinel, not an Option: this lives in every
            // idle connection's state).
            let mut message_since: u32 = NO_MESSAGE;
            // The refusals and the shutdown leave the loop and share one
            // await below: each await point of its own would add to every
            // connection's state.
            let refusal = loop {
                // In a block of its own, so that the reference it captures
                // is not kept beside the closure's copy.
                let stop = {
                    let shared: &Shared = &shared;
                    // Shutdown first: it answers what is waiting, then closes.
                    move || {
                        if shared.token.is_cancelled() {
                            Some(Stop::Shutdown)
                        } else if message_since != NO_MESSAGE
                            && shared.clock.message_overdue(message_since)
                        {
                            Some(Stop::MessageTimeout)
                        } else if shared.clock.expired(last_input) {
                            Some(Stop::IdleTimeout)
                        } else {
                            None
                        }
                    }
                };
                // Nothing is awaited in the arms: the value matched on
                // would be kept across that await too.
                match self
                    .conn
                    .wait_for_input(&shared.clock.events, events.as_mut(), stop)
                    .await
                {
                    Wake::Readable => {}
                    Wake::Event(Stop::Shutdown) => break Refusal::Shutdown,
                    Wake::Event(Stop::IdleTimeout) => return Ending::IdleTimeout,
                    Wake::Event(Stop::MessageTimeout) => break Refusal::SlowMessage,
                    Wake::Failed(e) => return Ending::Failed(e),
                }
                // One await for both ways: a second would add a slot to
                // every connection's state.
                let answer = if self.heavy {
                    self.read_in_turn()
                } else {
                    self.read_and_answer()
                };
                if let Some(ending) = answer.await {
                    return ending;
                }
                if !self.budget_unfinished() {
                    break Refusal::Busy;
                }
                last_input = shared.clock.now();
                // An unfinished message dates from its first byte: from now
                // if this read finished the one before it, else from then.
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
    }

    /// Refuses the unfinished message: says why (as a line: only line
    /// framing holds unfinished messages), then ends. At shutdown, answers
    /// what the client already sent instead, then ends.
    async fn refuse(&mut self, refusal: Refusal) -> Ending {
        let (line, ending) = match refusal {
            Refusal::Shutdown => return self.answer_waiting_input().await,
            // --message-timeout: it took too long.
            Refusal::SlowMessage => {
                let limit = self.shared.config.message_timeout.unwrap_or_default();
                let line = format!(
                    "Error: message not completed within {}\n",
                    humantime::format_duration(limit)
                );
                (line, Ending::MessageTimeout)
            }
            // --max-buffered: no room to hold it.
            Refusal::Busy => (String::from_utf8_lossy(BUSY).into_owned(), Ending::Busy),
        };
        // The refused message's memory goes back now, not after a reply
        // that a slow client may take long to accept.
        self.conn.drop_unfinished();
        self.budget_unfinished();
        self.shared.metered(|m| m.sent(line.len()));
        match self
            .conn
            .send(line.as_bytes(), self.shared.config.write_timeout)
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
        self.shared
            .metered(|m| m.read(bytes_in, replies, bytes_out));
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
        Answer::later(self.shared.kill.clone(), self.wait_for_turn_then_read())
    }

    /// The body of [`Handler::read_in_turn`].
    async fn wait_for_turn_then_read(&mut self) -> Option<Ending> {
        let shared = self.shared.clone();
        let turn = shared.lane.acquire().await;
        let answer = self.read_and_answer();
        drop(turn);
        answer.await
    }

    /// Reads once and answers; returns how the connection ends, if it
    /// does. Synchronous unless the answer must wait (a write the socket
    /// would not take, `--delay`): only then is a future made, boxed, so
    /// the rare path adds one pointer to every connection's state.
    fn read_and_answer(&mut self) -> Answer<'_> {
        self.answered = false;
        let hold = self.shared.config.delay.is_some() || self.check_first;
        match self
            .conn
            .exchange(&self.shared.config.settings, hold, self.peer)
        {
            Ok(Exchange::WouldBlock) => Answer::Done(None),
            Err(e) => Answer::Done(Some(Ending::Failed(e))),
            Ok(Exchange::Answered(answered)) => {
                self.count(answered.bytes_in, answered.replies, answered.bytes_out);
                self.answered = answered.replies > 0;
                self.heavy = !answered.rest.is_empty();
                if answered.unsent.is_empty() && answered.rest.is_empty() {
                    return Answer::Done(answered.end.map(Ending::from));
                }
                Answer::later(self.shared.kill.clone(), self.finish_read(answered))
            }
            Ok(Exchange::Held(input)) => {
                Answer::later(self.shared.kill.clone(), self.answer_held(input))
            }
        }
    }

    /// Shutdown has begun: answer what the client already sent, then end.
    async fn answer_waiting_input(&mut self) -> Ending {
        let hold = self.shared.config.delay.is_some();
        for _ in 0..SHUTDOWN_READS {
            match self
                .conn
                .exchange(&self.shared.config.settings, hold, self.peer)
            {
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
    /// Gives the unfinished message's share of the budget back, and the
    /// connection's place under `--max-connections` (`Shared::slots`),
    /// however the connection ended (the grace period drops it mid-await).
    fn drop(&mut self) {
        self.shared.budget.give(self.budgeted as usize);
        self.shared.slots.add_permits(1);
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
mod tests;
