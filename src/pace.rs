//! Waits that end within microseconds of their time, for the two
//! instruments that promise a time: bench's open loop (`--rate`: a
//! message leaves when it is due) and serve's `--delay` (a reply goes
//! that long after its message).
//!
//! tokio's timer wheel ticks in whole milliseconds, so a timer alone
//! wakes up to a millisecond late. bench counts latency from the due time
//! (as it must, so that a slow server cannot hide its queue: coordinated
//! omission), and so reported its own lateness as the server's (p50
//! 1.27 ms at 100 msgs/s against a server that answers in 18 µs); serve
//! `--delay 10ms` answered after 11.3 ms. The wait sleeps on the timer
//! until shortly before the time, then yields to the runtime until it has
//! come: the runtime polls its sockets between yields, so other work goes
//! on meanwhile. The cost is a busy core for at most [`SPIN`] per wait.

use std::time::{Duration, Instant};

/// How long before a due time the timer hands over to yielding: the
/// timer wakes up to a tick (1 ms) late, and a busy runtime a little
/// later still.
pub(crate) const SPIN: Duration = Duration::from_millis(2);

/// Completes at `at`: within microseconds when `precise` (a message's
/// due time), else on the timer (a deadline, where a millisecond does
/// not matter).
pub(crate) async fn until(at: Instant, precise: bool) {
    if !precise {
        return tokio::time::sleep_until(at.into()).await;
    }
    if let Some(early) = at.checked_sub(SPIN)
        && Instant::now() < early
    {
        tokio::time::sleep_until(early.into()).await;
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}
