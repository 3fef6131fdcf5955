//! What the reader of a report should know about how the run was set up: a
//! rate too low for the run's length, a schedule the bench itself did not
//! keep, or a `--start-at` it could not meet.

use std::time::Duration;

use super::{Options, Tally, report};

/// With `--rate`, whether the bench kept its own schedule, as wrk2's
/// users expect to be told: the latency counts from each message's due
/// time, so a bench that sent late reports its own lateness as the
/// server's. Late means a 99th percentile over a tenth of a connection's
/// gap between messages, or less than 90 % of the rate sent.
pub(super) fn schedule_notes(opts: &Options, total: &Tally) -> Vec<crate::setting::Words> {
    let Some(rate) = opts.rate else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    let gap = Duration::from_secs_f64(opts.connections as f64 / rate);
    if !total.lateness.is_empty() {
        let p99 = Duration::from_nanos(total.lateness.value_at_quantile(0.99));
        if p99 > gap / 10 {
            notes.push(crate::words!(
                "the bench could not keep its schedule: 99% of messages left within {} of their \
                 time, more than a tenth of each connection's gap of {}; the latency includes \
                 that (fewer {}, more {}, or a lower rate)",
                report::micros(p99.as_secs_f64() * 1e6),
                report::micros(gap.as_secs_f64() * 1e6),
                crate::setting::Setting::Connections,
                crate::setting::Setting::Threads,
            ));
        }
    }
    let sent = total.done as f64 / opts.duration.as_secs_f64().max(f64::MIN_POSITIVE);
    if total.done > 0 && sent < 0.9 * rate {
        notes.push(crate::words!(
            "the rate was not reached: {} of {} msgs/s asked (the server, or the bench, is \
             slower than that)",
            report::group(sent),
            report::group(rate)
        ));
    }
    notes
}

/// A rate so low that each connection's gap between messages is longer
/// than the measured time leaves connections that send once or never.
pub(super) fn rate_notes(opts: &Options) -> Vec<crate::setting::Words> {
    let Some(rate) = opts.rate else {
        return Vec::new();
    };
    let gap = Duration::from_secs_f64(opts.connections as f64 / rate);
    if gap <= opts.duration {
        return Vec::new();
    }
    vec![crate::words!(
        "at {} msgs/s over {} connections each sends once every {}, longer than the {} \
         measured: fewer connections ({}) or a longer {} measure it better",
        report::group(rate),
        opts.connections,
        humantime::format_duration(round_ms(gap)),
        humantime::format_duration(opts.duration),
        crate::setting::Setting::Connections,
        crate::setting::Setting::Duration
    )]
}

/// A duration to the millisecond, for messages.
fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `--start-at`: the window started later than asked, because the
/// connections were still opening at that time (a note for the report).
pub(super) fn late_start(
    opts: &Options,
    window_start: std::time::SystemTime,
) -> Option<crate::setting::Words> {
    let late = window_start.duration_since(opts.start_at?).ok()?;
    (late > LATE_START).then(|| {
        crate::words!(
            "the time asked had passed when the connections were open, so the window started \
             {} late: ask a later {}, or open fewer {}",
            report::micros(late.as_secs_f64() * 1e6),
            crate::setting::Setting::StartAt,
            crate::setting::Setting::Connections
        )
    })
}

/// Later than this after the asked time is late: more than a wake-up's
/// and a thread's start.
const LATE_START: Duration = Duration::from_millis(100);

/// `--start-at`: the connections, open, will wait idle longer than a
/// server's idle timeout (tcpkit serve closes idle clients after 300 s by
/// default) until the warm-up before the asked time: a warning to give
/// before the wait, not after a run full of closed connections.
pub(super) fn idle_wait(opts: &Options) -> Option<crate::setting::Words> {
    let at = opts.start_at?;
    let wait = at
        .checked_sub(opts.warmup)?
        .duration_since(std::time::SystemTime::now())
        .ok()?;
    (wait >= crate::server::DEFAULT_IDLE_TIMEOUT).then(|| {
        crate::words!(
            "the connections are open and will wait {} idle for the time asked: longer than a \
             server's idle timeout ({} for tcpkit serve unless --idle-timeout says otherwise), \
             which would close them first",
            humantime::format_duration(Duration::from_secs(wait.as_secs())),
            humantime::format_duration(crate::server::DEFAULT_IDLE_TIMEOUT)
        )
    })
}
