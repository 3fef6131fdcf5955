//! Peer tier: bench's open loop and serve's `--delay` keep their times,
//! checked against an independent open-loop client (`tests/peers/
//! openloop.py`: Python, busy-waiting on `time.perf_counter` for each
//! due time, a blocking read for the reply). One test in a binary of its
//! own, so nothing else runs beside it and the times are the programs'.

#![cfg(unix)]

mod common;

use std::process::Command;

use common::{Proc, peer, require, tcpkit};

/// `bench pingpong ADDR ARGS... --json`: the report.
fn bench(addr: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(tcpkit())
        .args(["bench", "pingpong", addr, "--json", "--warmup", "300ms"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn p50(report: &serde_json::Value, key: &str) -> f64 {
    report[key]["p50"]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

/// The Python client's p50 in microseconds at `rate` for `seconds`.
fn python_p50(addr: &Proc, rate: &str, seconds: &str) -> f64 {
    let out = Command::new("python3")
        .arg(peer("openloop.py"))
        .args([
            &addr.addr.ip().to_string(),
            &addr.addr.port().to_string(),
            rate,
            seconds,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn open_loop_times_are_the_servers_and_agree_with_an_independent_client() {
    require("python3");
    // --delay 10ms, 100 msgs/s over 10 connections (each every 100 ms):
    // the reply comes 10 ms after its due time, not a timer tick later.
    let slow = Proc::serve(&["--bind", "127.0.0.1:0", "--delay", "10ms"]);
    let report = bench(
        &slow.addr.to_string(),
        &["-c", "10", "-R", "100", "-d", "2s"],
    );
    let latency = p50(&report, "latency_us");
    assert!(
        (10_000.0..=10_500.0).contains(&latency),
        "p50 {latency}us against --delay 10ms: {report}"
    );
    // The bench leaves on time: well under the timer's millisecond.
    let late = p50(&report, "send_lateness_us");
    assert!(late < 200.0, "sent {late}us late: {report}");
    // The independent client sees the same delay (one connection, every
    // 20 ms, 100 samples; its own overhead, and Python's, is a few hundred
    // microseconds: the timer alone made it 11.3 ms).
    let python = python_p50(&slow, "50", "2");
    assert!(
        (10_000.0..=10_800.0).contains(&python),
        "the Python client measured {python}us"
    );

    // A plain server, one connection: tcpkit and the Python client agree
    // at 1,000 msgs/s, the bench at most 30 % above Python; each runs five
    // times, in turn, and the middle run counts (a loopback p50 of tens of
    // microseconds moves with the machine's other work). Below, the bound
    // leaves room for Python's own work per message, which its figure
    // includes: on a quiet machine the two read the same (106 and 106 µs),
    // but a clean-clone CI run measured 65.5 against Python's 87.4 (0.75).
    let fast = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        ours.push(p50(
            &bench(
                &fast.addr.to_string(),
                &["-c", "1", "-R", "1000", "-d", "1s"],
            ),
            "latency_us",
        ));
        theirs.push(python_p50(&fast, "1000", "1"));
    }
    let middle = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ours, theirs) = (middle(&mut ours), middle(&mut theirs));
    let ratio = ours / theirs;
    eprintln!(
        "--delay 10ms: bench p50 {latency}us (sent {late}us late), Python {python}us; \
         1,000/s: bench p50 {ours}us, Python {theirs}us"
    );
    assert!(
        (1.0 / 1.5..=1.3).contains(&ratio),
        "bench p50 {ours}us, Python's {theirs}us"
    );
}
