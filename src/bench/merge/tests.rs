//! bench merge adds runs up exactly: percentiles of one histogram holding
//! every sample, counts summed, rates over the union of the windows.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::bench::report::{Tally, tests::sample};

/// A run's report holding `tally`, measured from `start` for `seconds`,
/// gone through its JSON and back, as `bench merge` reads it.
fn run(tally: Tally, start: f64, seconds: f64) -> Report {
    let mut report = sample();
    report.done = tally.done;
    report.seconds = seconds;
    report.window_start_unix = start;
    report.window_end_unix = start + seconds;
    report.latency_us = Latency::of(&tally.latency);
    report.recorded = Recorded::of(tally, start);
    let text = serde_json::to_string(&report).expect("a report serializes");
    from_json(&text).expect("and reads back")
}

fn tally_of(samples: &[u64]) -> Tally {
    let mut tally = Tally::default();
    for &ns in samples {
        tally.record(Duration::from_nanos(ns), 1, Duration::ZERO);
        tally.bytes(7, 13);
    }
    tally.answered = samples.len() as u64;
    tally
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// However the samples were split between runs, the merged percentiles
    /// are those of one histogram holding them all, exactly.
    #[test]
    fn merged_percentiles_are_those_of_every_sample(
        samples in proptest::collection::vec(1u64..60_000_000_000, 1..3000),
        sides in proptest::collection::vec(0usize..3, 1..64),
    ) {
        let mut parts = [Vec::new(), Vec::new(), Vec::new()];
        for (i, &ns) in samples.iter().enumerate() {
            parts[sides[i % sides.len()]].push(ns);
        }
        let runs: Vec<(String, Report)> = parts
            .iter()
            .enumerate()
            .map(|(i, part)| (format!("run{i}.json"), run(tally_of(part), 100.0, 10.0)))
            .collect();
        let merged = merge(&runs).expect("runs of one scenario merge");
        let whole = tally_of(&samples);
        prop_assert_eq!(merged.latency_us, Latency::of(&whole.latency));
        prop_assert_eq!(merged.recorded.histograms.latency.as_ref(), Some(&whole.latency));
        prop_assert_eq!(merged.done, samples.len() as u64);
        prop_assert_eq!(merged.recorded.totals.replies, samples.len() as u64);
        prop_assert_eq!(merged.recorded.bytes_sent, 7 * samples.len() as u64);
        prop_assert_eq!(merged.recorded.bytes_received, 13 * samples.len() as u64);
        prop_assert_eq!(merged.seconds, 10.0);
        prop_assert_eq!(merged.per_second, samples.len() as f64 / 10.0);
    }

    /// Two runs of the same histogram merge to that histogram's
    /// percentiles, each count doubled.
    #[test]
    fn two_runs_of_one_histogram_merge_to_its_percentiles(
        samples in proptest::collection::vec(1u64..60_000_000_000, 1..3000),
    ) {
        let one = run(tally_of(&samples), 100.0, 10.0);
        let merged = merge(&[("a".into(), one.clone()), ("b".into(), one.clone())])
            .expect("merge");
        prop_assert_eq!(&merged.latency_us, &one.latency_us);
        prop_assert_eq!(merged.done, 2 * one.done);
    }
}

#[test]
fn rates_are_over_the_union_of_the_windows_and_gaps_are_said() {
    let runs = vec![
        (
            "a.json".to_string(),
            run(tally_of(&[1000; 10]), 100.0, 10.0),
        ),
        (
            "b.json".to_string(),
            run(tally_of(&[2000; 10]), 105.0, 10.0),
        ),
        ("c.json".to_string(), run(tally_of(&[3000; 10]), 120.0, 5.0)),
    ];
    let merged = merge(&runs).expect("merge");
    // 100-115 and 120-125: 20 s in all, 5 s between.
    assert_eq!(merged.seconds, 20.0);
    assert_eq!(merged.per_second, 30.0 / 20.0);
    let notes: Vec<String> = merged
        .notes
        .iter()
        .map(|n| n.render(crate::setting::Naming::Flags))
        .collect();
    assert_eq!(notes[0], "merged from 3 runs: a.json, b.json, c.json");
    assert!(
        notes[1].contains("do not overlap (c.json began 5.000 s after the runs before it ended)"),
        "{notes:?}"
    );
    // Overlapping in part only: said, with the flag that fixes it.
    let merged = merge(&runs[..2]).expect("merge");
    assert_eq!(merged.seconds, 15.0);
    let said = merged.notes[1].render(crate::setting::Naming::Flags);
    assert!(
        said.contains("overlap for 5.000 s of the 15.000 s") && said.contains("--start-at"),
        "{said}"
    );
    // Holds begin once their own connections are open: said, and with no
    // --start-at, which hold does not take.
    let mut holds = runs[..2].to_vec();
    for (_, run) in &mut holds {
        run.scenario = "hold".into();
        run.rate = None;
    }
    let said = merge(&holds).expect("merge").notes[1].render(crate::setting::Naming::Flags);
    assert!(
        said.contains("held their connections all together for 5.000 s of the 15.000 s")
            && !said.contains("--start-at"),
        "{said}"
    );
    // Many runs: the first four named, the rest counted.
    let many: Vec<(String, Report)> = (0..6)
        .map(|i| (format!("r{i}"), runs[0].1.clone()))
        .collect();
    let said = merge(&many).expect("merge").notes[0].render(crate::setting::Naming::Flags);
    assert_eq!(said, "merged from 6 runs: r0, r1, r2, r3, 2 more");
    // The same window: nothing to say of it.
    let same = merge(&[runs[0].clone(), runs[0].clone()]).expect("merge");
    assert_eq!(same.seconds, 10.0);
    assert!(
        !same
            .notes
            .iter()
            .any(|n| n.render(crate::setting::Naming::Flags).contains("overlap"))
    );
}

