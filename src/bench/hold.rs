//! `hold`: open many connections, read each welcome, hold them idle, then
//! check that a spread sample of them still answers. With `--server-pid`
//! it reports how much the server's resident memory grew per connection.
//!
//! Plain blocking sockets, opened by `--threads` threads, each opening its
//! share `--open-batch` connects at a time: a few connects in flight keep
//! both machines busy, and never more than `--threads` times
//! `--open-batch` wait in the server's listen backlog.
//! `--source` spreads the connections over several local addresses, each
//! with its own ephemeral ports, for more of them than one address allows.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::expect::Script;
use super::flow::script_for;
use super::report::{self, Latency, Report, Tally};
use super::tls::SyncStream;
use super::{Options, Targets};
use crate::notice::Notice;

/// Below this many held connections, the server's RSS growth per
/// connection is not reported: RSS moves in pages and in the allocator's
/// steps (and may shrink as it gives memory back), so a small run gives
/// noise, even negative figures.
pub const MIN_CONNECTIONS_FOR_MEMORY: usize = 1000;

/// Runs the scenario; `before` is the server's sample from before the
/// run's first connection (`--server-pid`).
pub fn run(
    opts: &Options,
    targets: &Targets,
    before: Option<report::ProcSample>,
) -> Result<Report, crate::error::Error> {
    let sample_server = || {
        opts.server_pid
            .map(report::sample_process)
            .transpose()
            .map_err(super::sample_failed)
    };
    let mut tally = Tally::with_intervals(opts.intervals());
    let start = Instant::now();
    let start_unix = super::report::unix_seconds(std::time::SystemTime::now());
    let threads = opts.threads.clamp(1, opts.connections.max(1));
    let mut held = open_all(opts, targets, threads, &mut tally);
    let opening = start.elapsed();
    if opts.progress {
        opts.notices.notice(Notice::Progress(format!(
            "hold: {} connections open, holding for {:?}",
            held.len(),
            opts.duration
        )));
    }
    let held_from = std::time::SystemTime::now();
    std::thread::sleep(opts.duration);
    let held_to = std::time::SystemTime::now();
    let after = sample_server()?;
    let (sample, sampled_ok) = check_sample(opts, &mut held, &mut tally);
    if opts.progress {
        opts.notices.notice(Notice::ProgressEnd);
    }
    let open = held.len();
    drop(held);
    let mut notes =
        vec!["open time is connect plus welcome; the sample is checked after the hold".into()];
    let growth = before.zip(after).map(|(b, a)| a.rss as f64 - b.rss as f64);
    let rss_per_connection = match growth {
        Some(grew) if open >= MIN_CONNECTIONS_FOR_MEMORY && grew > 0.0 => Some(grew / open as f64),
        Some(grew) => {
            notes.push(crate::words!(
                "server memory per connection not measured: {open} held connection(s) moved \
                 its RSS by {} bytes, within the allocator's and the pages' steps (hold at \
                 least {MIN_CONNECTIONS_FOR_MEMORY})",
                grew as i64
            ));
            None
        }
        None => None,
    };
    Ok(Report {
        scenario: "hold".into(),
        server: targets.to_string(),
        servers: opts.addrs.clone(),
        connections: opts.connections,
        depth: 1,
        rate: None,
        threads,
        seconds: opts.duration.as_secs_f64(),
        unit: "connections".into(),
        done: open as u64,
        per_second: open as f64 / opening.as_secs_f64().max(1e-9),
        errors: tally.errors,
        mismatches: tally.mismatches,
        first_error: tally.first_error.clone(),
        latency_us: Latency::of(&tally.latency),
        send_lateness_us: None,
        server_cpu_ns_per_unit: None,
        bench_cores_busy: None,
        server_rss_per_connection: rss_per_connection,
        sampled: Some(sample),
        sampled_ok: Some(sampled_ok),
        open_seconds: Some(opening.as_secs_f64()),
        notes,
        window_start_unix: super::report::unix_seconds(held_from),
        window_end_unix: super::report::unix_seconds(held_to),
        start_at_unix: None,
        recorded: super::report::Recorded::of(tally, start_unix),
    })
}

