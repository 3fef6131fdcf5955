//! What a bench run measured, how it is merged across threads, and how it
//! is shown: a table for people, JSON for machines.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::error::Error;
use crate::setting::Setting;

mod recorded;
mod tally;

pub use recorded::{HdrLog, Histograms, Recorded, Totals};
pub(crate) use tally::nanos;
pub use tally::{Intervals, Tally};

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Latency {
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// The 99.9th percentile.
    pub p999: f64,
    /// The slowest.
    pub max: f64,
}

impl Latency {
    /// The percentiles of a histogram in nanoseconds, or `None` if empty.
    pub fn of(h: &Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Some(Latency {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
        })
    }
}

/// The result of one run, as printed and as `--json` emits it.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Report {
    /// pingpong, pipeline, churn or hold.
    pub scenario: String,
    /// The servers' addresses, joined with ", " (as the table says it).
    pub server: String,
    /// The servers' addresses, one each.
    pub servers: Vec<String>,
    /// Connections (or churn workers, or held connections).
    pub connections: usize,
    /// Messages in flight per connection.
    pub depth: usize,
    /// The open-loop rate asked for, messages per second in all.
    pub rate: Option<f64>,
    /// Load threads.
    pub threads: usize,
    /// The measurement window in seconds (after warm-up; hold: how long
    /// the connections were held idle).
    pub seconds: f64,
    /// What `done` counts: replies, sessions or connections.
    pub unit: String,
    /// Completed in the window.
    pub done: u64,
    /// `done` per second.
    pub per_second: f64,
    /// Failures.
    pub errors: u64,
    /// Wrong replies.
    pub mismatches: u64,
    /// The first failure or mismatch.
    pub first_error: Option<crate::setting::Words>,
    /// Latency of each reply (or session), in microseconds.
    pub latency_us: Option<Latency>,
    /// With `--rate`: how late the bench sent each message after its due
    /// time, in microseconds. The latency counts from the due time, so
    /// this much of it is the bench's, not the server's.
    pub send_lateness_us: Option<Latency>,
    /// Server CPU time per completed unit, in nanoseconds (`--server-pid`).
    pub server_cpu_ns_per_unit: Option<f64>,
    /// CPU the bench itself used in the window, in cores (1.0 = one core
    /// busy throughout): near the number of cores it may use means the
    /// bench, not the server, set the pace.
    pub bench_cores_busy: Option<f64>,
    /// Server RSS growth per held connection, in bytes (hold,
    /// `--server-pid`): VmRSS, what `ps` shows, from before the run's first
    /// connection (the preflight's) to the end of the hold. `None` when the
    /// run is too small to measure it (see the notes).
    pub server_rss_per_connection: Option<f64>,
    /// Held connections sampled at the end (hold).
    pub sampled: Option<usize>,
    /// How many of the sampled connections answered correctly (hold).
    pub sampled_ok: Option<usize>,
    /// hold: how long opening the connections took, in seconds.
    pub open_seconds: Option<f64>,
    /// What the reader should know about how the run was set up (a rate
    /// too low for the run's length, ...).
    pub notes: Vec<crate::setting::Words>,
    /// When the measured window began (hold: the idle hold), in seconds
    /// since the Unix epoch on this machine's clock: runs on several
    /// machines are added up over the union of their windows.
    pub window_start_unix: f64,
    /// When the measured window ended, likewise.
    pub window_end_unix: f64,
    /// `--start-at`: when the window was asked to start, likewise; the
    /// table says how far from it the window really started.
    pub start_at_unix: Option<f64>,
    /// The bytes, whole-run totals and histograms that runs are added up
    /// with (`bench merge`).
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub recorded: Recorded,
}

