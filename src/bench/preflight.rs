//! Before any load: the options checked against each other, and one
//! connection and one message to each server, so that a server that is
//! not there, speaks TLS, sends no welcome or answers another way gets one
//! clear error (or word) at once rather than a run full of failures.

use std::net::SocketAddr;
use std::time::Duration;

use tcpkit_wire::greeting::ClientFraming;

use super::{Options, Scenario, flow, hold, tls};
use crate::error::Error;
use crate::setting::Setting;

/// The lowest `--rate` and `--connect-rate`: one a second divided by a
/// million, one in 11.6 days. Below it the gaps between openings (up to
/// a share of 1,024 threads or a connection's share of the rate) no
/// longer fit the clock's arithmetic, and `1e-300` made bench panic.
pub(super) const MIN_RATE: f64 = 1e-6;

/// Refuses options that cannot work together.
pub(super) fn check(opts: &Options) -> Result<(), Error> {
    let usage = |m: crate::setting::Words| Err(Error::InvalidInput(m));
    if opts.connections == 0 {
        return usage(crate::words!("{} must be at least 1", Setting::Connections));
    }
    if opts.server_pid.is_some() && !crate::sys::can_sample_processes() {
        return usage(crate::words!(
            "{} is not available on this platform: sampling another process needs Linux's \
             /proc",
            Setting::ServerPid
        ));
    }
    if opts.framing == ClientFraming::Chunk && opts.scenario == Scenario::Pipeline && opts.depth > 1
    {
        return usage(crate::words!(
            "pipeline needs {} line: with chunk framing, messages in flight merge and replies \
             cannot be told apart (use pingpong, or {} 1)",
            Setting::Framing,
            Setting::Depth
        ));
    }
    if opts
        .rate
        .is_some_and(|r| !(MIN_RATE..f64::INFINITY).contains(&r))
    {
        return usage(crate::words!(
            "{} must be a positive number of messages per second, at least {MIN_RATE} (one in \
             11.6 days)",
            Setting::Rate
        ));
    }
    if opts
        .connect_rate
        .is_some_and(|r| !(MIN_RATE..f64::INFINITY).contains(&r))
    {
        return usage(crate::words!(
            "{} must be a positive number of connections per second, at least {MIN_RATE} (one \
             in 11.6 days)",
            Setting::ConnectRate
        ));
    }
    if opts.rate.is_some() && !matches!(opts.scenario, Scenario::Pingpong | Scenario::Pipeline) {
        return usage(crate::words!(
            "{} applies to pingpong and pipeline only",
            Setting::Rate
        ));
    }
    if opts.open_batch.is_some() && opts.scenario != Scenario::Hold {
        return usage(crate::words!(
            "{} applies to hold only (the connects each thread makes before it reads their \
             welcomes)",
            Setting::OpenBatch
        ));
    }
    if (opts.messages.is_some() || opts.interval.is_some()) && opts.scenario != Scenario::Churn {
        return usage(crate::words!(
            "{} and {} apply to churn only (sessions of N messages, one every DURATION)",
            Setting::Messages,
            Setting::Interval
        ));
    }
    if opts.duration.is_zero() {
        return usage(crate::words!(
            "{} must be more than 0 (how long to measure, e.g. 10s)",
            Setting::Duration
        ));
    }
    if opts.reply_timeout.is_zero() {
        return usage(crate::words!(
            "{} must be more than 0: the bench needs a limit so that every run ends (e.g. 10s)",
            Setting::ReplyTimeout
        ));
    }
    if opts.message.contains(&b'\n') || opts.message.is_empty() || opts.message == b"exit" {
        return usage(crate::words!(
            "the message ({}) must be one non-empty line other than 'exit'",
            Setting::Message
        ));
    }
    Ok(())
}

