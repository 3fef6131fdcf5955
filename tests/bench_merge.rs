//! Runs that add up: `bench --hdr-log` writes an interval log that
//! HdrHistogram's readers take, the JSON report carries the whole run's
//! totals and its histograms, and `bench merge` of runs made side by side
//! equals what the server itself counted, to the message.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{Proc, Then, flaky_server, num, serve_with_metrics, settled_metric, tcpkit};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde_json::Value;

/// `tcpkit bench ARGS` started (not waited for).
fn start_bench(args: &[&str]) -> std::process::Child {
    Command::new(tcpkit())
        .arg("bench")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bench starts")
}

/// Its exit code, stdout and stderr.
fn finish(child: std::process::Child) -> (i32, String, String) {
    let out = child.wait_with_output().expect("bench ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn runs_side_by_side_merge_to_the_servers_own_counts() {
    let (server, metrics) = serve_with_metrics();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A pipeline always has replies in flight when the window ends: they
    // are read before the bench closes, so the server counts no more.
    // One time for all, as on several machines (a relative one would
    // differ by each process's start).
    let at = humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_millis(1500));
    let at = at.to_string();
    let shapes = [
        ["-c", "3", "--depth", "16"],
        ["-c", "2", "--depth", "64"],
        ["-c", "1", "--depth", "1"],
    ];
    let children: Vec<_> = shapes
        .iter()
        .map(|shape| {
            let mut args = vec!["pipeline", addr.as_str()];
            args.extend(shape);
            args.extend([
                "-d",
                "1s",
                "--warmup",
                "200ms",
                "--start-at",
                &at,
                "--json",
                "-t",
                "1",
            ]);
            start_bench(&args)
        })
        .collect();
    let mut files = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let (code, stdout, stderr) = finish(child);
        assert_eq!(code, 0, "{stderr}");
        let path = dir.path().join(format!("run{i}.json"));
        std::fs::write(&path, stdout).expect("write the report");
        files.push(path);
    }
    let reports: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_slice(&std::fs::read(f).expect("read")).expect("JSON"))
        .collect();
    let merged = Command::new(tcpkit())
        .args(["bench", "merge", "--json"])
        .args(&files)
        .output()
        .expect("merge runs");
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let merged: Value = serde_json::from_slice(&merged.stdout).expect("merged JSON");
    let total = |key: &str| num(&merged["totals"], key);
    assert_eq!(total("unanswered"), 0, "{merged}");
    assert_eq!(
        total("replies"),
        settled_metric(metrics, "tcpkit_messages_total")
    );
    assert_eq!(
        total("connections"),
        settled_metric(metrics, "tcpkit_connections_accepted_total")
    );
    // The window's counts are the runs' sums; the rate is over the union.
    let sum = |key: &str| reports.iter().map(|r| num(r, key)).sum::<u64>();
    for key in [
        "done",
        "errors",
        "mismatches",
        "bytes_sent",
        "bytes_received",
        "connections",
    ] {
        assert_eq!(num(&merged, key), sum(key), "{key}");
    }
    assert!(
        num(&merged, "bytes_received") > num(&merged, "done"),
        "{merged}"
    );
    let seconds = merged["seconds"].as_f64().expect("seconds");
    assert!((0.99..1.5).contains(&seconds), "{merged}");
    let rate = merged["per_second"].as_f64().expect("rate");
    assert!((rate - num(&merged, "done") as f64 / seconds).abs() < 1e-6);
    let notes = merged["notes"].to_string();
    assert!(notes.contains("merged from 3 runs"), "{notes}");
    assert!(
        !notes.contains("overlap"),
        "windows started together: {notes}"
    );
    drop(server);
}