/// `at` in seconds since the Unix epoch (0 before it).
pub(crate) fn unix_seconds(at: std::time::SystemTime) -> f64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Report {
    /// The report as pretty JSON, its words naming settings as `naming`
    /// says (the serde form names them as the library's fields).
    #[cfg(feature = "serde")]
    pub fn json(&self, naming: crate::setting::Naming) -> serde_json::Result<String> {
        let mut value = serde_json::to_value(self)?;
        value["notes"] = self.notes.iter().map(|n| n.render(naming)).collect();
        if let Some(first) = &self.first_error {
            value["first_error"] = first.render(naming).into();
        }
        serde_json::to_string_pretty(&value)
    }

    /// Writes the latencies per interval as an HdrHistogram interval log
    /// (`--hdr-log`; the run must have kept them, [`super::Options::hdr_log`]),
    /// tagged with what was timed: `latency`, `session` or `open`.
    pub fn write_hdr_log(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let tag = match self.scenario.as_str() {
            "hold" => "open",
            "churn" => "session",
            _ => "latency",
        };
        let comment = format!(
            "tcpkit {} bench {} against {}: {tag} in nanoseconds",
            env!("CARGO_PKG_VERSION"),
            self.scenario,
            self.server
        );
        self.recorded.histograms.write_log(tag, &comment, out)
    }

    /// True when nothing went wrong.
    pub fn clean(&self) -> bool {
        self.errors == 0
            && self.mismatches == 0
            && self.sampled == self.sampled_ok
            && (self.done > 0 || self.unit == "connections")
    }

    /// The human-readable table.
    pub fn table(&self, naming: crate::setting::Naming) -> String {
        let mut out = String::new();
        let depth = if self.depth > 1 {
            format!(" x depth {}", self.depth)
        } else {
            String::new()
        };
        let rate = self
            .rate
            .map(|r| format!(", open loop at {} msgs/s", group(r)))
            .unwrap_or_default();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        // What each scenario counts and times, in words: hold opens
        // connections and holds them, churn runs whole sessions.
        let (who, counted, timed) = match self.scenario.as_str() {
            "hold" => ("connection", "opened", "open time"),
            "churn" => ("worker", "throughput", "session"),
            _ => ("connection", "throughput", "latency"),
        };
        let measured = match (self.scenario.as_str(), self.open_seconds) {
            ("hold", Some(opening)) => format!(
                "opened in {opening:.2} s, then held idle {:.1} s",
                self.seconds
            ),
            _ => format!("{:.1} s measured", self.seconds),
        };
        let _ = writeln!(
            out,
            "{} against {}: {}{depth}, {}, {measured}{rate}",
            self.scenario,
            self.server,
            plural(self.connections, who),
            plural(self.threads, "thread"),
        );
        let _ = writeln!(
            out,
            "  {counted:<11} {}/s ({})",
            counted_as(self.per_second, &self.unit),
            counted_as(self.done as f64, &self.unit)
        );
        if let Some(asked) = self.rate {
            let _ = writeln!(
                out,
                "  rate        {} msgs/s asked, {} achieved",
                group(asked),
                group(self.per_second)
            );
        }
        if let Some(asked) = self.start_at_unix {
            let late = self.window_start_unix - asked;
            let _ = writeln!(
                out,
                "  start       {} {} the time asked ({})",
                micros(late.abs() * 1e6),
                if late < 0.0 { "before" } else { "after" },
                humantime::format_rfc3339_millis(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(asked.max(0.0))
                )
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "  note        {}", note.render(naming));
        }
        self.timings(&mut out, timed);
        self.resources(&mut out);
        self.check(&mut out, naming);
        out
    }

    /// The latency (or open time, or session time) and the bench's own
    /// lateness.
    fn timings(&self, out: &mut String, timed: &str) {
        if let Some(l) = &self.latency_us {
            let _ = writeln!(
                out,
                "  {timed:<11} p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                micros(l.p50),
                micros(l.p90),
                micros(l.p99),
                micros(l.p999),
                micros(l.max)
            );
        }
        if let Some(l) = &self.send_lateness_us {
            let _ = writeln!(
                out,
                "  sent late   p50 {}  p99 {}  max {} (the bench's own, part of the latency)",
                micros(l.p50),
                micros(l.p99),
                micros(l.max)
            );
        }
    }

    /// What the run cost the server and the bench, and the held sample.
    fn resources(&self, out: &mut String) {
        if let Some(cpu) = self.server_cpu_ns_per_unit {
            let _ = writeln!(
                out,
                "  server CPU  {} ns per {}",
                group(cpu),
                singular(&self.unit)
            );
        }
        if let Some(busy) = self.bench_cores_busy {
            let _ = writeln!(
                out,
                "  bench CPU   {:.0}% of a core{}",
                busy * 100.0,
                if busy >= 0.9 * self.threads as f64 {
                    " (the bench may be the bottleneck)"
                } else {
                    ""
                }
            );
        }
        if let Some(rss) = self.server_rss_per_connection {
            let _ = writeln!(
                out,
                "  server RSS  {} bytes per held connection (VmRSS, as ps shows it)",
                group(rss)
            );
        }
        if let (Some(n), Some(ok)) = (self.sampled, self.sampled_ok) {
            let _ = writeln!(
                out,
                "  sample      {ok} of {n} held connections answered correctly"
            );
        }
    }

    /// The verdict line: every reply checked, or what failed.
    fn check(&self, out: &mut String, naming: crate::setting::Naming) {
        if self.clean() {
            let _ = writeln!(
                out,
                "  check       every reply checked byte for byte: no errors"
            );
        } else if self.errors == 0 && self.mismatches == 0 && self.done == 0 {
            let _ = writeln!(
                out,
                "  FAILED      no {} completed within the measured {:.1} s (a server slower \
                 than that, such as one with a --delay longer than the run, answers nothing \
                 in time: a longer --duration measures it)",
                singular(&self.unit),
                self.seconds
            );
        } else {
            let _ = writeln!(
                out,
                "  FAILED      {} errors, {} wrong replies{}",
                self.errors,
                self.mismatches,
                self.first_error
                    .as_ref()
                    .map(|e| crate::words!("; first: {}", e).render(naming))
                    .unwrap_or_default()
            );
        }
    }
}

