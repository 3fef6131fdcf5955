//! `tcpkit bench merge`: the reports of runs made side by side (on one
//! machine or many) added up into the report one run would print.
//!
//! Exactly: the counts and bytes are sums, the percentiles are read from
//! one histogram holding every run's samples (the reports carry their
//! histograms), and the rates are over the union of the runs' measured
//! windows. What cannot be added up honestly (each run's own server CPU
//! or memory figure) is left out and said to be.

use crate::error::Error;
use crate::setting::Words;

use super::Report;
use super::report::{Latency, Recorded, nanos};

/// The largest report file read: a report with its histograms is a few
/// kilobytes; this bounds what a wrong file name can load.
pub const MAX_REPORT_FILE: u64 = 16 * 1024 * 1024;

/// The report in `path`, as `bench --json` wrote it.
#[cfg(feature = "serde")]
pub fn read(path: &std::path::Path) -> Result<Report, Error> {
    use std::io::Read as _;
    let shown = path.display();
    let unreadable = |e| Error::local_file(crate::words!("cannot read the report {shown}"), e);
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut text = String::new();
    file.take(MAX_REPORT_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => Error::InvalidInput(crate::words!(
                "{shown} is not a bench report: it is not text (bench --json writes one)"
            )),
            _ => unreadable(e),
        })?;
    if text.len() as u64 > MAX_REPORT_FILE {
        return Err(Error::InvalidInput(crate::words!(
            "{shown} is larger than 16 MiB: not a bench report (one is a few kilobytes)"
        )));
    }
    let report = from_json(&text).map_err(|why| {
        Error::InvalidInput(crate::words!(
            "{shown} is not a bench report of this tcpkit ({why}): bench --json writes one"
        ))
    })?;
    Ok(defused(report))
}

/// A report read from a file, its words made harmless to show: a file
/// that says escapes where words go cannot drive the terminal the table or
/// the final error is shown on.
#[cfg(feature = "serde")]
fn defused(mut report: Report) -> Report {
    use crate::term::safe_text;
    let words = |w: &Words| Words::plain(safe_text(&w.render(crate::Naming::Fields)));
    for text in [&mut report.scenario, &mut report.server, &mut report.unit]
        .into_iter()
        .chain(report.servers.iter_mut())
    {
        *text = safe_text(text);
    }
    report.notes = report.notes.iter().map(words).collect();
    report.first_error = report.first_error.as_ref().map(words);
    report
}

/// The reports in `paths`, added up (`bench merge FILE...`).
#[cfg(feature = "serde")]
pub fn files(paths: &[std::path::PathBuf]) -> Result<Report, Error> {
    let mut runs = Vec::with_capacity(paths.len());
    for path in paths {
        runs.push((path.display().to_string(), read(path)?));
    }
    merge(&runs)
}

/// A merged report as a verdict: `Ok` when no run saw an error or a wrong
/// reply, and some run measured something.
pub fn verdict(report: &Report) -> Result<(), Error> {
    if report.clean() {
        return Ok(());
    }
    if report.errors == 0 && report.mismatches == 0 {
        return Err(Error::BenchFailed(crate::words!(
            "the merged runs completed no {} in their windows",
            report.unit
        )));
    }
    Err(Error::BenchFailed(crate::words!(
        "the merged runs saw {} errors and {} wrong replies{}",
        report.errors,
        report.mismatches,
        report
            .first_error
            .as_ref()
            .map(|e| crate::words!("; first: {}", e))
            .unwrap_or_default()
    )))
}

/// A report from `bench --json`'s text.
#[cfg(feature = "serde")]
pub fn from_json(text: &str) -> Result<Report, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Runs named in the merged report's first note; the rest are counted.
const NAMED: usize = 4;

/// Asked start times closer than this are one time: `--start-at +30s`
/// given to benches started by one command differs by their launch.
const SAME_START: f64 = 0.1;

