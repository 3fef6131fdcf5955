//! [`IdleClock`]: one coarse clock for every connection's idle and
//! message timeouts.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A coarse clock for idle and message timeouts, shared by all
/// connections, in the spirit of nginx's cached time: a task advances
/// `tick` every eighth of the shorter timeout and wakes every waiting
/// connection through `events`; each connection only keeps the tick of
/// its last input (and of its unfinished message's first byte).
/// A per-connection timer would cost 112 bytes per idle connection and a
/// timer update on every read; this costs one registered waiter, which
/// the connection needs anyway to hear about shutdown.
#[derive(Debug, Default)]
pub(super) struct IdleClock {
    /// Ticks since the server started.
    tick: AtomicU32,
    /// Notified at each tick and at shutdown.
    pub(super) events: Notify,
    /// The time between ticks; `None` when no timeout is set.
    period: Option<Duration>,
    /// Ticks in an idle timeout (0: none).
    idle_ticks: u32,
    /// Ticks in a message timeout (0: none).
    message_ticks: u32,
}

/// Ticks per shorter timeout: a connection is closed between 1 and
/// 1 + 1/TICKS timeouts after its last input.
const TICKS: u32 = 8;

impl IdleClock {
    /// A clock for these timeouts (`None`: off).
    pub(super) fn new(idle: Option<Duration>, message: Option<Duration>) -> IdleClock {
        let shortest = [idle, message].into_iter().flatten().min();
        let period = shortest.map(|d| (d / TICKS).max(Duration::from_millis(1)));
        let ticks = |timeout: Option<Duration>| match (timeout, period) {
            (Some(t), Some(p)) => {
                u32::try_from(t.as_nanos().div_ceil(p.as_nanos().max(1))).unwrap_or(u32::MAX)
            }
            _ => 0,
        };
        IdleClock {
            period,
            idle_ticks: ticks(idle),
            message_ticks: ticks(message),
            ..IdleClock::default()
        }
    }

    /// The current tick.
    pub(super) fn now(&self) -> u32 {
        self.tick.load(Ordering::Relaxed)
    }

    /// True when a connection whose last input came at `last` has idled
    /// for at least the idle timeout. (One tick more than the timeout's:
    /// the input may have come just before `last` ended.)
    pub(super) fn expired(&self, last: u32) -> bool {
        self.idle_ticks > 0 && self.now().wrapping_sub(last) > self.idle_ticks
    }

    /// True when a message whose first byte came at `since` is overdue.
    pub(super) fn message_overdue(&self, since: u32) -> bool {
        self.message_ticks > 0 && self.now().wrapping_sub(since) > self.message_ticks
    }

    /// Advances the clock until `token` is cancelled, then wakes everyone.
    /// Without a timeout the clock stands still, so nothing expires.
    pub(super) async fn run(&self, token: &CancellationToken) {
        let Some(period) = self.period else {
            token.cancelled().await;
            self.events.notify_waiters();
            return;
        };
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    self.tick.fetch_add(1, Ordering::Relaxed);
                    self.events.notify_waiters();
                }
                () = token.cancelled() => break,
            }
        }
        self.events.notify_waiters();
    }
}
