//! `--connect-rate`: new connections (churn: sessions) paced over the
//! load threads, each taking its share of the rate, and their turns
//! interleaved.

use std::time::{Duration, Instant};

/// `--connect-rate`: the times one thread may open its connections at,
/// one every `gap` (the thread's share of the rate); at once without one.
pub(crate) struct Pacer {
    gap: Option<Duration>,
    /// How long after its first request the first slot comes: one gap of
    /// the whole rate for each thread before this one, so that the
    /// threads take turns, where starting together they would open
    /// `--threads` connections at once.
    first: Duration,
    next: std::cell::Cell<Option<Instant>>,
}

impl Pacer {
    /// A pacer for a thread that opens `1/share` of the connections and
    /// takes turn `turn` (0 for the first of the `share` threads).
    pub(crate) fn new(rate: Option<f64>, share: usize, turn: usize) -> Pacer {
        // The rate was checked at least `preflight::MIN_RATE` and finite
        // before the run, so these durations are in range.
        Pacer {
            gap: rate.map(|r| Duration::from_secs_f64(share.max(1) as f64 / r)),
            first: rate.map_or(Duration::ZERO, |r| Duration::from_secs_f64(turn as f64 / r)),
            next: std::cell::Cell::new(None),
        }
    }

    /// Takes the next free slot; `None` when there is no rate. The first
    /// is timed from the first request, not from when the pacer was made:
    /// churn's sessions start at the window, after the connections of
    /// the other scenarios would have opened.
    fn slot(&self) -> Option<Instant> {
        let gap = self.gap?;
        let now = Instant::now();
        let at = self
            .next
            .get()
            .map_or(now + self.first, |next| next.max(now));
        self.next.set(Some(at + gap));
        Some(at)
    }

    /// Waits for the next slot on a runtime.
    pub(crate) async fn wait(&self) {
        if let Some(at) = self.slot() {
            tokio::time::sleep_until(at.into()).await;
        }
    }

    /// Waits for the next slot on a plain thread.
    pub(crate) fn wait_blocking(&self) {
        if let Some(at) = self.slot() {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
        }
    }
}