/// The runs' reports, each named (by its file), added up.
pub fn merge(runs: &[(String, Report)]) -> Result<Report, Error> {
    let Some((first_name, first)) = runs.first() else {
        return Err(Error::InvalidInput("no report to merge".into()));
    };
    for (name, run) in runs {
        if run.scenario != first.scenario || run.unit != first.unit {
            return Err(Error::InvalidInput(crate::words!(
                "{name} is a {} run and {first_name} a {} run: only runs of one scenario add up",
                run.scenario,
                first.scenario
            )));
        }
        check_times(name, run)?;
        if run.rate.is_some() != first.rate.is_some() {
            return Err(Error::InvalidInput(crate::words!(
                "{name} and {first_name}: one ran an open loop (--rate) and the other did not, \
                 so their latencies mean different things"
            )));
        }
    }
    let (seconds, mut notes) = windows(runs);
    let sum = |f: fn(&Report) -> u64| runs.iter().map(|(_, r)| f(r)).sum::<u64>();
    let done = sum(|r| r.done);
    let recorded = recorded(runs)?;
    let mut servers: Vec<String> = Vec::new();
    for server in runs.iter().flat_map(|(_, r)| &r.servers) {
        if !servers.contains(server) {
            servers.push(server.clone());
        }
    }
    let open_seconds = runs
        .iter()
        .filter_map(|(_, r)| r.open_seconds)
        .reduce(f64::max);
    let per_second = match open_seconds {
        // hold: connections opened over the longest opening.
        Some(opening) => done as f64 / opening.max(1e-9),
        None => done as f64 / seconds.max(1e-9),
    };
    let optional = |f: fn(&Report) -> Option<usize>| {
        runs.iter().filter_map(|(_, r)| f(r)).reduce(|a, b| a + b)
    };
    notes.extend(unmerged(runs));
    let start_at = runs
        .iter()
        .map(|(_, r)| r.start_at_unix)
        .collect::<Vec<_>>();
    Ok(Report {
        scenario: first.scenario.clone(),
        server: servers.join(", "),
        servers,
        connections: runs.iter().map(|(_, r)| r.connections).sum(),
        depth: runs.iter().map(|(_, r)| r.depth).max().unwrap_or(1),
        rate: first
            .rate
            .map(|_| runs.iter().filter_map(|(_, r)| r.rate).sum()),
        threads: runs.iter().map(|(_, r)| r.threads).sum(),
        seconds,
        unit: first.unit.clone(),
        done,
        per_second,
        errors: sum(|r| r.errors),
        mismatches: sum(|r| r.mismatches),
        first_error: runs.iter().find_map(|(name, r)| {
            r.first_error
                .as_ref()
                .map(|e| crate::words!("{name}: {}", e))
        }),
        latency_us: recorded.histograms.latency.as_ref().and_then(Latency::of),
        send_lateness_us: recorded
            .histograms
            .send_lateness
            .as_ref()
            .and_then(Latency::of),
        server_cpu_ns_per_unit: None,
        bench_cores_busy: runs
            .iter()
            .map(|(_, r)| r.bench_cores_busy.map(|busy| busy * r.seconds))
            .sum::<Option<f64>>()
            .map(|cpu| cpu / seconds.max(1e-9)),
        server_rss_per_connection: None,
        sampled: optional(|r| r.sampled),
        sampled_ok: optional(|r| r.sampled_ok),
        open_seconds,
        notes,
        window_start_unix: runs
            .iter()
            .map(|(_, r)| r.window_start_unix)
            .fold(f64::INFINITY, f64::min),
        window_end_unix: runs
            .iter()
            .map(|(_, r)| r.window_end_unix)
            .fold(f64::NEG_INFINITY, f64::max),
        // The earliest asked, when every run was asked a time.
        start_at_unix: start_at
            .iter()
            .copied()
            .reduce(|a, b| a.zip(b).map(|(a, b)| a.min(b)))
            .flatten(),
        recorded,
    })
}

/// A report's wall-clock times, which a hand-edited file may have wrong:
/// a window that ends before it starts, or a time no clock shows, would
/// make rates and the table's times nonsense.
fn check_times(name: &str, run: &Report) -> Result<(), Error> {
    // From the epoch to the year 2500, in seconds.
    let clock = 0.0..=16_725_225_600.0;
    let times = [
        Some(run.window_start_unix),
        Some(run.window_end_unix),
        run.start_at_unix,
    ];
    if times.iter().flatten().any(|t| !clock.contains(t)) {
        return Err(Error::InvalidInput(crate::words!(
            "{name} holds a time that is not a wall-clock time in seconds since 1970 \
             (window_start_unix, window_end_unix or start_at_unix)"
        )));
    }
    if run.window_end_unix < run.window_start_unix {
        return Err(Error::InvalidInput(crate::words!(
            "{name}'s window ends before it starts (window_end_unix < window_start_unix)"
        )));
    }
    Ok(())
}

/// The bytes and totals summed, the histograms added.
fn recorded(runs: &[(String, Report)]) -> Result<Recorded, Error> {
    let mut out = Recorded::default();
    let add = |into: &mut Option<hdrhistogram::Histogram<u64>>,
               from: &Option<hdrhistogram::Histogram<u64>>,
               name: &str|
     -> Result<(), Error> {
        if let Some(from) = from {
            into.get_or_insert_with(nanos).add(from).map_err(|e| {
                Error::InvalidInput(crate::words!(
                    "{name}'s histogram cannot be added to the others': {e:?}"
                ))
            })?;
        }
        Ok(())
    };
    for (name, run) in runs {
        let theirs = &run.recorded;
        if run.done > 0 && theirs.histograms.latency.is_none() {
            return Err(Error::InvalidInput(crate::words!(
                "{name} counts {} {} but holds no latency histogram to add up",
                run.done,
                run.unit
            )));
        }
        out.bytes_sent += theirs.bytes_sent;
        out.bytes_received += theirs.bytes_received;
        out.totals.connections += theirs.totals.connections;
        out.totals.replies += theirs.totals.replies;
        out.totals.unanswered += theirs.totals.unanswered;
        add(
            &mut out.histograms.latency,
            &theirs.histograms.latency,
            name,
        )?;
        add(
            &mut out.histograms.send_lateness,
            &theirs.histograms.send_lateness,
            name,
        )?;
    }
    Ok(out)
}