#[test]
fn runs_of_different_scenarios_or_loops_are_refused() {
    let a = run(tally_of(&[1000]), 100.0, 10.0);
    let mut churn = a.clone();
    churn.scenario = "churn".into();
    churn.unit = "sessions".into();
    let refused = merge(&[("a".into(), a.clone()), ("c".into(), churn)]).expect_err("refused");
    assert!(
        refused
            .to_string()
            .contains("c is a churn run and a a pingpong run"),
        "{refused}"
    );
    // Times no clock shows, or a window backwards: said, never a panic.
    for (field, value) in [
        ("start", f64::INFINITY),
        ("start", -1.0),
        ("asked", 1e300),
        ("end", 50.0),
    ] {
        let mut odd = a.clone();
        match field {
            "start" => odd.window_start_unix = value,
            "asked" => odd.start_at_unix = Some(value),
            _ => odd.window_end_unix = value,
        }
        let refused = merge(&[("a".into(), a.clone()), ("odd".into(), odd)]).expect_err("refused");
        assert!(refused.to_string().starts_with("odd"), "{field}: {refused}");
    }
    let mut closed = a.clone();
    closed.rate = None;
    let refused = merge(&[("a".into(), a), ("b".into(), closed)]).expect_err("refused");
    assert!(refused.to_string().contains("open loop"), "{refused}");
}

#[test]
fn a_file_that_is_no_report_is_named_and_so_is_one_too_large() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("r.json");
    std::fs::write(&path, "{\"scenario\": \"pingpong\"}").expect("write");
    let refused = read(&path).expect_err("not a report");
    assert!(
        refused
            .to_string()
            .contains("is not a bench report of this tcpkit (missing field"),
        "{refused}"
    );
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(MAX_REPORT_FILE + 1).expect("grow");
    let refused = read(&path).expect_err("too large");
    assert!(
        refused.to_string().contains("larger than 16 MiB"),
        "{refused}"
    );
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(MAX_REPORT_FILE).expect("at the limit");
    let refused = read(&path).expect_err("zeros are no report");
    assert!(!refused.to_string().contains("larger than"), "{refused}");
    let refused = read(&dir.path().join("none.json")).expect_err("missing");
    assert!(
        refused.to_string().contains("cannot read the report"),
        "{refused}"
    );
}

#[test]
fn a_merge_that_measured_nothing_says_so_not_zero_errors() {
    let empty = run(Tally::default(), 100.0, 10.0);
    let merged = merge(&[("a".into(), empty.clone()), ("b".into(), empty)]).expect("merge");
    let said = verdict(&merged).expect_err("nothing measured").to_string();
    assert!(said.contains("completed no replies"), "{said}");
    let one = run(tally_of(&[1000]), 100.0, 10.0);
    assert!(verdict(&merge(&[("a".into(), one)]).expect("merge")).is_ok());
}

#[test]
fn words_read_from_a_file_cannot_carry_escapes() {
    let mut hostile = run(tally_of(&[1000]), 100.0, 10.0);
    hostile.server = "\u{1b}]0;pwned\u{7}".into();
    hostile.notes = vec!["\u{1b}[2J\nnote\u{9b}".into()];
    hostile.first_error = Some("\u{1b}[31mred".into());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("r.json");
    std::fs::write(&path, serde_json::to_string(&hostile).expect("JSON")).expect("write");
    let read = read(&path).expect("a report");
    let flags = crate::setting::Naming::Flags;
    assert_eq!(read.server, r"\x1b]0;pwned\x07");
    assert_eq!(read.notes[0].render(flags), r"\x1b[2J\x0anote\u{9b}");
    assert_eq!(
        read.first_error.map(|e| e.render(flags)),
        Some(r"\x1b[31mred".into())
    );
}

#[test]
fn asked_starts_apart_or_missing_are_said_and_holds_rate_their_openings() {
    let flags = crate::setting::Naming::Flags;
    let said = |runs: &[(String, Report)]| -> String {
        let merged = merge(runs).expect("merge");
        let notes: Vec<String> = merged.notes.iter().map(|n| n.render(flags)).collect();
        notes.join(" | ")
    };
    let a = run(tally_of(&[1000]), 100.0, 10.0);
    let mut late = a.clone();
    late.start_at_unix = a.start_at_unix.map(|t| t + 0.25);
    assert!(
        said(&[("a".into(), a.clone()), ("b".into(), late.clone())])
            .contains("asked to start up to 0.250 s apart"),
    );
    // Within the launch of one command: one time.
    let mut near = a.clone();
    near.start_at_unix = a.start_at_unix.map(|t| t + 0.05);
    assert!(!said(&[("a".into(), a.clone()), ("b".into(), near)]).contains("apart"));
    let mut none = a.clone();
    none.start_at_unix = None;
    assert!(
        said(&[("a".into(), a.clone()), ("b".into(), none)])
            .contains("1 of the 2 runs were given no --start-at")
    );
    // hold: connections opened over the longest opening.
    let mut holds = [a.clone(), a];
    for (hold, opening) in holds.iter_mut().zip([2.0, 4.0]) {
        hold.scenario = "hold".into();
        hold.rate = None;
        hold.done = 1000;
        hold.open_seconds = Some(opening);
    }
    let merged = merge(&[
        ("h1".into(), holds[0].clone()),
        ("h2".into(), holds[1].clone()),
    ])
    .expect("merge");
    assert_eq!(merged.open_seconds, Some(4.0));
    assert_eq!(merged.per_second, 2000.0 / 4.0);
}
