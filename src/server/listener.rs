//! The accept loop of one listening socket: the connection limit, accept
//! errors with back-off, and spawning a handler per connection.
//!
//! The permit is taken *before* `accept()` (mini-redis's habit): at the limit
//! we stop accepting for service, and new clients wait in the kernel's
//! backlog instead of being accepted and starved. Waiting in silence until
//! their own timeouts helps no one, though: while the limit holds, clients
//! are taken from the backlog at `--refuse-rate` and told the server is
//! busy, then closed.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use super::Shared;
use super::handler;
use super::socket::{Accept, Socket, write_some};
use crate::setting::Setting;

/// The shortest and longest pause after an accept error that may repeat.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one warning of a kind per this interval.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Connections accepted in one turn of the accept loop before it lets the
/// thread's other tasks run. Left to tokio's budget, one turn accepted 128
/// (each an accept, a socket option, a registration and a spawn): 10 to 25
/// ms in which no client on the thread was answered, while 2,000 arrived.
const ACCEPTS_PER_TURN: u32 = 16;

/// Owns one listening socket and its accept loop.
pub(super) struct Listener<A> {
    /// The socket clients connect to.
    pub listener: A,
    /// The number of permits `Shared::slots` started with, for messages.
    pub max_connections: usize,
    /// What handlers read.
    pub shared: Arc<Shared>,
    /// Cancelled when shutdown starts: stop accepting, finish up.
    pub token: CancellationToken,
    /// Tracks the handlers so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Beats for the service manager's watchdog, when it keeps one.
    pub heart: Option<crate::service::Heart>,
}

