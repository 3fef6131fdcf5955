//! `serve --metrics ADDR`: the server's counters in the Prometheus text
//! format, on a listener of their own (`GET /metrics`), and `GET /ready`
//! for probes that speak HTTP (Kubernetes): 200 while serving, 503 once a
//! shutdown has begun (see [`super::agent`]).
//!
//! The hot path counts once per read, never per message, into a shard of
//! its own thread (relaxed atomic adds on a cache line no other thread
//! writes), so pipelined traffic does not contend on shared counters; a
//! scrape sums the shards. Each closed connection's message count goes
//! into a histogram, a few thousand times a second at most. (A duration
//! histogram would need the accept time in every connection's state,
//! which is kept under 336 bytes; the count is there already.) The encoding is the
//! Prometheus project's own client crate, prometheus-client.

mod http;
pub use http::serve;

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Why a connection closed, as the `reason` label says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The client sent `exit`.
    Exit,
    /// The client closed its side.
    ClientClosed,
    /// `--idle-timeout`.
    IdleTimeout,
    /// `--message-timeout`.
    MessageTimeout,
    /// A message longer than `--max-message`.
    TooLong,
    /// `--write-timeout`: the client did not read its replies.
    WriteTimeout,
    /// `--max-buffered` had no room.
    Busy,
    /// A PROXY header missing or refused.
    Proxy,
    /// A TLS handshake that failed or did not finish in time.
    Tls,
    /// Closed at shutdown (including the end of the grace period).
    Shutdown,
    /// Closed or reset before its first byte: a health check or probe.
    Probe,
    /// The client reset the connection after it had spoken.
    ClientReset,
    /// The socket failed on our side.
    Error,
}

impl Reason {
    const ALL: [Reason; 13] = [
        Reason::Exit,
        Reason::ClientClosed,
        Reason::IdleTimeout,
        Reason::MessageTimeout,
        Reason::TooLong,
        Reason::WriteTimeout,
        Reason::Busy,
        Reason::Proxy,
        Reason::Tls,
        Reason::Shutdown,
        Reason::Probe,
        Reason::ClientReset,
        Reason::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            Reason::Exit => "exit",
            Reason::ClientClosed => "client_closed",
            Reason::IdleTimeout => "idle_timeout",
            Reason::MessageTimeout => "message_timeout",
            Reason::TooLong => "too_long",
            Reason::WriteTimeout => "write_timeout",
            Reason::Busy => "busy",
            Reason::Proxy => "proxy",
            Reason::Tls => "tls_handshake",
            Reason::Shutdown => "shutdown",
            Reason::Probe => "probe",
            Reason::ClientReset => "client_reset",
            Reason::Error => "error",
        }
    }
}

/// Counters one thread writes.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    accepted: AtomicU64,
    accept_errors: AtomicU64,
    refused: AtomicU64,
    messages: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    closed: [AtomicU64; Reason::ALL.len()],
}

/// Shards: more than threads a runtime usually has; threads past this
/// share (still correct, only less private).
const SHARDS: usize = 16;

thread_local! {
    /// This thread's shard, chosen at its first count.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The next shard to hand out.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

/// The server's counters, shared by its connections and the endpoint.
pub struct Metrics {
    shards: Box<[Shard]>,
    /// Messages answered per connection, observed at its close.
    per_connection: Histogram,
    /// Seconds from each connection's accept to its close.
    duration: Histogram,
    /// Log lines the process dropped because its log output was not read
    /// ([`crate::lossy`]), when the caller logs through one.
    log_dropped: Option<Arc<AtomicU64>>,
    /// What serving is bounded by, known once it starts.
    bounds: std::sync::OnceLock<Bounds>,
}

/// The server's limits and the budget's use, for the gauges an operator
/// compares the counts with.
#[derive(Debug)]
pub(super) struct Bounds {
    /// `max_connections`, as served.
    pub max_connections: usize,
    /// `max_buffered` (`None`: no budget).
    pub max_buffered: Option<usize>,
    /// The bytes taken from the budget now.
    pub buffered: Arc<AtomicUsize>,
    /// Serving, draining or stopped: `tcpkit_ready`.
    pub health: Arc<super::agent::Health>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            // A health check (0), every small session to within one
            // message (the tutorial's is 3: with a bucket (1, 3], a
            // quantile over sessions of exactly 3 came out as 2.0), then
            // growing up to a pipelined connection's millions.
            per_connection: Histogram::new([
                0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7,
            ]),
            // From a probe's connect-and-close (well under a millisecond)
            // through sessions of a person or a poller (seconds, minutes)
            // to connections held for a day.
            duration: Histogram::new([
                0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0,
                86400.0,
            ]),
            log_dropped: None,
            bounds: std::sync::OnceLock::new(),
        }
    }
}

