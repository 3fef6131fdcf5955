//! What one load thread counts and times, merged with the others' at the
//! end: the window's replies and their latencies, the bytes behind them,
//! and the whole run's connections and replies, which a server's own
//! counters also see.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Counts and latencies gathered by one thread, merged at the end.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Latency in nanoseconds of each reply (or session) in the window.
    pub latency: Histogram<u64>,
    /// Replies (or sessions) completed inside the measurement window.
    pub done: u64,
    /// Failures: connects, resets, timeouts, failed sessions.
    pub errors: u64,
    /// Replies whose bytes were not the expected ones.
    pub mismatches: u64,
    /// The first failure, to show the user what went wrong.
    pub first_error: Option<crate::setting::Words>,
    /// With `--rate`: how late each message left after the time it was
    /// due, in nanoseconds: the bench's own lateness, which the latency
    /// (counted from the due time) includes.
    pub lateness: Histogram<u64>,
    /// Bytes of the messages behind `done`, as sent.
    pub bytes_sent: u64,
    /// Bytes of the replies (welcomes too, for sessions and openings)
    /// behind `done`, as received.
    pub bytes_received: u64,
    /// Connections opened over the whole run (warm-up included).
    pub opened: u64,
    /// Replies read over the whole run: warm-up, window and the drain
    /// after it.
    pub answered: u64,
    /// Messages still unanswered when the drain after the window gave up.
    pub unanswered: u64,
    /// `--hdr-log`: the latencies again, one histogram per interval.
    pub intervals: Option<Intervals>,
}

/// A histogram of nanoseconds from 1 ns to an hour, 3 digits.
pub(crate) fn nanos() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
        .expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            // 1 ns to 1 hour at 3 significant digits; auto-resize covers more.
            latency: nanos(),
            done: 0,
            errors: 0,
            mismatches: 0,
            first_error: None,
            lateness: nanos(),
            bytes_sent: 0,
            bytes_received: 0,
            opened: 0,
            answered: 0,
            unanswered: 0,
            intervals: None,
        }
    }
}

/// Nanoseconds of `d`, at least 1 (the histograms' lowest value).
fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

impl Tally {
    /// A tally that also keeps a histogram per `every` (`--hdr-log`).
    pub fn with_intervals(every: Option<Duration>) -> Tally {
        Tally {
            intervals: every.map(Intervals::new),
            ..Tally::default()
        }
    }

    /// Records `count` completions that each took `took`, `since` after
    /// the measured window began.
    pub fn record(&mut self, took: Duration, count: u64, since: Duration) {
        let _ = self.latency.record_n(ns(took), count);
        if let Some(intervals) = &mut self.intervals {
            intervals.record(since, ns(took), count);
        }
        self.done += count;
    }

    /// Counts the bytes of what was just recorded.
    pub fn bytes(&mut self, sent: usize, received: usize) {
        self.bytes_sent += sent as u64;
        self.bytes_received += received as u64;
    }

    /// Records that a message due under `--rate` left `late` after its time.
    pub fn late(&mut self, late: Duration) {
        let _ = self.lateness.record(ns(late));
    }

    /// Counts a failure, keeping the first message.
    pub fn fail(&mut self, message: impl FnOnce() -> crate::setting::Words) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(message());
        }
    }

    /// Counts a wrong reply, keeping the first message.
    pub fn mismatch(&mut self, message: impl FnOnce() -> crate::setting::Words) {
        self.mismatches += 1;
        if self.first_error.is_none() {
            self.first_error = Some(message());
        }
    }

    /// Adds another thread's tally to this one.
    pub fn merge(&mut self, other: &Tally) {
        let _ = self.latency.add(&other.latency);
        let _ = self.lateness.add(&other.lateness);
        self.done += other.done;
        self.errors += other.errors;
        self.mismatches += other.mismatches;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.opened += other.opened;
        self.answered += other.answered;
        self.unanswered += other.unanswered;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        match (&mut self.intervals, &other.intervals) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.intervals = Some(theirs.clone()),
            _ => {}
        }
    }
}

