//! Tests of a report's table and of tallies merged across threads.

use super::*;
use std::time::Duration;

#[test]
fn numbers_read_well() {
    assert_eq!(group(12_345_678.9), "12,345,679");
    assert_eq!(group(999.0), "999");
    assert_eq!(micros(850.0), "850us");
    assert_eq!(micros(1250.0), "1.25ms");
    assert_eq!(counted_as(1.0, "replies"), "1 reply");
    assert_eq!(counted_as(0.6, "sessions"), "1 session");
    assert_eq!(counted_as(2.0, "replies"), "2 replies");
    assert_eq!(counted_as(6108.0, "connections"), "6,108 connections");
}

/// A pingpong run's report, for tests to change what they look at.
pub(crate) fn sample() -> Report {
    Report {
        scenario: "pingpong".into(),
        server: "127.0.0.1:9".into(),
        servers: vec!["127.0.0.1:9".into()],
        connections: 1,
        depth: 1,
        rate: Some(1.0),
        threads: 1,
        seconds: 2.0,
        unit: "replies".into(),
        done: 2,
        per_second: 1.0,
        errors: 0,
        mismatches: 0,
        first_error: None,
        latency_us: None,
        send_lateness_us: None,
        server_cpu_ns_per_unit: Some(6108.0),
        bench_cores_busy: None,
        server_rss_per_connection: Some(8890.4),
        sampled: None,
        sampled_ok: None,
        open_seconds: None,
        notes: Vec::new(),
        window_start_unix: 1_796_540_000.0,
        window_end_unix: 1_796_540_002.0,
        start_at_unix: Some(1_796_539_999.999_5),
        recorded: Recorded::default(),
    }
}

#[test]
fn the_table_says_one_reply_and_groups_nanoseconds() {
    let report = sample();
    let table = report.table(crate::setting::Naming::Flags);
    assert!(
        table.contains("throughput  1 reply/s (2 replies)"),
        "{table}"
    );
    assert!(table.contains("server CPU  6,108 ns per reply"), "{table}");
    assert!(
        table.contains("start       500us after the time asked (2026-12-06T06:53:19.999Z)"),
        "{table}"
    );
    assert!(
        table.contains("server RSS  8,890 bytes per held"),
        "{table}"
    );
}

#[test]
fn tallies_merge() {
    let mut a = Tally::default();
    a.record(Duration::from_micros(10), 3, Duration::ZERO);
    let mut b = Tally::default();
    b.record(Duration::from_micros(30), 1, Duration::ZERO);
    b.fail(|| "boom".into());
    a.merge(&b);
    assert_eq!((a.done, a.errors), (4, 1));
    assert_eq!(a.first_error, Some("boom".into()));
    let l = Latency::of(&a.latency).unwrap();
    assert!((l.p50 - 10.0).abs() < 0.1 && (l.max - 30.0).abs() < 0.1);
}

#[test]
fn reads_our_own_process() {
    let s = sample_process(std::process::id()).unwrap();
    assert!(s.rss > 0);
}
