//! [`Budget`]: the server-wide bound on buffered bytes (`--max-buffered`),
//! and [`Held`], bytes taken from it for as long as a guard lives.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server-wide budget for buffered bytes ([`Config::max_buffered`]).
/// Connections take from it only when they must hold memory (an
/// unfinished message, replies a client is not reading), so the pipelined
/// fast path never touches this shared counter.
#[derive(Debug, Default)]
pub(super) struct Budget {
    /// Bytes taken now (shared with the metrics' gauge).
    used: Arc<AtomicUsize>,
    /// The most that may be taken (`usize::MAX`: no budget).
    limit: usize,
}

impl Budget {
    pub(super) fn new(limit: Option<usize>) -> Budget {
        Budget {
            used: Arc::new(AtomicUsize::new(0)),
            limit: limit.unwrap_or(usize::MAX),
        }
    }

    /// The bytes taken now, as a count to read at any time.
    pub(super) fn used(&self) -> Arc<AtomicUsize> {
        self.used.clone()
    }

    /// Takes `n` bytes if they fit; false (nothing taken) if they do not.
    pub(super) fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Gives back `n` bytes taken before.
    pub(super) fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }

    /// Takes `n` bytes for as long as the returned guard lives.
    pub(super) fn hold(&self, n: usize) -> Option<Held<'_>> {
        self.take(n).then_some(Held { budget: self, n })
    }
}

/// Bytes taken from the [`Budget`], given back on drop.
pub(super) struct Held<'a> {
    budget: &'a Budget,
    n: usize,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.give(self.n);
    }
}