/// The length of the union of the runs' measured windows, in seconds,
/// and what to say of how they lie: windows with time between them, or
/// overlapping only in part.
fn windows(runs: &[(String, Report)]) -> (f64, Vec<Words>) {
    // The first few runs by name; the report of fifty is not a list.
    let mut names: Vec<&str> = runs
        .iter()
        .take(NAMED)
        .map(|(name, _)| name.as_str())
        .collect();
    let more = format!("{} more", runs.len().saturating_sub(NAMED));
    if runs.len() > NAMED {
        names.push(&more);
    }
    let mut notes = vec![crate::words!(
        "merged from {} run{}: {}",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        names.join(", ")
    )];
    let mut spans: Vec<(f64, f64, &str)> = runs
        .iter()
        .map(|(name, r)| (r.window_start_unix, r.window_end_unix, name.as_str()))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut union = 0.0;
    let mut gaps = Vec::new();
    let (mut from, mut to) = (spans[0].0, spans[0].1);
    for &(start, end, name) in &spans[1..] {
        if start > to {
            union += to - from;
            gaps.push(format!(
                "{name} began {:.3} s after the runs before it ended",
                start - to
            ));
            (from, to) = (start, end);
        } else {
            to = to.max(end);
        }
    }
    union += to - from;
    let latest_start = spans.iter().map(|s| s.0).fold(f64::NEG_INFINITY, f64::max);
    let earliest_end = spans.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    let common = earliest_end - latest_start;
    // Runs launched together start a wake-up or a process start apart:
    // not said unless the part not shared is more than that.
    let apart = union - common > (0.01 * union).max(SAME_START);
    if !gaps.is_empty() {
        notes.push(crate::words!(
            "the runs' windows do not overlap ({}): the rates are over the {union:.3} s in \
             which any run measured, not a load they made together",
            gaps.join("; ")
        ));
    } else if apart && runs[0].1.scenario == "hold" {
        // A hold's window begins once its own connections are open.
        notes.push(crate::words!(
            "the runs held their connections all together for {common:.3} s of the \
             {union:.3} s they cover (each holds from when its own connections are open)"
        ));
    } else if apart {
        notes.push(crate::words!(
            "the runs' windows overlap for {common:.3} s of the {union:.3} s they cover: the \
             load was not all there all the time (start the runs together with {})",
            crate::setting::Setting::StartAt
        ));
    }
    (union, notes)
}

/// What each run measured on its own that does not add up, said rather
/// than summed; and the runs' own notes, each once.
fn unmerged(runs: &[(String, Report)]) -> Vec<Words> {
    let mut notes: Vec<Words> = Vec::new();
    if runs.iter().any(|(_, r)| r.server_cpu_ns_per_unit.is_some()) {
        notes.push(crate::words!(
            "server CPU per unit is each run's own ({} over its window), and is not added up: \
             see the runs' reports",
            crate::setting::Setting::ServerPid
        ));
    }
    if runs
        .iter()
        .any(|(_, r)| r.server_rss_per_connection.is_some())
    {
        notes.push(
            "server memory per connection is each run's own, and is not added up: see the \
             runs' reports"
                .into(),
        );
    }
    let asked: Vec<f64> = runs.iter().filter_map(|(_, r)| r.start_at_unix).collect();
    let spread = asked.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b))
        - asked.iter().fold(f64::INFINITY, |a, b| a.min(*b));
    if asked.len() < runs.len() && !asked.is_empty() {
        notes.push(crate::words!(
            "{} of the {} runs were given no {}",
            runs.len() - asked.len(),
            runs.len(),
            crate::setting::Setting::StartAt
        ));
    } else if spread > SAME_START {
        notes.push(crate::words!(
            "the runs were asked to start up to {:.3} s apart",
            spread
        ));
    }
    let mut seen: Vec<&Words> = Vec::new();
    for note in runs.iter().flat_map(|(_, r)| &r.notes) {
        if !seen.contains(&note) {
            seen.push(note);
            notes.push(note.clone());
        }
    }
    notes
}

#[cfg(all(test, feature = "serde"))]
mod tests;
