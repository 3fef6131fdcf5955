//! `tcpkit bench`: a load generator for any server that speaks the
//! greeting protocol, checking every reply byte for byte.
//!
//! Scenarios:
//! - `pingpong`: each connection sends a message and waits for its reply.
//! - `pipeline`: each connection keeps `--depth` messages in flight.
//! - `churn`: workers repeat the tutorial client's whole session.
//! - `hold`: open many connections, hold them idle, check a sample answers.
//! - `handshake`: workers open connections (with `--tls`, full or resumed
//!   TLS handshakes), read the welcome, and close: openings per second.
//!
//! `--rate` turns pingpong and pipeline into an open loop: messages are
//! due at fixed times and latency counts from the time a message was due,
//! not from when it went out, so a stalled server cannot hide its stalls
//! (coordinated omission, corrected as wrk2 does).
//!
//! Load runs on `--threads` threads, each a single-threaded tokio runtime
//! owning its share of the connections, so no lock or atomic is on the
//! path of a reply except one relaxed counter per read for the progress line.
//!
//! - `expect`: the bytes to send and to expect, and the reply checker.
//! - `flow`: pingpong and pipeline.
//! - `churn`: whole sessions.
//! - `hold`: idle connections and the server's memory.
//! - `tls`: `--tls`, over rustls, async and blocking.
//! - `report`: tallies, percentiles, the table and JSON, and what runs are
//!   added up with (bytes, whole-run totals, histograms, the HdrHistogram
//!   log).
//! - `merge`: runs' reports added up into one (`bench merge`).
//! - `window`: the measured window; `pacer`: `--connect-rate`; `ports`:
//!   one source address's share of the ephemeral ports; `notes`: what the
//!   report says of how the run was set up.
//! - `preflight`: the options checked, and one message to each server first.
//!
//! The public surface is [`run`], its [`Options`] and [`Scenario`], and the
//! [`Report`] it returns.

mod churn;
mod expect;
mod flow;
mod hold;
pub mod merge;
mod message;
mod notes;
mod pacer;
mod ports;
mod preflight;
mod report;
mod tls;
mod window;

pub use message::{MAX_MESSAGE_FILE, message_from_file};
pub use tls::BenchTls;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

pub use report::{HdrLog, Histograms, Latency, Recorded, Report, Totals};
use report::{ProcSample, Tally};

use tcpkit_wire::greeting::{ClientFraming, Template};

use crate::error::Error;
use crate::net::Family;
use crate::setting::Setting;

use notes::{rate_notes, schedule_notes};
pub(crate) use pacer::Pacer;
use window::{Usage, load_thread, watch};

/// What load to generate. (With the `cli` feature it is also `bench`'s
/// SCENARIO: these lines are its help.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Scenario {
    /// Each connection sends a message and waits for its reply.
    Pingpong,
    /// Each connection keeps --depth messages in flight.
    Pipeline,
    /// Workers repeat the tutorial client's session.
    Churn,
    /// Open connections, hold them idle, check a sample still answers.
    Hold,
    /// Workers open a connection (a TLS handshake with --tls), read the
    /// welcome and close, again and again: openings per second.
    Handshake,
}

impl Scenario {
    /// Connections (churn, handshake: workers) when none are asked for:
    /// enough to keep a server's cores busy, and for hold a thousand idle
    /// ones to weigh.
    pub fn default_connections(self) -> usize {
        match self {
            Scenario::Pingpong | Scenario::Churn => 100,
            Scenario::Handshake => 16,
            Scenario::Pipeline => 50,
            Scenario::Hold => 1000,
        }
    }

    /// The settings only some scenarios use, and which: a command line
    /// refuses one given to another scenario rather than ignore it (None:
    /// every scenario uses it, or it is none of bench's).
    pub fn users(setting: Setting) -> Option<&'static [Scenario]> {
        use Scenario::*;
        match setting {
            Setting::Depth => Some(&[Pipeline]),
            Setting::Rate => Some(&[Pingpong, Pipeline]),
            Setting::Messages | Setting::Interval => Some(&[Churn]),
            Setting::Sample | Setting::Source => Some(&[Hold]),
            Setting::Warmup | Setting::StartAt => Some(&[Pingpong, Pipeline, Churn, Handshake]),
            Setting::Message | Setting::MessageFile | Setting::SendProxy => {
                Some(&[Pingpong, Pipeline, Hold])
            }
            _ => None,
        }
    }

    /// The scenario's name, as the command line and the report write it.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pingpong => "pingpong",
            Scenario::Pipeline => "pipeline",
            Scenario::Churn => "churn",
            Scenario::Handshake => "handshake",
            Scenario::Hold => "hold",
        }
    }
}

