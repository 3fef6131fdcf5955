//! `tcpkit bench`'s arguments: wrk's and tcpkali's short flags.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{ConnectArgs, ProtocolArgs};
use crate::values;
use tcpkit::bench::{self, Scenario};
use tcpkit::notice::Notices;
use tcpkit::wire::{greeting::ClientFraming, proxy};

/// `tcpkit bench`: a run, or `bench merge` of runs' reports.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchCommand {
    #[command(subcommand)]
    pub merge: Option<MergeCommand>,
    #[command(flatten)]
    pub run: BenchArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum MergeCommand {
    /// Add up runs' reports (bench --json) into one run's: counts summed,
    /// percentiles of every sample, rates over the union of the windows.
    #[command(after_help = "Example:
  tcpkit bench pipeline ADDR --start-at +30s --json > a.json   on each machine
  tcpkit bench merge a.json b.json c.json")]
    Merge {
        /// The reports (bench --json's output; at most 16 MiB each).
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,

        /// Print the merged report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// pingpong, pipeline, churn, hold or handshake.
    #[arg(value_name = "SCENARIO", value_enum, required = true)]
    pub scenario: Option<Scenario>,

    /// wrk's --latency: accepted; bench always reports latency percentiles.
    #[arg(long)]
    pub latency: bool,

    /// The server, as HOST:PORT; several spread the connections over
    /// them in turn (as over the instances behind a load balancer).
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:9999")]
    pub addrs: Vec<String>,

    /// Connections (churn, handshake: concurrent workers). Default:
    /// pingpong 100, pipeline 50, churn 100, hold 1000, handshake 16.
    #[arg(short, long, value_name = "N", value_parser = |s: &str| values::count::<u32>(s, 1, 1_000_000), allow_negative_numbers = true)]
    pub connections: Option<u32>,

    /// Messages in flight per connection (pipeline).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = |s: &str| values::count::<u32>(s, 1, 65536), allow_negative_numbers = true)]
    pub depth: u32,

    /// Open loop: send this many messages per second in all (at least 1e-6), and
    /// measure latency from when each was due (pingpong, pipeline; wrk2's -R).
    #[arg(
        short = 'R',
        long,
        value_name = "MSGS_PER_SEC",
        allow_negative_numbers = true
    )]
    pub rate: Option<f64>,

    /// Open at most this many connections per second (at least 1e-6), over all
    /// threads (tcpkali's --connect-rate); for churn, sessions per second.
    #[arg(long, value_name = "PER_SEC", allow_negative_numbers = true)]
    pub connect_rate: Option<f64>,

    /// churn: messages per session (the tutorial's names over and over;
    /// 0: welcome, then exit). Default: 3, Michael, Tracy and Sarah.
    #[arg(long, value_name = "N", value_parser = |s: &str| values::count::<u32>(s, 0, 1_000_000), allow_negative_numbers = true)]
    pub messages: Option<u32>,

    /// churn: pause this long before each message after the first and
    /// before exit, so that a session lasts about N times DURATION, as a
    /// person's or a poller's would (the sessions a restart must let
    /// finish). Default: no pause.
    #[arg(long, value_name = "DURATION", value_parser = values::duration, allow_negative_numbers = true)]
    pub interval: Option<Duration>,

    /// How long to measure (hold: how long to hold the connections idle);
    /// -d as in wrk, -T as in tcpkali.
    #[arg(short = 'd', short_alias = 'T', long, value_name = "DURATION", default_value = "10s", value_parser = values::duration, allow_negative_numbers = true)]
    pub duration: Duration,

    /// How long to run before measuring.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = values::duration, allow_negative_numbers = true)]
    pub warmup: Duration,

    /// Start measuring at this time, RFC 3339 or +DURATION from now, so
    /// that benches on several machines measure one window.
    #[arg(long, value_name = "TIME", value_parser = values::start_at)]
    pub start_at: Option<std::time::SystemTime>,

    /// Load threads (hold: each opens its share, --open-batch connects at a time). Default: one per core.
    #[arg(short = 't', long, value_name = "N", value_parser = |s: &str| values::count::<u32>(s, 1, 1024), allow_negative_numbers = true)]
    pub threads: Option<u32>,
    /// hold: connects each thread makes before it reads their welcomes (1 to 1024; default 1).
    /// More wake both ends less often; up to threads x N wait in the server's listen backlog.
    #[arg(long, value_name = "N", value_parser = |s: &str| values::count::<u32>(s, 1, 1024), allow_negative_numbers = true)]
    pub open_batch: Option<u32>,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// A reply (or welcome, or close after exit) later than this is an error.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = values::duration, allow_negative_numbers = true)]
    pub timeout: Duration,

    /// line for tcpkit serve; chunk for the tutorial's own server (no
    /// newlines; every scenario, pipeline only with --depth 1).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ClientFraming::Line)]
    pub framing: ClientFraming,

    /// The message sent (each connection adds -N to tell them apart).
    #[arg(short = 'm', long, value_name = "TEXT", default_value = "Michael")]
    pub message: String,

    /// Send the bytes of FILE as the message instead (one trailing newline
    /// dropped; at most 1 MiB), e.g. against an echo server with
    /// --welcome '' --reply '{}'.
    #[arg(long, value_name = "FILE", conflicts_with = "message")]
    pub message_file: Option<PathBuf>,

    #[command(flatten)]
    pub protocol: ProtocolArgs,

    /// The server's process id: report its CPU time per reply, and for
    /// hold its memory growth per connection.
    #[arg(long, value_name = "PID", value_parser = |s: &str| values::count::<u32>(s, 1, i32::MAX as u64), allow_negative_numbers = true)]
    pub server_pid: Option<u32>,

    /// hold: how many held connections to check at the end.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = |s: &str| values::count::<usize>(s, 0, 1_000_000), allow_negative_numbers = true)]
    pub sample: usize,

    /// Start each connection with a PROXY protocol header (v1 or v2), as a
    /// load balancer would.
    #[arg(long, value_name = "VERSION", value_enum)]
    pub send_proxy: Option<proxy::Version>,

    /// hold: connect from these local addresses in turn, each with its own
    /// range of ephemeral ports (127.0.0.2-127.0.0.9, 127.0.1.0/26, or a
    /// list with commas); for more connections to one server than one
    /// address has ports.
    #[arg(long, value_name = "ADDRS", value_parser = values::addresses)]
    pub source: Option<values::Addresses>,

    /// Print the report as JSON on stdout (with its histograms: bench
    /// merge adds such reports up exactly).
    #[arg(long)]
    pub json: bool,

    /// Also write the latencies (churn: sessions, hold: openings) as an
    /// HdrHistogram interval log to FILE, one histogram a second (longer
    /// for runs over 10 minutes), for HdrHistogram's and wrk2's tools.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,

    /// Speak TLS to the server (serve --tls-cert or --tls-self-signed).
    #[arg(long)]
    pub tls: bool,

    /// Trust the certificates in FILE (PEM) as well as the built-in CAs.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cacert: Option<PathBuf>,

    /// Do not check the server's certificate (says so loudly).
    #[arg(short = 'k', long, requires = "tls")]
    pub insecure: bool,

    /// Check the certificate for NAME (and send it as SNI) instead of the
    /// first address's host.
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub servername: Option<String>,

    /// Keep no TLS sessions: every connection makes a full handshake. By
    /// default connections resume the run's earlier sessions, as a real
    /// client would.
    #[arg(long, requires = "tls")]
    pub no_tls_resume: bool,
}