/// `n` of `unit` as a count is said: `1 reply`, `2,000 replies`.
fn counted_as(n: f64, unit: &str) -> String {
    let shown = group(n);
    if shown == "1" {
        format!("1 {}", singular(unit))
    } else {
        format!("{shown} {unit}")
    }
}

fn singular(unit: &str) -> &str {
    match unit {
        "replies" => "reply",
        other => other.strip_suffix('s').unwrap_or(other),
    }
}

/// `12345678.9` as `12,345,679`.
pub fn group(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds shown with a unit that fits: `850us`, `1.25ms`, `2.0s`.
pub(crate) fn micros(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}

/// A snapshot of another process (`sys::sample_process`).
pub type ProcSample = crate::sys::ProcessSample;

/// Reads RSS and CPU time of `pid` (Linux only; elsewhere an error).
pub fn sample_process(pid: u32) -> Result<ProcSample, crate::setting::Words> {
    crate::sys::sample_process(pid)
}

impl Report {
    /// The run as a verdict: `Ok` when [`Report::clean`], else the error
    /// that says what failed, in `opts`' words. A run that measured
    /// nothing at all says so (and, when sessions paced by `interval` are
    /// longer than the run, why), rather than "0 errors".
    pub fn verdict(&self, opts: &super::Options) -> Result<(), Error> {
        if self.clean() {
            return Ok(());
        }
        if self.errors == 0 && self.mismatches == 0 && self.done == 0 {
            let hint = match (opts.interval, opts.messages.unwrap_or(3)) {
                (Some(pause), messages) if messages > 0 && !pause.is_zero() => crate::words!(
                    " (each session pauses {} in all with {} {messages} {} {}: measure \
                     longer with {})",
                    humantime::format_duration(pause * messages as u32),
                    Setting::Messages,
                    Setting::Interval,
                    humantime::format_duration(pause),
                    Setting::Duration
                ),
                _ => crate::setting::Words::default(),
            };
            return Err(Error::BenchFailed(crate::words!(
                "{} {}: no {} completed in the {:.1} s measured{}",
                self.scenario,
                self.server,
                self.unit,
                self.seconds,
                hint
            )));
        }
        Err(Error::BenchFailed(crate::words!(
            "{} {}: {} errors and {} wrong replies{}",
            self.scenario,
            self.server,
            self.errors,
            self.mismatches,
            self.first_error
                .as_ref()
                .map(|e| crate::words!("; first: {}", e))
                .unwrap_or_default()
        )))
    }
}

#[cfg(test)]
pub(crate) mod tests;