impl<A: Accept> Listener<A> {
    /// Accepts until the token is cancelled. Never gives up on errors.
    pub async fn run(mut self) {
        let mut refusals = Refusals::new(self.shared.config.refuse_rate);
        let mut backoff = Backoff::default();
        let mut full_warned = RateLimit::default();
        let mut accepted_this_turn = 0;
        let has_heart = self.heart.is_some();
        loop {
            if let Some(heart) = &self.heart {
                heart.beat();
            }
            if accepted_this_turn == ACCEPTS_PER_TURN {
                accepted_this_turn = 0;
                tokio::task::yield_now().await;
            }
            if self.shared.slots.available_permits() == 0
                && self.shared.config.warn_at_limit
                && full_warned.ready()
            {
                let naming = self.shared.config.naming;
                match self.shared.config.refuse_rate {
                    Some(rate) => warn!(
                        "Connection limit reached ({} open; see {}): new clients are told the \
                         server is busy and closed, up to {rate} a second ({}); the rest wait in \
                         the backlog.",
                        self.max_connections,
                        Setting::MaxConnections.name(naming),
                        Setting::RefuseRate.name(naming)
                    ),
                    None => warn!(
                        "Connection limit reached ({} open; see {}): new clients wait in the \
                         backlog.",
                        self.max_connections,
                        Setting::MaxConnections.name(naming)
                    ),
                }
            }
            let full = self.shared.slots.available_permits() == 0;
            let permit = tokio::select! {
                biased;
                _ = self.token.cancelled() => return,
                permit = self.shared.slots.acquire() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return, // the semaphore is never closed
                },
                // At the limit: tell waiting clients at once, at a bounded
                // rate, instead of leaving them to their own timeouts. (A
                // slot that frees meanwhile wins: the branch above first.)
                accepted = self.listener.accept(), if full && refusals.due() => {
                    // Spent either way: a failing accept (out of fds)
                    // must not spin.
                    refusals.spent();
                    if let Ok((stream, _)) = accepted {
                        self.refuse(stream);
                    }
                    continue;
                }
                () = refusals.wait(), if full && !refusals.due() => continue,
                () = crate::service::wake(&mut self.heart), if has_heart => continue,
            };
            let accepted = tokio::select! {
                biased;
                _ = self.token.cancelled() => return,
                accepted = self.listener.accept() => accepted,
                // Idle: turn, so the watchdog hears this loop is alive.
                () = crate::service::wake(&mut self.heart), if has_heart => continue,
            };
            match accepted {
                Ok((stream, peer)) => {
                    backoff.reset();
                    accepted_this_turn += 1;
                    if let Some(bytes) = self.shared.config.send_buffer {
                        // Failure was reported once, at the listener.
                        let _ = stream.bound_unsent(bytes);
                    }
                    self.shared.metered(|m| m.accepted());
                    // The handler's drop gives the place back (`Shared::slots`).
                    permit.forget();
                    // Boxed: tokio aligns a task to 128 bytes, so a task
                    // holding this future took a 512-byte block; the task
                    // holding a pointer takes 128, and the box, at most 256
                    // bytes, mimalloc's 256-byte class (`handler::tests::
                    // connection_future_stays_small`): 624 bytes of RSS per
                    // idle connection in all, against 765. Spawned as it
                    // is: wrapping it in `async move { .. }` would store
                    // the connection's future twice.
                    self.tracker
                        .spawn(Box::pin(handler::serve(stream, peer, self.shared.clone())));
                }
                // The client gave up before we accepted it: nothing to do.
                Err(e) if is_transient(&e) => {}
                Err(e) => {
                    self.shared.metered(|m| m.accept_error());
                    let pause = backoff.next(&e, self.shared.config.naming);
                    let until = tokio::time::Instant::now() + pause;
                    loop {
                        tokio::select! {
                            _ = self.token.cancelled() => return,
                            _ = tokio::time::sleep_until(until) => break,
                            // Pausing is not stuck: the watchdog hears so.
                            () = crate::service::wake(&mut self.heart), if has_heart => {
                                if let Some(heart) = &self.heart {
                                    heart.beat();
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<A: Accept> Listener<A> {
    /// Tells a client the server is full, and closes: what it had already
    /// sent is read first (one read), so the close does not turn into a
    /// reset that destroys the line. Over TLS the line would be noise to
    /// the client's TLS stack: the close alone says it.
    fn refuse(&self, stream: A::Socket) {
        self.shared.metered(|m| m.refused());
        if self.shared.config.tls.is_none() {
            let _ = write_some(&stream, BUSY_FULL);
            let _ = stream.read_now(&mut [0; 4096]);
        }
        let _ = stream.shutdown_write();
    }
}

/// What a client is told when `--max-connections` are open.
pub(super) const BUSY_FULL: &[u8] = b"Error: server busy: too many connections open; retry later\n";

/// `--refuse-rate`: at most this many refusals a second, evenly spaced,
/// so a flood of connects costs a bounded amount; the rest wait in the
/// backlog as before. `None`: no refusals.
struct Refusals {
    every: Option<Duration>,
    next: Instant,
}

impl Refusals {
    fn new(rate: Option<u32>) -> Refusals {
        Refusals {
            every: rate.map(|r| Duration::from_secs(1) / r.max(1)),
            next: Instant::now(),
        }
    }

    /// True when a refusal may be made now.
    fn due(&self) -> bool {
        self.every.is_some() && Instant::now() >= self.next
    }

    /// Ready when the next refusal is due; never without a rate.
    async fn wait(&self) {
        match self.every {
            Some(_) => tokio::time::sleep_until(self.next.into()).await,
            None => std::future::pending().await,
        }
    }

    fn spent(&mut self) {
        if let Some(every) = self.every {
            self.next = Instant::now() + every;
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// The pause after repeated accept errors (out of fds, out of buffers):
/// doubling from [`BACKOFF_MIN`] to [`BACKOFF_MAX`], reset by a success.
#[derive(Default)]
struct Backoff {
    /// The next pause; zero before the first error.
    pause: Duration,
    /// Limits the warnings to one per [`LOG_EVERY`].
    log: RateLimit,
}

impl Backoff {
    fn next(&mut self, e: &io::Error, naming: crate::setting::Naming) -> Duration {
        self.pause = (self.pause * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
        if self.log.ready() {
            let hint = match e.raw_os_error() {
                Some(libc::EMFILE) => format!(
                    " (out of file descriptors: raise ulimit -n or lower {})",
                    Setting::MaxConnections.name(naming)
                ),
                Some(libc::ENFILE) => " (the system is out of file descriptors)".into(),
                Some(libc::ENOBUFS | libc::ENOMEM) => {
                    " (the kernel is out of memory for sockets)".into()
                }
                _ => String::new(),
            };
            let suppressed = self.log.take_suppressed();
            warn!(
                "accept failed: {e}{hint}; retrying in {}{}",
                humantime::format_duration(self.pause),
                if suppressed > 0 {
                    format!(" ({suppressed} similar errors not shown)")
                } else {
                    String::new()
                }
            );
        }
        self.pause
    }

    fn reset(&mut self) {
        self.pause = Duration::ZERO;
    }
}

/// Says yes at most once per [`LOG_EVERY`], counting the noes in between.
#[derive(Default)]
struct RateLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    fn ready(&mut self) -> bool {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
                self.suppressed += 1;
                false
            }
            _ => {
                self.last = Some(now);
                true
            }
        }
    }

    fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_second_and_resets() {
        let mut b = Backoff::default();
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        let pauses: Vec<_> = (0..10)
            .map(|_| b.next(&e, crate::setting::Naming::Fields).as_millis())
            .collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.next(&e, crate::setting::Naming::Fields), BACKOFF_MIN);
    }
}