/// Load threads when none are asked for: one per core this process may
/// use.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario.
    pub scenario: Scenario,
    /// The servers, HOST:PORT each; connections are spread over them in
    /// turn (round robin), as over the instances behind a balancer.
    pub addrs: Vec<String>,
    /// Address family for resolving.
    pub family: Family,
    /// Connections (pingpong, pipeline, hold) or workers (churn).
    pub connections: usize,
    /// Messages in flight per connection (pipeline).
    pub depth: usize,
    /// Open-loop rate in messages per second over all connections.
    pub rate: Option<f64>,
    /// New connections per second at most, over all threads (tcpkali's
    /// `--connect-rate`): for opening pingpong, pipeline and hold
    /// connections, and for churn's sessions.
    pub connect_rate: Option<f64>,
    /// How long to measure (hold: how long to hold).
    pub duration: Duration,
    /// How long to run before measuring.
    pub warmup: Duration,
    /// When the measured window starts on the wall clock, so that runs
    /// on several machines measure the same window (`None`: after the
    /// warm-up). Connections open first and wait idle until the warm-up
    /// before it; a time already past starts at once, and the report
    /// says how late.
    pub start_at: Option<std::time::SystemTime>,
    /// Load threads.
    pub threads: usize,
    /// hold: connects each thread makes before it reads their welcomes
    /// (`None`: one).
    pub open_batch: Option<usize>,
    /// Bound on each connect (`None`: the system's own).
    pub connect_timeout: Option<Duration>,
    /// A reply that takes longer is an error; more than zero, so every
    /// run ends.
    pub reply_timeout: Duration,
    /// line for tcpkit serve, chunk for the tutorial's own server.
    pub framing: ClientFraming,
    /// The message pingpong and pipeline send (hold's sample too).
    pub message: Vec<u8>,
    /// The welcome the server sends.
    pub welcome: String,
    /// The server's reply template.
    pub reply: Template,
    /// The server's pid, for its CPU time and memory.
    pub server_pid: Option<u32>,
    /// Held connections to check at the end (hold).
    pub sample: usize,
    /// Draw a live progress line on stderr.
    pub progress: bool,
    /// Start each connection with a PROXY protocol header, as a load
    /// balancer would (`--send-proxy`).
    pub send_proxy: Option<tcpkit_wire::proxy::Version>,
    /// hold: local addresses to connect from, in turn (`--source`); empty:
    /// the system's choice. Each gives a full range of ephemeral ports.
    pub sources: Vec<std::net::IpAddr>,
    /// Speak TLS (`--tls`), after the PROXY header if there is one.
    pub tls: Option<BenchTls>,
    /// churn: messages per session (`--messages`); `None`: the tutorial
    /// client's three names.
    pub messages: Option<usize>,
    /// churn: the pause before each message after the first, and before
    /// `exit` (`--interval`), so that sessions last as long as a real
    /// client's; `None`: none.
    pub interval: Option<Duration>,
    /// `--hdr-log`: also keep the latencies per interval, for an
    /// HdrHistogram interval log ([`Report::write_hdr_log`]).
    pub hdr_log: bool,
    /// Where hints, warnings and progress go (default: nowhere; the
    /// binary shows them on stderr).
    pub notices: std::sync::Arc<dyn crate::notice::Notices>,
}

impl Options {
    /// `--hdr-log`'s interval length for this run, or `None` without it.
    pub(crate) fn intervals(&self) -> Option<Duration> {
        self.hdr_log
            .then(|| report::Intervals::for_run(self.duration))
    }
}

/// The servers of a run, one address each; connection `i` goes to server
/// `i % n`.
#[derive(Debug, Clone)]
pub(crate) struct Targets(Vec<SocketAddr>);

