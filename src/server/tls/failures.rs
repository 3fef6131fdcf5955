//! Failed handshakes are logged one line per client, but at most
//! [`FAILURES_PER_SECOND`] lines a second: a flood of bad clients becomes
//! one summary line, not a flood of log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Failed handshakes logged one by one per second; beyond it they are
/// counted and summed up in the next line logged.
const FAILURES_PER_SECOND: u64 = 10;

/// Rate-limits the log lines of failed handshakes.
#[derive(Debug)]
pub(in crate::server) struct FailureLog {
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
    pub(in crate::server) fn admit(&self) -> Option<u64> {
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
    use std::time::Duration;

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