#[test]
fn the_table_of_a_merge_is_a_runs_table() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (code, stdout, stderr) = finish(start_bench(&[
        "pingpong", &addr, "-c", "2", "-d", "300ms", "--warmup", "0s", "--json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let one = dir.path().join("one.json");
    std::fs::write(&one, &stdout).expect("write");
    let out = Command::new(tcpkit())
        .args(["bench", "merge"])
        .args([&one, &one])
        .output()
        .expect("merge");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(
        table.starts_with(&format!("pingpong against {addr}: 4 connections")),
        "{table}"
    );
    assert!(
        table.contains("throughput") && table.contains("latency     p50"),
        "{table}"
    );
    assert!(
        table.contains("every reply checked byte for byte: no errors"),
        "{table}"
    );
    // A run that saw errors makes the merge a failed run: exit 14, with
    // the first error named by its file.
    let mut failed: Value = serde_json::from_str(&stdout).expect("JSON");
    failed["errors"] = 2.into();
    failed["first_error"] = "reading: connection reset by peer".into();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, failed.to_string()).expect("write");
    let out = Command::new(tcpkit())
        .args(["bench", "merge"])
        .args([&one, &bad])
        .output()
        .expect("merge");
    assert_eq!(out.status.code(), Some(14), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("FAILED      2 errors, 0 wrong replies; first: ")
            && table.contains("bad.json: reading: connection reset by peer"),
        "{table}"
    );
    // A report that is not one is named.
    std::fs::write(&one, "pingpong").expect("write");
    let out = Command::new(tcpkit())
        .args(["bench", "merge"])
        .arg(&one)
        .output()
        .expect("merge");
    assert_eq!(out.status.code(), Some(2), "usage: {out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("one.json is not a bench report of this tcpkit"),
        "{said}"
    );
}

#[test]
fn the_hdr_log_holds_every_reply_of_the_window_by_the_second() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("run.hlog");
    let log_arg = log.to_str().expect("a UTF-8 path");
    let (code, stdout, stderr) = finish(start_bench(&[
        "pipeline",
        &addr,
        "-c",
        "2",
        "-d",
        "2500ms",
        "--warmup",
        "100ms",
        "--json",
        "--hdr-log",
        log_arg,
    ]));
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    let text = std::fs::read(&log).expect("the log was written");
    let mut start = None;
    let mut intervals = Vec::new();
    for entry in IntervalLogIterator::new(&text) {
        match entry.expect("a line HdrHistogram's reader takes") {
            LogEntry::StartTime(at) => start = Some(at.as_secs_f64()),
            LogEntry::BaseTime(_) => {}
            LogEntry::Interval(h) => {
                assert_eq!(h.tag().map(|t| t.as_str()), Some("latency"));
                let bytes = base64_decode(h.encoded_histogram());
                let histogram: hdrhistogram::Histogram<u64> = Deserializer::new()
                    .deserialize(&mut &bytes[..])
                    .expect("a histogram");
                intervals.push((h.start_timestamp().as_secs_f64(), histogram));
            }
        }
    }
    // 2.5 s in intervals of a second: three, from the window's start.
    let starts: Vec<f64> = intervals.iter().map(|(at, _)| *at).collect();
    assert_eq!(
        starts,
        [0.0, 1.0, 2.0],
        "{}",
        String::from_utf8_lossy(&text)
    );
    let window_start = report["window_start_unix"].as_f64().expect("window start");
    assert!(
        (start.expect("a StartTime") - window_start).abs() < 0.002,
        "{start:?} {window_start}"
    );
    let counted: u64 = intervals.iter().map(|(_, h)| h.len()).sum();
    assert_eq!(counted, num(&report, "done"));
    // The intervals add up to the report's own histogram.
    let mut all = hdrhistogram::Histogram::<u64>::new(3).expect("a histogram");
    all.auto(true);
    for (_, h) in &intervals {
        all.add(h).expect("add");
    }
    let whole = base64_decode(report["histograms"]["latency"].as_str().expect("encoded"));
    let whole: hdrhistogram::Histogram<u64> = Deserializer::new()
        .deserialize(&mut &whole[..])
        .expect("a histogram");
    assert_eq!(all, whole);
}

#[test]
fn an_hdr_log_that_cannot_be_written_fails_before_the_run() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let began = std::time::Instant::now();
    let (code, _, stderr) = finish(start_bench(&[
        "pingpong",
        &addr,
        "-d",
        "20s",
        "--hdr-log",
        "/nonexistent/dir/run.hlog",
    ]));
    assert_eq!(code, 13, "a local file: {stderr}");
    assert!(
        stderr.contains("cannot write --hdr-log /nonexistent/dir/run.hlog"),
        "{stderr}"
    );
    assert!(
        began.elapsed() < std::time::Duration::from_secs(10),
        "it ran first"
    );
    // Made before the run, and removed again when the run fails: no
    // empty log is left to look like a result.
    drop(server);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("run.hlog");
    let (code, _, stderr) = finish(start_bench(&[
        "pingpong",
        &addr,
        "--hdr-log",
        log.to_str().expect("UTF-8"),
    ]));
    assert_eq!(code, 6, "no server: {stderr}");
    assert!(!log.exists(), "the log of a failed run was left");
}

#[test]
fn replies_still_out_when_the_drain_gives_up_are_counted_and_said() {
    // Each connection's first message is answered, then none (the next
    // takes its place, so 3 stay out each): the window (1 s) ends before
    // the patience (2 s), so there is no error in it, and the drain after
    // it gives up after the patience.
    let addr = flaky_server(1, Then::Stall).to_string();
    let began = std::time::Instant::now();
    let (code, stdout, stderr) = finish(start_bench(&[
        "pipeline",
        &addr,
        "-c",
        "2",
        "--depth",
        "3",
        "-d",
        "1s",
        "--warmup",
        "0s",
        "--timeout",
        "2s",
        "--json",
    ]));
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "errors"), 0, "{report}");
    assert_eq!(num(&report, "done"), 2, "{report}");
    assert_eq!(num(&report["totals"], "unanswered"), 6, "{report}");
    assert_eq!(
        num(&report["totals"], "replies"),
        3,
        "with the preflight's: {report}"
    );
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("6 messages were still unanswered 2s after the measured window"),
        "{notes}"
    );
    assert!(
        began.elapsed() < std::time::Duration::from_secs(8),
        "the drain is bounded"
    );
}

/// Standard base64, as HdrHistogram's logs write histograms.
fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}
