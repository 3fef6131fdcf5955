//! What the reader of a report should know about how the run was set up: a
//! rate too low for the run's length, or a schedule the bench itself did not
//! keep.

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