impl Targets {
    /// Resolves each `HOST:PORT` to its first address of `family`.
    fn resolve(specs: &[String], family: Family) -> Result<Targets, Error> {
        if specs.is_empty() {
            return Err(Error::InvalidInput("no server to load".into()));
        }
        let mut addrs = Vec::with_capacity(specs.len());
        for spec in specs {
            addrs.push(crate::net::resolve(spec, family)?[0]);
        }
        Ok(Targets(addrs))
    }

    /// The server of connection (or worker) `index`.
    pub(crate) fn of(&self, index: usize) -> SocketAddr {
        self.0[index % self.0.len()]
    }
}

impl std::fmt::Display for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, addr) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{addr}")?;
        }
        Ok(())
    }
}

/// Counters the load threads bump and the progress line reads.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Replies, sessions or connections completed so far, warm-up included.
    pub done: AtomicU64,
    /// Failures so far.
    pub errors: AtomicU64,
}

/// The measurement window, the same for every thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// When load starts.
    pub start: Instant,
    /// When measuring starts.
    pub measure: Instant,
    /// When load stops.
    pub end: Instant,
}

impl Window {
    /// A window whose measured part starts after `warmup` from now, or at
    /// `start_at` on the wall clock (with the warm-up before it, cut
    /// short if that much is not left; a time past starts it now).
    fn from_now(
        warmup: Duration,
        duration: Duration,
        start_at: Option<std::time::SystemTime>,
    ) -> Window {
        let now = Instant::now();
        let ahead = start_at.and_then(|at| at.duration_since(std::time::SystemTime::now()).ok());
        let measure = match ahead {
            Some(ahead) => now + ahead,
            None if start_at.is_some() => now,
            None => now + warmup,
        };
        Window {
            start: measure
                .checked_sub(warmup)
                .map_or(now, |start| start.max(now)),
            measure,
            end: measure + duration,
        }
    }

    /// True when `at` falls inside the measured part.
    pub fn measures(&self, at: Instant) -> bool {
        at >= self.measure && at < self.end
    }
}

/// Runs the benchmark and returns its report.
pub fn run(opts: &Options) -> Result<Report, Error> {
    preflight::check(opts)?;
    let targets = Targets::resolve(&opts.addrs, opts.family)?;
    check_fd_limit(opts)?;
    // hold's memory figure starts before the run's first connection (the
    // preflight's), so that a fresh server's growth is what ps shows.
    let server_before = match (opts.scenario, opts.server_pid) {
        (Scenario::Hold, Some(pid)) => Some(report::sample_process(pid).map_err(sample_failed)?),
        _ => None,
    };
    for (spec, addr) in opts.addrs.iter().zip(&targets.0) {
        preflight::preflight(opts, spec, *addr)?;
    }
    // Said before the run, whose opening it would slow, and in its report.
    let crowded = ports::crowded(opts, &targets);
    if let Some(warning) = &crowded {
        let warning = crate::notice::Notice::Warning(warning.clone());
        opts.notices.notice(warning);
    }
    let mut report = match opts.scenario {
        Scenario::Hold => hold::run(opts, &targets, server_before)?,
        _ => {
            let threads = opts.threads.clamp(1, opts.connections);
            let (total, usage) = drive(opts, &targets, threads)?;
            report_of(opts, &targets, threads, total, &usage)
        }
    };
    report.notes.extend(crowded);
    // The preflight's connection and message to each server, which the
    // servers count too.
    let totals = &mut report.recorded.totals;
    totals.connections += targets.0.len() as u64;
    totals.replies += targets.0.len() as u64;
    if totals.unanswered > 0 {
        report.notes.push(crate::words!(
            "{} messages were still unanswered {} after the measured window, when the bench \
             closed: the servers may count them as answered",
            totals.unanswered,
            humantime::format_duration(opts.reply_timeout)
        ));
    }
    Ok(report)
}

/// Descriptors a bench needs beside its connections (stdio, the runtime's,
/// the preflight's).
const FDS_BESIDE_CONNECTIONS: u64 = 32;