/// One connection and one message before any load, so that a server that
/// is not there, or speaks another way, gets one clear error at once
/// rather than a run full of failures.
pub(super) fn preflight(opts: &Options, spec: &str, addr: SocketAddr) -> Result<(), Error> {
    let slow = crate::notice::SlowNotice::new(
        &opts.notices,
        crate::words!(
            "no answer from {spec} in 2s; still connecting ({})",
            crate::notice::up_to(Setting::ConnectTimeout, opts.connect_timeout)
        ),
    );
    let mut stream = crate::net::connect(spec, &[addr], opts.connect_timeout)?;
    drop(slow);
    let script = flow::script_for(opts, 0);
    let limit = Some(opts.connect_timeout.unwrap_or(opts.reply_timeout));
    stream
        .set_read_timeout(limit)
        .map_err(|e| Error::lost(crate::words!("cannot set a read timeout for {spec}"), e))?;
    if let Some(version) = opts.send_proxy {
        crate::net::send_proxy_header(&mut stream, version)
            .map_err(|e| Error::BenchFailed(crate::words!("cannot send the PROXY header: {e}")))?;
    }
    let wrong = |e: crate::setting::Words| {
        Error::BenchFailed(crate::words!(
            "before the run, {}: {} (does it speak the greeting protocol as {}, {} and {} \
             say?)",
            spec,
            e,
            Setting::Welcome,
            Setting::Reply,
            Setting::Framing
        ))
    };
    if !script.welcome.is_empty() && opts.tls.is_none() {
        silent_welcome(opts, spec, &stream, addr)?;
        // (A reply timeout shorter than the gap says it itself, sooner.)
        if opts.framing == ClientFraming::Line && opts.reply_timeout > crate::talk::QUIET_GAP {
            unended_welcome(spec, &stream, &script.welcome)?;
        }
    }
    let mut stream = tls::SyncStream::over(stream, opts.tls.as_ref(), spec)?;
    stream
        .tcp()
        .set_read_timeout(Some(opts.reply_timeout))
        .map_err(|e| wrong(e.to_string().into()))?;
    hold::read_exactly(&mut stream, &script.welcome, "welcome").map_err(wrong)?;
    // No wait is silent: a slow first reply is said at 2 s.
    let _slow = crate::notice::SlowNotice::new(
        &opts.notices,
        crate::words!(
            "before the run, {spec}: no reply to the first message after 2s; still waiting ({})",
            crate::notice::up_to(Setting::ReplyTimeout, Some(opts.reply_timeout))
        ),
    );
    hold::ask(&mut stream, &script, opts.reply_timeout).map_err(wrong)
}

/// The welcome came without its newline and nothing follows it for
/// [`crate::talk::QUIET_GAP`]: a server that does not end its lines (the
/// tutorial's own) is named at once, as talk names it, rather than after
/// the whole reply timeout. Anything else is left to the welcome's check.
fn unended_welcome(spec: &str, stream: &std::net::TcpStream, welcome: &[u8]) -> Result<(), Error> {
    let Some(bare) = welcome.strip_suffix(b"\n") else {
        return Ok(());
    };
    // Bounded: a server still silent after `silent_welcome` is the
    // welcome check's to wait for, with the reply timeout.
    if stream
        .set_read_timeout(Some(crate::talk::QUIET_GAP))
        .is_err()
    {
        return Ok(());
    }
    let mut buf = vec![0; welcome.len()];
    let mut since: Option<std::time::Instant> = None;
    loop {
        let n = match stream.peek(&mut buf) {
            Ok(n) => n,
            Err(_) => return Ok(()),
        };
        if n != bare.len() || buf[..n] != *bare {
            return Ok(());
        }
        let since = *since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() >= crate::talk::QUIET_GAP {
            return Err(Error::BenchFailed(crate::words!(
                "before the run, {spec} sent {} with no newline, then nothing for {}: a server \
                 that does not end its lines, like the tutorial's own? try {} chunk",
                tcpkit_wire::Escaped(bare),
                humantime::format_duration(crate::talk::QUIET_GAP),
                Setting::Framing
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How long the preflight waits for a welcome before looking into the
/// silence, as talk does.
const SILENCE: Duration = Duration::from_secs(2);

/// The preflight's welcome has not come within [`SILENCE`]: a server that
/// speaks TLS (it answers a hello on a second connection) is an error
/// naming --tls; for any other, stderr says what the bench waits for and
/// names --no-welcome, and the wait goes on.
fn silent_welcome(
    opts: &Options,
    spec: &str,
    stream: &std::net::TcpStream,
    addr: SocketAddr,
) -> Result<(), Error> {
    if opts.reply_timeout <= SILENCE || stream.set_read_timeout(Some(SILENCE)).is_err() {
        return Ok(());
    }
    let silent = matches!(
        stream.peek(&mut [0u8; 1]),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
    );
    if !silent {
        return Ok(());
    }
    if crate::tls::client::answers_tls(addr, Duration::from_secs(1)) {
        return Err(Error::BenchFailed(crate::words!(
            "before the run, {spec} sent nothing in 2s, and answered a TLS hello on a second \
             connection: it speaks TLS. Add {} (with {} FILE for a self-signed certificate)",
            Setting::Tls,
            Setting::Cacert
        )));
    }
    if let Some(kind) = crate::probe::silent_server(addr, Duration::from_secs(1)) {
        return Err(Error::BenchFailed(crate::words!(
            "before the run, {}",
            crate::talk::no_welcome_from(addr, &"2s", kind)
        )));
    }
    opts.notices
        .notice(crate::notice::Notice::Hint(crate::words!(
            "nothing from {spec} in 2s; still waiting for the welcome (up to {} {}). A server \
         that sends none, like an echo or HTTP server, needs {}.",
            Setting::ReplyTimeout,
            humantime::format_duration(opts.reply_timeout),
            Setting::NoWelcome
        )));
    Ok(())
}