/// Latencies split by when they were recorded: histogram `k` holds those
/// from `k * every` to `(k + 1) * every` after the window began, as an
/// HdrHistogram interval log writes them.
#[derive(Debug, Clone)]
pub struct Intervals {
    /// Each interval's length.
    pub every: Duration,
    /// One histogram per interval, from the window's start; grown as
    /// intervals come.
    pub histograms: Vec<Histogram<u64>>,
}

/// Intervals in a log at most: a long run gets longer intervals rather
/// than unbounded memory (a histogram of microsecond latencies is tens of
/// kilobytes).
pub const MAX_INTERVALS: u32 = 600;

impl Intervals {
    /// Intervals of `every` (at least a millisecond).
    pub fn new(every: Duration) -> Intervals {
        Intervals {
            every: every.max(Duration::from_millis(1)),
            histograms: Vec::new(),
        }
    }

    /// The interval length for a run of `duration`: a second, or longer
    /// so that the run needs no more than [`MAX_INTERVALS`].
    pub fn for_run(duration: Duration) -> Duration {
        Duration::from_secs(1).max(duration.div_f64(f64::from(MAX_INTERVALS)))
    }

    fn record(&mut self, since: Duration, ns: u64, count: u64) {
        let at = |every: Duration| {
            usize::try_from(since.as_nanos() / every.as_nanos().max(1)).unwrap_or(usize::MAX)
        };
        // Past the last interval (a hold whose opening outlasts the hold
        // the length was chosen for): longer intervals, not a last one
        // that holds more than its length says.
        while at(self.every) >= MAX_INTERVALS as usize {
            self.coarsen();
        }
        let k = at(self.every);
        while self.histograms.len() <= k {
            self.histograms.push(small());
        }
        let _ = self.histograms[k].record_n(ns, count);
    }

    /// Twice as long intervals, each the two it replaces added.
    fn coarsen(&mut self) {
        self.every *= 2;
        let finer = std::mem::take(&mut self.histograms);
        for (k, h) in finer.iter().enumerate() {
            while self.histograms.len() <= k / 2 {
                self.histograms.push(small());
            }
            let _ = self.histograms[k / 2].add(h);
        }
    }

    fn merge(&mut self, other: &Intervals) {
        let mut other = other.clone();
        // Both began as the same length; one may have doubled it.
        while self.every < other.every {
            self.coarsen();
        }
        while other.every < self.every {
            other.coarsen();
        }
        for (k, h) in other.histograms.iter().enumerate() {
            while self.histograms.len() <= k {
                self.histograms.push(small());
            }
            let _ = self.histograms[k].add(h);
        }
    }
}

/// A histogram that starts small and grows to the values it is given
/// (an interval's, of which a run may hold hundreds).
fn small() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant digits are valid");
    h.auto(true);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_past_the_last_become_longer_and_lose_no_sample() {
        let mut a = Intervals::new(Duration::from_secs(1));
        for second in 0..700 {
            a.record(Duration::from_secs(second), 1000, 1);
        }
        // 700 s at 1 s would be 700 intervals: now 2 s each, 350 of them.
        assert_eq!(a.every, Duration::from_secs(2));
        assert_eq!(a.histograms.len(), 350);
        assert!(a.histograms.iter().all(|h| h.len() == 2));
        // Merged with one still at 1 s: at 2 s, every sample kept.
        let mut b = Intervals::new(Duration::from_secs(1));
        b.record(Duration::from_secs(3), 1000, 5);
        a.merge(&b);
        assert_eq!(a.every, Duration::from_secs(2));
        assert_eq!(a.histograms[1].len(), 7);
        let mut c = Intervals::new(Duration::from_secs(1));
        c.record(Duration::from_secs(3), 1000, 1);
        c.merge(&a);
        assert_eq!(c.every, Duration::from_secs(2));
        let total: u64 = c.histograms.iter().map(|h| h.len()).sum();
        assert_eq!(total, 700 + 5 + 1);
    }
}
