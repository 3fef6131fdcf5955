//! `tcpkit bench` against real servers on 127.0.0.1 port 0: tcpkit serve
//! (as a child process) and the tutorial's own Python server. Short runs:
//! these check behaviour (counts, checks, exit codes), never speed.

mod common;

use std::process::Command;

use common::{Proc, peer, require, tcpkit};
use serde_json::Value;

/// Runs `tcpkit bench ARGS... --json` briefly; returns exit code, report, stderr.
fn bench(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(tcpkit())
        .arg("bench")
        .args(args)
        .args(["--json", "--warmup", "100ms", "--threads", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// Starts `tcpkit serve SERVE_ARGS` on port 0, then runs
/// `bench SCENARIO ADDR ARGS...` against it.
fn against(serve_args: &[&str], scenario: &str, args: &[&str]) -> (Proc, i32, Value, String) {
    let mut serve = vec!["--bind", "127.0.0.1:0"];
    serve.extend(serve_args);
    let server = Proc::serve(&serve);
    let addr = server.addr.to_string();
    let mut all = vec![scenario, addr.as_str()];
    all.extend(args);
    let (code, report, stderr) = bench(&all);
    (server, code, report, stderr)
}

fn num(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

#[test]
fn pingpong_and_pipeline_check_every_reply() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let pid = server.child.id().to_string();
    for args in [
        vec!["pingpong", &addr, "-c", "4", "--duration", "300ms"],
        vec![
            "pipeline",
            &addr,
            "-c",
            "3",
            "-d",
            "16",
            "--duration",
            "300ms",
        ],
    ] {
        let mut args = args.clone();
        args.extend(["--server-pid", &pid]);
        let (code, report, stderr) = bench(&args);
        assert_eq!(code, 0, "{stderr}");
        assert!(num(&report, "done") > 0, "{report}");
        assert_eq!((num(&report, "errors"), num(&report, "mismatches")), (0, 0));
        assert!(report["latency_us"]["p99"].as_f64().unwrap() > 0.0);
        assert!(
            report["server_cpu_ns_per_unit"].as_f64().is_some(),
            "{report}"
        );
    }
}

#[test]
fn open_loop_never_sends_ahead_of_its_schedule() {
    let args = ["-c", "2", "--rate", "200", "--duration", "500ms"];
    let (_server, code, report, stderr) = against(&[], "pingpong", &args);
    assert_eq!(code, 0, "{stderr}");
    // 200/s for 0.6 s in all (warm-up included) is at most 122 messages,
    // of which only those in the measured 0.5 s are counted.
    let done = num(&report, "done");
    assert!(
        (1..=102).contains(&done),
        "{done} replies at 200/s in 0.5 s"
    );
    assert_eq!(report["rate"].as_f64(), Some(200.0));
}

#[test]
fn churn_runs_whole_sessions() {
    let args = ["-c", "8", "--duration", "300ms"];
    let (server, code, report, stderr) = against(&[], "churn", &args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["unit"], "sessions");
    assert!(num(&report, "done") > 0);
    assert!(server.logged("(client sent exit, 3 messages)"));
}

#[test]
fn hold_reports_memory_and_samples() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let (code, report, stderr) = bench(&[
        "hold",
        &server.addr.to_string(),
        "-c",
        "300",
        "--duration",
        "100ms",
        "--sample",
        "10",
        "--server-pid",
        &server.child.id().to_string(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "done"), 300);
    assert_eq!(
        (num(&report, "sampled"), num(&report, "sampled_ok")),
        (10, 10)
    );
    assert!(report["server_rss_per_connection"].as_f64().is_some());
}

#[test]
fn a_server_with_another_reply_is_refused_before_the_run() {
    let args = ["-c", "2", "--duration", "200ms"];
    let (_server, code, report, stderr) = against(&["--reply", "Hi, {}!"], "pipeline", &args);
    assert_eq!(code, 14, "{stderr}");
    assert!(report.is_null(), "no run, so no report");
    assert!(stderr.contains("before the run"), "{stderr}");
    assert!(
        stderr.contains("expected \"Hello, Michael-0!\\n\""),
        "{stderr}"
    );
}

#[test]
fn a_reply_gone_wrong_mid_run_fails_loudly() {
    // Right for the first 50 replies of each connection, then one byte off.
    require("python3");
    let mut cmd = Command::new("python3");
    cmd.arg(peer("drifting_server.py")).arg("50");
    let server = Proc::start(cmd, false);
    let args = ["pipeline", &server.addr.to_string(), "-c", "2", "-d", "4"];
    let (code, report, stderr) = bench(&[&args[..], &["--duration", "300ms"]].concat());
    assert_eq!(code, 14, "{stderr}");
    assert_eq!(
        num(&report, "mismatches"),
        2,
        "one per connection: {report}"
    );
    assert!(stderr.contains("got \"Hello, Michael-"), "{stderr}");
    assert!(stderr.contains("?\\n"), "{stderr}");
}

#[test]
fn a_reply_later_than_the_timeout_is_an_error() {
    let args = ["-c", "1", "--timeout", "300ms", "--duration", "200ms"];
    let (_server, code, _, stderr) = against(&["--delay", "2s"], "pingpong", &args);
    assert_eq!(code, 14, "{stderr}");
    assert!(
        stderr.contains("the reply did not come in time"),
        "{stderr}"
    );
}

#[test]
fn no_server_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, stderr) = bench(&["churn", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, 6, "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
}

#[test]
fn a_server_that_closes_is_an_error() {
    // Messages longer than --max-message make the server close.
    let args = ["-c", "2", "--duration", "200ms"];
    let (_server, code, _, stderr) = against(&["--max-message", "4"], "pingpong", &args);
    assert_eq!(code, 14, "{stderr}");
}

#[test]
fn chunk_framing_against_the_tutorials_own_server() {
    require("python3");
    let mut cmd = Command::new("python3");
    cmd.arg(peer("tutorial_server.py")).args(["0", "0"]);
    let server = Proc::start(cmd, false);
    let addr = server.addr.to_string();
    for scenario in ["pingpong", "churn"] {
        let (code, report, stderr) = bench(&[
            scenario,
            &addr,
            "--framing",
            "chunk",
            "-c",
            "2",
            "--duration",
            "300ms",
        ]);
        assert_eq!(code, 0, "{scenario}: {stderr}");
        assert!(num(&report, "done") > 0, "{scenario}: {report}");
    }
}

#[test]
fn impossible_requests_are_usage_errors() {
    let (code, _, stderr) = bench(&["pipeline", "127.0.0.1:9", "--framing", "chunk"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("pipeline needs --framing line"), "{stderr}");
    let (code, _, stderr) = bench(&["hold", "127.0.0.1:9", "-c", "100000"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("open files"), "{stderr}");
}