/// Opens `--connections` connections at `--connect-rate`, each with its
/// welcome read, on `threads` threads that each open their share one
/// after another; the time each took, or its failure, goes in `tally`.
///
/// Why threads: one connection at a time waits out a round trip to the
/// server and back for each, and both machines' cores idle meanwhile
/// (19,000 connections on a 2-core VM, the bench on one core: 8,400 a
/// second from one thread, 17,700 from two, 21,400 from four). Each
/// thread has `--open-batch` connects in flight, so at most `threads`
/// times that wait in the server's listen backlog.
fn open_all(
    opts: &Options,
    targets: &Targets,
    threads: usize,
    tally: &mut Tally,
) -> Vec<(SyncStream, Script)> {
    let opening = Instant::now();
    let open = std::sync::atomic::AtomicUsize::new(0);
    let shares: Vec<(Vec<(SyncStream, Script)>, Tally)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|first| {
                let open = &open;
                scope.spawn(move || open_share(opts, targets, (first, threads), opening, open))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut held = Vec::with_capacity(opts.connections);
    for (share, share_tally) in shares {
        held.extend(share);
        tally.merge(&share_tally);
    }
    held
}

/// One thread's share of [`open_all`]: the connections `first`,
/// `first + step`, ... in turn, each connect as soon as its
/// `--connect-rate` slot comes (the thread's part of the rate, its first
/// slot `first` gaps of the whole rate in, so that the threads' openings
/// interleave evenly rather than all starting at once). `open` counts the
/// connections open over all threads, for the progress line.
///
/// `--open-batch` connects are made before their welcomes are read: the
/// server then finds them all waiting when it wakes, accepts them in one
/// go and sends their welcomes, and this thread sleeps once for all of
/// them, where one at a time costs both ends a wake-up each. A
/// connection's open time runs from its connect to its welcome, so it
/// includes the rest of its batch's connects.
fn open_share(
    opts: &Options,
    targets: &Targets,
    (first, step): (usize, usize),
    opening: Instant,
    open: &std::sync::atomic::AtomicUsize,
) -> (Vec<(SyncStream, Script)>, Tally) {
    let mut tally = Tally::with_intervals(opts.intervals());
    let mut held = Vec::with_capacity(opts.connections / step + 1);
    let pacer = super::Pacer::new(opts.connect_rate, step, first);
    let mut indices = (first..opts.connections).step_by(step).peekable();
    let batch_size = opts.open_batch.unwrap_or(1).max(1);
    let mut batch = Vec::with_capacity(batch_size);
    while indices.peek().is_some() {
        for index in indices.by_ref().take(batch_size) {
            pacer.wait_blocking();
            let began = Instant::now();
            let source =
                (!opts.sources.is_empty()).then(|| opts.sources[index % opts.sources.len()]);
            batch.push((index, began, connect(opts, source, targets.of(index))));
        }
        for (index, began, connected) in batch.drain(..) {
            let script = script_for(opts, index);
            match connected.and_then(|stream| greet(opts, stream, &script)) {
                Ok(stream) => {
                    tally.record(began.elapsed(), 1, began - opening);
                    tally.bytes(0, script.welcome.len());
                    tally.opened += 1;
                    held.push((stream, script));
                    let now_open = open.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if opts.progress && now_open.is_multiple_of(1000) {
                        opts.notices.notice(Notice::Progress(format!(
                            "hold: {now_open} connections open"
                        )));
                    }
                }
                Err(e) => tally.fail(|| e),
            }
        }
    }
    (held, tally)
}

/// Checks a sample of the held connections, spread over the whole range
/// (first and last included): how many were asked, and how many answered
/// correctly (each failure goes in `tally`).
fn check_sample(
    opts: &Options,
    held: &mut [(SyncStream, Script)],
    tally: &mut Tally,
) -> (usize, usize) {
    let sample = opts.sample.min(held.len());
    let mut sampled_ok = 0;
    for k in 0..sample {
        let i = if sample > 1 {
            k * (held.len() - 1) / (sample - 1)
        } else {
            0
        };
        let (stream, script) = &mut held[i];
        match ask(stream, script, opts.reply_timeout) {
            Ok(()) => {
                sampled_ok += 1;
                tally.answered += 1;
            }
            Err(e) => tally.mismatch(|| crate::words!("held connection {i}: {}", e)),
        }
    }
    (sample, sampled_ok)
}

/// Connects to `addr`, from `source` if given (`None`: the system's
/// choice).
fn connect(
    opts: &Options,
    source: Option<std::net::IpAddr>,
    addr: SocketAddr,
) -> Result<(TcpStream, SocketAddr), crate::setting::Words> {
    let connected = match (source, opts.connect_timeout) {
        (Some(from), limit) => crate::net::connect_from(from, addr, limit),
        (None, Some(limit)) => TcpStream::connect_timeout(&addr, limit),
        (None, None) => TcpStream::connect(addr),
    };
    let stream = connected.map_err(|e| match source {
        Some(from) => format!("cannot connect to {addr} from {from}: {e}"),
        None => format!("cannot connect to {addr}: {e}"),
    })?;
    Ok((stream, addr))
}

/// Sends the PROXY header if asked, starts TLS if asked, and reads the
/// welcome.
fn greet(
    opts: &Options,
    (mut stream, addr): (TcpStream, SocketAddr),
    script: &Script,
) -> Result<SyncStream, crate::setting::Words> {
    let _ = stream.set_nodelay(true);
    if let Some(version) = opts.send_proxy {
        crate::net::send_proxy_header(&mut stream, version)
            .map_err(|e| format!("cannot send the PROXY header: {e}"))?;
    }
    stream
        .set_read_timeout(Some(opts.reply_timeout))
        .map_err(|e| e.to_string())?;
    let mut stream =
        SyncStream::over(stream, opts.tls.as_ref(), &addr.to_string()).map_err(|e| e.in_words())?;
    read_exactly(&mut stream, &script.welcome, "welcome")?;
    Ok(stream)
}

/// Sends the message on a held connection and checks the reply.
pub(super) fn ask(
    stream: &mut SyncStream,
    script: &Script,
    timeout: Duration,
) -> Result<(), crate::setting::Words> {
    stream
        .tcp()
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&script.message)
        .map_err(|e| format!("sending: {e}"))?;
    read_exactly(stream, &script.reply, "reply")
}

pub(super) fn read_exactly(
    stream: &mut SyncStream,
    expected: &[u8],
    what: &str,
) -> Result<(), crate::setting::Words> {
    // Compare as bytes arrive: a shorter wrong answer must fail at once,
    // not after waiting for the bytes the right one would have had.
    let mut buf = [0; 512];
    let mut got = 0;
    while got < expected.len() {
        let want = (expected.len() - got).min(buf.len());
        let n = match stream.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(crate::words!(
                    "the server closed the connection before the {what}"
                ));
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                let waited = stream
                    .tcp()
                    .read_timeout()
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                return Err(super::expect::not_in_time(what, expected, got, waited));
            }
            Err(e) => return Err(crate::words!("reading the {what}: {e}")),
        };
        super::expect::check_piece(expected, got, &buf[..n], what)?;
        got += n;
    }
    Ok(())
}