/// Refuses a run whose connections the open-files limit cannot hold
/// (after raising it as far as allowed).
fn check_fd_limit(opts: &Options) -> Result<(), Error> {
    // Raised to the hard limit, as far as this process may.
    let fd_limit = crate::net::raise_fd_limit();
    let needed = opts.connections as u64 + FDS_BESIDE_CONNECTIONS;
    if needed > fd_limit {
        let each = fd_limit.saturating_sub(FDS_BESIDE_CONNECTIONS).max(1);
        let processes = (opts.connections as u64).div_ceil(each);
        return Err(Error::InvalidInput(crate::words!(
            "{} connections need about {needed} open files, but this process may have \
             {fd_limit} (its hard limit, ulimit -Hn, which only root raises): run {processes} \
             benches of up to {each} connections each, side by side, or lower {}",
            opts.connections,
            crate::setting::Setting::Connections
        )));
    }
    Ok(())
}

/// Runs the load threads through one window: all connect, then one clock
/// starts for all; the totals, and the CPU used in the window.
fn drive(opts: &Options, targets: &Targets, threads: usize) -> Result<(Tally, Usage), Error> {
    let live = Arc::new(Live::default());
    let barrier = Barrier::new(threads + 1);
    let window_slot = std::sync::OnceLock::new();
    let (tallies, usage) = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for t in 0..threads {
            let (live, barrier, slot) = (live.clone(), &barrier, &window_slot);
            handles.push(scope.spawn(move || load_thread(opts, targets, t, live, barrier, slot)));
        }
        // Every thread has connected: start one clock for all, at the
        // time asked (the load threads wait at the barrier until then).
        barrier.wait();
        if let Some(warning) = notes::idle_wait(opts) {
            opts.notices.notice(crate::notice::Notice::Warning(warning));
        }
        let window = Window::from_now(opts.warmup, opts.duration, opts.start_at);
        let _ = window_slot.set(window);
        std::thread::sleep(window.start.saturating_duration_since(Instant::now()));
        barrier.wait();
        let usage = watch(opts, window, &live);
        let tallies: Vec<Result<Tally, Error>> = handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Other {
                        message: "a load thread panicked".into(),
                        source: None,
                    })
                })
            })
            .collect();
        (tallies, usage)
    });
    let mut total = Tally::default();
    for t in tallies {
        total.merge(&t?);
    }
    Ok((total, usage?))
}

/// The report of a timed run (every scenario but hold).
fn report_of(
    opts: &Options,
    targets: &Targets,
    threads: usize,
    total: Tally,
    usage: &Usage,
) -> Report {
    let seconds = opts.duration.as_secs_f64();
    let unit = match opts.scenario {
        Scenario::Churn => "sessions",
        Scenario::Handshake if opts.tls.is_some() => "handshakes",
        Scenario::Handshake => "connections",
        _ => "replies",
    };
    Report {
        scenario: opts.scenario.name().to_string(),
        server: targets.to_string(),
        servers: opts.addrs.clone(),
        connections: opts.connections,
        depth: if opts.scenario == Scenario::Pipeline {
            opts.depth
        } else {
            1
        },
        rate: opts.rate,
        threads,
        seconds,
        unit: unit.to_string(),
        done: total.done,
        per_second: total.done as f64 / seconds,
        errors: total.errors,
        mismatches: total.mismatches,
        first_error: total.first_error.clone(),
        latency_us: report::Latency::of(&total.latency),
        send_lateness_us: opts.rate.and_then(|_| report::Latency::of(&total.lateness)),
        server_cpu_ns_per_unit: usage
            .server_cpu_ns
            .map(|cpu| cpu as f64 / total.done.max(1) as f64),
        bench_cores_busy: usage
            .bench_cpu_ns
            .map(|cpu| cpu as f64 / opts.duration.as_nanos().max(1) as f64),
        server_rss_per_connection: None,
        sampled: None,
        sampled_ok: None,
        open_seconds: None,
        notes: [rate_notes(opts), schedule_notes(opts, &total)]
            .into_iter()
            .flatten()
            .chain(notes::late_start(opts, usage.measured.0))
            .collect(),
        window_start_unix: report::unix_seconds(usage.measured.0),
        window_end_unix: report::unix_seconds(usage.measured.1),
        start_at_unix: opts.start_at.map(report::unix_seconds),
        recorded: report::Recorded::of(total, report::unix_seconds(usage.measured.0)),
    }
}

/// `--server-pid`'s process could not be read.
pub(super) fn sample_failed(why: crate::setting::Words) -> Error {
    Error::Other {
        message: why,
        source: None,
    }
}