impl Metrics {
    /// Exports `dropped` (a [`crate::lossy::Lossy::dropped`] count) as
    /// `tcpkit_log_lines_dropped`: how many log lines a stalled log reader
    /// cost, which the log itself can say only once it drains.
    pub fn with_log_drops(mut self, dropped: Arc<AtomicU64>) -> Metrics {
        self.log_dropped = Some(dropped);
        self
    }

    /// Serving started with these bounds (set once; a second is ignored).
    pub(super) fn bounded_by(&self, bounds: Bounds) {
        let _ = self.bounds.set(bounds);
    }

    fn shard(&self) -> &Shard {
        let index = SHARD.with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            s.get()
        });
        &self.shards[index]
    }

    /// A connection was accepted.
    pub(super) fn accepted(&self) {
        self.shard().accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// `accept` failed.
    pub(super) fn accept_error(&self) {
        self.shard().accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A client was told the server is full and closed (not counted as
    /// accepted).
    pub(super) fn refused(&self) {
        self.shard().refused.fetch_add(1, Ordering::Relaxed);
    }

    /// One read: its bytes, the messages it completed, the reply bytes.
    pub(super) fn read(&self, bytes_in: usize, messages: usize, bytes_out: usize) {
        let shard = self.shard();
        shard.bytes_in.fetch_add(bytes_in as u64, Ordering::Relaxed);
        if messages > 0 {
            shard.messages.fetch_add(messages as u64, Ordering::Relaxed);
        }
        if bytes_out > 0 {
            shard
                .bytes_out
                .fetch_add(bytes_out as u64, Ordering::Relaxed);
        }
    }

    /// Bytes sent outside a read's answers (the welcome, error lines).
    pub(super) fn sent(&self, bytes: usize) {
        self.shard()
            .bytes_out
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A connection closed, having answered `messages` in `seconds`.
    pub(super) fn closed(&self, reason: Reason, messages: u64, seconds: f64) {
        let at = Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        self.shard().closed[at].fetch_add(1, Ordering::Relaxed);
        self.per_connection.observe(messages as f64);
        self.duration.observe(seconds);
    }

    fn sum(&self, field: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|s| field(s).load(Ordering::Relaxed))
            .sum()
    }

    /// The Prometheus text format (version 0.0.4) of every counter.
    pub fn encode(self: &Arc<Self>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Collect(self.clone())));
        registry.register(
            "tcpkit_messages_per_connection",
            "Messages answered by each closed connection",
            self.per_connection.clone(),
        );
        registry.register_with_unit(
            "tcpkit_connection_duration",
            "Seconds from each closed connection's accept to its close",
            prometheus_client::registry::Unit::Seconds,
            self.duration.clone(),
        );
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
        text
    }
}

/// The shards, summed at each scrape.
#[derive(Debug)]
struct Collect(Arc<Metrics>);