impl BenchArgs {
    /// The bench options these arguments describe; `progress` says whether
    /// stderr is a terminal for the live line.
    pub fn options(&self, notices: Arc<dyn Notices>, progress: bool) -> bench::Options {
        // clap requires it unless the command is `bench merge`.
        let scenario = self.scenario.unwrap_or(Scenario::Pingpong);
        let connections = self
            .connections
            .map_or(scenario.default_connections(), |n| n as usize);
        let threads = self
            .threads
            .map_or_else(bench::default_threads, |n| n as usize);
        bench::Options {
            scenario,
            addrs: self.addrs.clone(),
            family: self.connect.family(),
            connections,
            depth: self.depth as usize,
            rate: self.rate,
            connect_rate: self.connect_rate,
            duration: self.duration,
            warmup: self.warmup,
            start_at: self.start_at,
            threads,
            open_batch: self.open_batch.map(|n| n as usize),
            connect_timeout: self.connect.connect_timeout.0,
            reply_timeout: self.timeout,
            framing: self.framing,
            message: self.message.clone().into_bytes(),
            welcome: self.protocol.welcome(),
            reply: self.protocol.reply(),
            server_pid: self.server_pid,
            sample: self.sample,
            progress,
            send_proxy: self.send_proxy,
            sources: self.source.clone().map(|a| a.0).unwrap_or_default(),
            messages: self.messages.map(|n| n as usize),
            interval: self.interval,
            tls: None,
            hdr_log: self.hdr_log.is_some(),
            notices,
        }
    }

    /// `--tls`: the client configuration for the run, checking
    /// --servername or the first address's host.
    pub fn tls(&self) -> Result<Option<bench::BenchTls>, tcpkit::Error> {
        let first = self.addrs.first().map_or("127.0.0.1", String::as_str);
        let host = first.rsplit_once(':').map_or(first, |(host, _)| host);
        let name = self.servername.as_deref().unwrap_or(host);
        let (cacert, resume) = (self.cacert.as_deref(), !self.no_tls_resume);
        (self
            .tls
            .then(|| bench::BenchTls::new(cacert, self.insecure, name, resume)))
        .transpose()
    }
}
