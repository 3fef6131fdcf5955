//! `--connect-rate`: new connections (churn: sessions) paced over the
//! load threads, each taking its share of the rate.

use std::time::{Duration, Instant};

/// `--connect-rate`: the times one thread may open its connections at,
/// one every `gap` (the thread's share of the rate); at once without one.
pub(crate) struct Pacer {
    gap: Option<Duration>,
    next: std::cell::Cell<Option<Instant>>,
}

impl Pacer {
    /// A pacer for a thread that opens `1/share` of the connections.
    pub(crate) fn new(rate: Option<f64>, share: usize) -> Pacer {
        Pacer {
            gap: rate.map(|r| Duration::from_secs_f64(share.max(1) as f64 / r)),
            next: std::cell::Cell::new(None),
        }
    }

    /// Takes the next free slot; `None` when there is no rate.
    fn slot(&self) -> Option<Instant> {
        let gap = self.gap?;
        let now = Instant::now();
        let at = self.next.get().map_or(now, |next| next.max(now));
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