impl Collector for Collect {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let m = &self.0;
        let counter = |encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64| {
            let metric = ConstCounter::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        let accepted = m.sum(|s| &s.accepted);
        counter(
            &mut encoder,
            "tcpkit_connections_accepted",
            "Connections accepted",
            accepted,
        )?;
        counter(
            &mut encoder,
            "tcpkit_accept_errors",
            "Failed accepts (out of file descriptors, ...)",
            m.sum(|s| &s.accept_errors),
        )?;
        counter(
            &mut encoder,
            "tcpkit_connections_refused",
            "Clients told the server is busy and closed at once, because the connection limit was reached",
            m.sum(|s| &s.refused),
        )?;
        counter(
            &mut encoder,
            "tcpkit_messages",
            "Messages answered",
            m.sum(|s| &s.messages),
        )?;
        counter(
            &mut encoder,
            "tcpkit_received_bytes",
            "Bytes read from clients",
            m.sum(|s| &s.bytes_in),
        )?;
        counter(
            &mut encoder,
            "tcpkit_sent_bytes",
            "Bytes of welcomes, replies and error lines",
            m.sum(|s| &s.bytes_out),
        )?;
        if let Some(dropped) = &m.log_dropped {
            counter(
                &mut encoder,
                "tcpkit_log_lines_dropped",
                "Log lines dropped because the log output was not being read (a paused terminal, a stalled log reader); serving went on",
                dropped.load(Ordering::Relaxed),
            )?;
        }
        let mut closed_total = 0;
        let closed = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "tcpkit_connections_closed",
            "Connections closed, by reason",
            None,
            closed.metric_type(),
        )?;
        for (at, reason) in Reason::ALL.iter().enumerate() {
            let n = m.sum(|s| &s.closed[at]);
            closed_total += n;
            let labels = [("reason", reason.label())];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        let gauge = |encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64| {
            let metric = ConstGauge::new(value);
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        let open = accepted.saturating_sub(closed_total);
        gauge(
            &mut encoder,
            "tcpkit_connections_open",
            "Connections open now",
            open as i64,
        )?;
        let info = ConstGauge::new(1);
        info.encode(
            encoder
                .encode_descriptor(
                    "tcpkit_build_info",
                    "tcpkit's version; the value is 1",
                    None,
                    info.metric_type(),
                )?
                .encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?,
        )?;
        if let Some(bounds) = m.bounds.get() {
            bounds.encode(&mut encoder, gauge)?;
        }
        match crate::sys::this_process() {
            Some(process) => encode_process(&mut encoder, &process, gauge),
            None => Ok(()),
        }
    }
}

/// A gauge's encoding: name, help, value.
type Gauge = fn(&mut DescriptorEncoder, &str, &str, i64) -> Result<(), fmt::Error>;

impl Bounds {
    fn encode(&self, encoder: &mut DescriptorEncoder, gauge: Gauge) -> Result<(), fmt::Error> {
        gauge(
            encoder,
            "tcpkit_ready",
            "1 while serving; 0 once a shutdown began (the drain, when /ready answers 503)",
            i64::from(self.health.state() == super::agent::State::Ready),
        )?;
        gauge(
            encoder,
            "tcpkit_connections_max",
            "The most connections served at once (--max-connections)",
            self.max_connections as i64,
        )?;
        gauge(
            encoder,
            "tcpkit_buffer_budget_used_bytes",
            "Bytes held now for unfinished messages and for replies clients are not reading, \
             counted against --max-buffered",
            self.buffered.load(Ordering::Relaxed) as i64,
        )?;
        match self.max_buffered {
            Some(max) => gauge(
                encoder,
                "tcpkit_buffer_budget_bytes",
                "The most bytes the server may hold for them (--max-buffered)",
                max as i64,
            ),
            None => Ok(()),
        }
    }
}

/// The `process_*` metrics every official Prometheus client exports.
fn encode_process(
    encoder: &mut DescriptorEncoder,
    process: &crate::sys::ProcessStats,
    gauge: Gauge,
) -> Result<(), fmt::Error> {
    let cpu = ConstCounter::new(process.cpu_seconds);
    cpu.encode(encoder.encode_descriptor(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds",
        None,
        cpu.metric_type(),
    )?)?;
    let gauges = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            process.resident_bytes,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            process.virtual_bytes,
        ),
        (
            "process_open_fds",
            "Number of open file descriptors",
            process.open_fds,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors",
            process.max_fds,
        ),
    ];
    for (name, help, value) in gauges {
        gauge(
            encoder,
            name,
            help,
            i64::try_from(value).unwrap_or(i64::MAX),
        )?;
    }
    let start = ConstGauge::new(process.start_time_seconds);
    start.encode(encoder.encode_descriptor(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds",
        None,
        start.metric_type(),
    )?)?;
    Ok(())
}
