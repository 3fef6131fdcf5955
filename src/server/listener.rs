//! The accept loop of one listening socket: the connection limit, accept
//! errors with back-off, and spawning a handler per connection.
//!
//! The permit is taken *before* `accept()` (mini-redis's habit): at the limit
//! we stop accepting, and new clients wait in the kernel's backlog instead of
//! being accepted and starved.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use super::Shared;
use super::handler;

/// The shortest and longest pause after an accept error that may repeat.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one warning of a kind per this interval.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Owns one listening socket and its accept loop.
pub(super) struct Listener {
    /// The socket clients connect to.
    pub listener: TcpListener,
    /// One permit per connection being served, shared by all listeners.
    pub limit: Arc<Semaphore>,
    /// The number of permits `limit` started with, for messages.
    pub max_connections: usize,
    /// What handlers read.
    pub shared: Arc<Shared>,
    /// Cancelled when shutdown starts: stop accepting, finish up.
    pub token: CancellationToken,
    /// Tracks the handlers so shutdown can wait for them.
    pub tracker: TaskTracker,
}

impl Listener {
    /// Accepts until the token is cancelled. Never gives up on errors.
    pub async fn run(self) {
        let mut backoff = Backoff::default();
        let mut full_warned = RateLimit::default();
        loop {
            if self.limit.available_permits() == 0 && full_warned.ready() {
                warn!(
                    "Connection limit reached ({} open; see --max-connections): new clients wait in the backlog.",
                    self.max_connections
                );
            }
            let permit = tokio::select! {
                biased;
                _ = self.token.cancelled() => return,
                permit = self.limit.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return, // the semaphore is never closed
                },
            };
            let accepted = tokio::select! {
                biased;
                _ = self.token.cancelled() => return,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    backoff.reset();
                    if let Some(bytes) = self.shared.send_buffer {
                        // Failure was reported once, at the listener.
                        let _ = crate::sys::set_send_buffer(socket2::SockRef::from(&stream), bytes);
                    }
                    if let Some(metrics) = &self.shared.metrics {
                        metrics.accepted();
                    }
                    // Spawned as it is: wrapping it in `async move { .. }`
                    // would store the connection's future twice.
                    self.tracker
                        .spawn(handler::serve(stream, peer, self.shared.clone(), permit));
                }
                // The client gave up before we accepted it: nothing to do.
                Err(e) if is_transient(&e) => {}
                Err(e) => {
                    if let Some(metrics) = &self.shared.metrics {
                        metrics.accept_error();
                    }
                    let pause = backoff.next(&e);
                    tokio::select! {
                        _ = self.token.cancelled() => return,
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
            }
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
    fn next(&mut self, e: &io::Error) -> Duration {
        self.pause = (self.pause * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
        if self.log.ready() {
            let hint = match e.raw_os_error() {
                Some(libc::EMFILE) => {
                    " (out of file descriptors: raise ulimit -n or lower --max-connections)"
                }
                Some(libc::ENFILE) => " (the system is out of file descriptors)",
                Some(libc::ENOBUFS | libc::ENOMEM) => " (the kernel is out of memory for sockets)",
                _ => "",
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
        let pauses: Vec<_> = (0..10).map(|_| b.next(&e).as_millis()).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.next(&e), BACKOFF_MIN);
    }
}
