//! `tcpkit bench` against real servers on 127.0.0.1 port 0: tcpkit serve
//! (as a child process) and a flaky server of our own (tests/common); the
//! tutorial's own Python server is in `peers.rs`, the peer tier. Short runs:
//! these check behaviour (counts, checks, exit codes), never speed.

mod common;

use std::process::Command;

use common::{Proc, Then, bench, bench_as_asked, flaky_server, num, tcpkit};
use serde_json::Value;

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
            "--depth",
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
    // The bench's own lateness is reported beside the latency.
    let late = &report["send_lateness_us"];
    for key in ["p50", "p99", "max"] {
        assert!(late[key].as_f64().is_some(), "{key} in {report}");
    }
    // Closed loop has no schedule to be late for.
    let (_server, _, closed, _) = against(&[], "pingpong", &["-c", "1", "-d", "200ms"]);
    assert!(closed["send_lateness_us"].is_null(), "{closed}");
}

#[test]
fn a_bench_that_cannot_keep_its_schedule_says_so() {
    // One connection, one message in flight, 10 ms a reply: at most 100
    // a second go out, so 1,000 a second asked leaves each message later
    // than the one before.
    let args = ["-c", "1", "--rate", "1000", "--duration", "500ms"];
    let (_server, code, report, stderr) = against(&["--delay", "10ms"], "pingpong", &args);
    assert_eq!(code, 0, "{stderr}");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("the bench could not keep its schedule")
            && notes.contains("the rate was not reached"),
        "{report}"
    );
    assert!(
        report["send_lateness_us"]["p99"].as_f64().unwrap() > 10_000.0,
        "{report}"
    );
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
fn churn_sessions_have_the_messages_and_pauses_asked_for() {
    // 5 messages, 150 ms apart: the server sees 5 per session, and a
    // session lasts 5 pauses (before messages 2 to 5, and before exit).
    let args = [
        "-c",
        "2",
        "--messages",
        "5",
        "--interval",
        "150ms",
        "--duration",
        "1s",
    ];
    let (server, code, report, stderr) = against(&[], "churn", &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(num(&report, "done") >= 1, "{report}");
    assert!(server.logged("(client sent exit, 5 messages)"));
    // No session of the default 3: read once the server has logged its
    // last line (asking `logged` for a line that never comes would wait
    // out its patience, 20 s of this suite's time).
    #[cfg(unix)]
    {
        server.signal(libc::SIGTERM);
        assert!(server.logged("Server stopped."), "{}", server.log());
        assert!(
            !server.log().contains("(client sent exit, 3 messages)"),
            "{}",
            server.log()
        );
    }
    let fastest = report["latency_us"]["p50"].as_f64().unwrap();
    assert!(fastest >= 750_000.0, "sessions took {fastest} µs: {report}");
}

#[test]
fn churn_sessions_of_no_message_and_of_one() {
    // The lowest counts: 0 is the welcome then exit; 1 is one name.
    for (messages, logged) in [
        ("0", "(client sent exit, 0 messages)"),
        ("1", "(client sent exit, 1 message)"),
    ] {
        let args = ["-c", "2", "--messages", messages, "--duration", "200ms"];
        let (server, code, report, stderr) = against(&[], "churn", &args);
        assert_eq!(code, 0, "{stderr}");
        assert!(num(&report, "done") > 0, "{report}");
        assert!(
            server.logged(logged),
            "no '{logged}' for --messages {messages}"
        );
    }
}

#[test]
fn session_shape_flags_are_refused_outside_churn_and_out_of_range() {
    for args in [
        vec!["pingpong", "127.0.0.1:9", "--messages", "2"],
        vec!["pipeline", "127.0.0.1:9", "--interval", "1s"],
    ] {
        let (code, _, stderr) = bench(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("applies to churn only"), "{stderr}");
    }
    let (code, _, stderr) = bench(&["churn", "127.0.0.1:9", "--open-batch", "2"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--open-batch applies to hold only"),
        "{stderr}"
    );
    for arg in ["--messages=-1", "--messages=1000001", "--interval=-1s"] {
        let (code, _, stderr) = bench(&["churn", "127.0.0.1:9", arg]);
        assert_eq!(code, 2, "{arg}: {stderr}");
        assert!(stderr.contains(&arg[..arg.find('=').unwrap()]), "{stderr}");
    }
}

#[test]
fn a_run_ends_on_time_though_its_sessions_would_go_on() {
    // Sessions of 2 messages 10 s apart, in a 300 ms run: cut at the end,
    // not waited for, and the verdict says why none completed.
    let started = std::time::Instant::now();
    let args = [
        "-c",
        "2",
        "--messages",
        "2",
        "--interval",
        "10s",
        "--duration",
        "300ms",
    ];
    let (_server, code, report, stderr) = against(&[], "churn", &args);
    assert_eq!(code, 14, "{stderr}");
    assert_eq!(
        (num(&report, "done"), num(&report, "errors")),
        (0, 0),
        "{report}"
    );
    assert!(
        stderr.contains("no sessions completed")
            && stderr.contains("each session pauses 20s in all")
            && stderr.contains("--duration"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
}

#[test]
fn hold_reports_memory_and_samples() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let pid = server.child.id().to_string();
    let addr = server.addr.to_string();
    let hold = |connections: &str| {
        bench(&[
            "hold",
            &addr,
            "-c",
            connections,
            "--duration",
            "100ms",
            "--sample",
            "10",
            "--server-pid",
            &pid,
        ])
    };
    let (code, report, stderr) = hold("1000");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "done"), 1000);
    assert_eq!(
        (num(&report, "sampled"), num(&report, "sampled_ok")),
        (10, 10)
    );
    let rss = report["server_rss_per_connection"].as_f64().unwrap_or(-1.0);
    assert!(rss > 0.0, "{report}");
    // `seconds` is the hold, as the window is for the other scenarios.
    assert_eq!(report["seconds"].as_f64(), Some(0.1), "{report}");
    assert!(report["open_seconds"].as_f64().is_some(), "{report}");
    // Too few to measure: said, not a noisy (even negative) figure.
    let (code, report, stderr) = hold("20");
    assert_eq!(code, 0, "{stderr}");
    assert!(report["server_rss_per_connection"].is_null(), "{report}");
    assert!(
        report["notes"]
            .to_string()
            .contains("server memory per connection not measured"),
        "{report}"
    );
}

#[test]
fn the_table_says_what_hold_and_churn_measure() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let table = |args: &[&str]| {
        let out = Command::new(tcpkit())
            .arg("bench")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let hold = table(&["hold", &addr, "-c", "20", "-t", "2", "--duration", "300ms"]);
    assert!(
        hold.contains("20 connections, 2 threads, opened in "),
        "{hold}"
    );
    assert!(hold.contains("then held idle 0.3 s"), "{hold}");
    assert!(hold.contains("\n  open time   p50 "), "{hold}");
    let churn = table(&[
        "churn",
        &addr,
        "-c",
        "2",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
    ]);
    assert!(churn.contains(": 2 workers, "), "{churn}");
    assert!(churn.contains("\n  session     p50 "), "{churn}");
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
fn a_reply_later_than_the_timeout_is_an_error() {
    // Five good replies per connection: the preflight passes, and the run's
    // connection stalls after its fifth, during the measured window.
    let addr = flaky_server(5, Then::Stall).to_string();
    let args = ["pingpong", &addr, "-c", "1", "--timeout", "300ms"];
    let (code, report, stderr) = bench(&[&args[..], &["--duration", "1s"]].concat());
    assert_eq!(code, 14, "{stderr}");
    assert!(num(&report, "errors") >= 1, "the run reports it: {report}");
    let first = report["first_error"].as_str().unwrap_or_default();
    assert!(first.contains("no reply for 300ms"), "{report}");
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
    // The preflight's one message is answered; the run's connections are
    // closed after their fifth reply.
    let addr = flaky_server(5, Then::Close).to_string();
    for scenario in ["pingpong", "pipeline"] {
        let mut args = vec![scenario, &addr, "-c", "2", "--duration", "500ms"];
        if scenario == "pipeline" {
            args.extend(["--depth", "2"]);
        }
        let (code, report, stderr) = bench(&args);
        assert_eq!(code, 14, "{scenario}: {stderr}");
        assert_eq!(
            num(&report, "errors"),
            2,
            "{scenario}: one per connection: {report}"
        );
        let first = report["first_error"].as_str().unwrap_or_default();
        assert!(
            first.contains("the server closed the connection"),
            "{report}"
        );
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
    // How many processes the run needs, at this machine's hard limit.
    #[cfg(target_os = "linux")]
    {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let each = hard - 32;
        let processes = 100_000u64.div_ceil(each);
        assert!(
            stderr.contains(&format!(
                "may have {hard} (its hard limit, ulimit -Hn, which only root raises): run \
                 {processes} benches of up to {each} connections each"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_rate_below_one_per_connection_is_spread_over_the_connections() {
    // 10 msgs/s over 20 connections: each sends once every 2 s. Staggered,
    // connection i sends at i/10 s, so the measured second (after a 1 s
    // warm-up) sees 10 of them; all sending at t=0 measured none.
    let args = [
        "--rate",
        "10",
        "-c",
        "20",
        "--duration",
        "1s",
        "--warmup",
        "1s",
        "--threads",
        "2",
    ];
    let (_server, code, report, stderr) = {
        let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
        let addr = server.addr.to_string();
        let out = Command::new(tcpkit())
            .args(["bench", "pingpong", &addr, "--json"])
            .args(args)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (server, out.status.code(), report, stderr)
    };
    assert_eq!(code, Some(0), "{stderr}");
    let done = num(&report, "done");
    assert!(
        (8..=12).contains(&done),
        "about 10 replies, not a burst: {report}"
    );
    let notes = report["notes"].as_array().cloned().unwrap_or_default();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap_or("").contains("once every 2s")),
        "the report says the gap is longer than the run: {report}"
    );
}

#[test]
fn a_welcome_without_its_newline_is_shown_with_the_fix() {
    let args = ["--timeout", "500ms", "--duration", "200ms"];
    let (_server, code, _, stderr) = against(&["--framing", "chunk"], "pingpong", &args);
    assert_eq!(code, 14, "{stderr}");
    assert!(
        stderr.contains(
            "the welcome did not come within 500ms: only \"Welcome!\" came, 8 of its 9 bytes: \
             it has no newline"
        ) && stderr.contains("try --framing chunk"),
        "{stderr}"
    );
}

#[test]
fn several_servers_share_the_connections_in_turn() {
    let a = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let b = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let (addr_a, addr_b) = (a.addr.to_string(), b.addr.to_string());
    let (code, report, stderr) = bench(&[
        "pingpong",
        &addr_a,
        &addr_b,
        "-c",
        "4",
        "--duration",
        "200ms",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        report["server"].as_str(),
        Some(format!("{addr_a}, {addr_b}").as_str())
    );
    assert_eq!(report["servers"], serde_json::json!([addr_a, addr_b]));
    // Each server: its preflight connection, then two of the four.
    for server in [&a, &b] {
        assert!(server.logged("Connection from"), "{}", server.log());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while server.log().matches("Accept new connection").count() < 3
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            server.log().matches("Accept new connection").count(),
            3,
            "{}",
            server.log()
        );
    }
}

#[test]
fn no_welcome_is_what_an_echo_server_needs() {
    // An echo server (serve with no welcome and '{}' as the reply): the
    // bench's --no-welcome, as talk's, instead of --welcome ''.
    let echo = ["--welcome", "", "--reply", "{}"];
    let args = [
        "--no-welcome",
        "--reply",
        "{}",
        "-c",
        "2",
        "--duration",
        "200ms",
    ];
    let (_server, code, report, stderr) = against(&echo, "pingpong", &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(num(&report, "done") > 0, "{report}");
    // Both at once is a contradiction, refused.
    let (code, _, stderr) = bench(&["pingpong", "127.0.0.1:9", "--no-welcome", "--welcome", "Hi"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn a_silent_server_is_told_apart_within_seconds() {
    // Accepts and says nothing, and is not TLS: the bench says what it
    // waits for and names --no-welcome, then its --timeout ends the wait.
    let (addr, silent) = common::silent_server(2, std::time::Duration::from_secs(5));
    let addr = addr.to_string();
    let (code, _, stderr) = bench(&["pingpong", &addr, "--timeout", "3s"]);
    assert_eq!(code, 14, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "nothing from {addr} in 2s; still waiting for the welcome (up to --timeout 3s)"
        )) && stderr.contains("needs --no-welcome"),
        "{stderr}"
    );
    silent.join().unwrap();
}

#[test]
fn a_message_file_against_an_echo_server() {
    let dir = tempfile::tempdir().unwrap();
    let payload: String = (0..500).map(|i| format!("{i:03}")).collect();
    let file = dir.path().join("payload.txt");
    std::fs::write(&file, format!("{payload}\n")).unwrap();
    let echo = ["--welcome", "", "--reply", "{}"];
    let file_arg = file.to_str().unwrap();
    let args = [
        "--message-file",
        file_arg,
        "--welcome",
        "",
        "--reply",
        "{}",
        "-c",
        "2",
        "--duration",
        "200ms",
    ];
    let (_server, code, report, stderr) = against(&echo, "pipeline", &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(num(&report, "done") > 0, "{report}");
    // A payload the echo server does not send back whole is caught.
    let (_server, code, _, stderr) = against(
        &["--welcome", "", "--reply", "{}", "--max-message", "100"],
        "pingpong",
        &args,
    );
    assert_eq!(code, 14, "{stderr}");
    // A file that is not there is a local-file error.
    let (code, _, stderr) = bench(&["pingpong", "127.0.0.1:9", "--message-file", "/nonexistent"]);
    assert_eq!(code, 13, "{stderr}");
    assert!(
        stderr.contains("cannot read --message-file /nonexistent: no such file"),
        "{stderr}"
    );
}

#[test]
fn connect_rate_paces_new_connections() {
    // 20 connections at 40 per second: the opening takes at least 19 gaps
    // of 25 ms (a lower bound: pacing cannot make it faster).
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let args = [
        "hold",
        &addr,
        "-c",
        "20",
        "--connect-rate",
        "40",
        "--duration",
        "100ms",
    ];
    let (code, report, stderr) = bench(&args);
    assert_eq!(code, 0, "{stderr}");
    let opening = report["open_seconds"].as_f64().unwrap_or_default();
    assert!(opening >= 0.45, "opened in {opening} s: {report}");
    assert_eq!(num(&report, "done"), 20);
    // churn: sessions start at the rate, so 1 s at 20/s is about 20.
    let args = [
        "churn",
        &addr,
        "-c",
        "4",
        "--connect-rate",
        "20",
        "--duration",
        "1s",
    ];
    let (code, report, stderr) = bench(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!((15..=25).contains(&num(&report, "done")), "{report}");
    let (code, _, stderr) = bench(&["churn", &addr, "--connect-rate", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--connect-rate must be a positive number"),
        "{stderr}"
    );
    // Below the lowest rate, said as a limit (1e-300 made bench panic);
    // the lowest itself opens its first connection at once.
    for (rate, code_wanted) in [("0.0000009", 2), ("1e-300", 2), ("0.000001", 0)] {
        let (code, _, stderr) = bench(&[
            "hold",
            &addr,
            "-c",
            "1",
            "--connect-rate",
            rate,
            "--duration",
            "100ms",
        ]);
        assert_eq!(code, code_wanted, "--connect-rate {rate}: {stderr}");
        if code_wanted == 2 {
            assert!(
                stderr.contains("at least 0.000001 (one in 11.6 days)"),
                "{stderr}"
            );
        }
    }
    let (code, _, stderr) = bench(&["pingpong", &addr, "--rate", "1e-300"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--rate must be a positive number of messages per second, at least"));
}

/// hold's threads share `--connect-rate` by turns: two connections at two
/// a second on two threads open half a second apart, not both at once.
#[test]
fn hold_threads_open_at_the_rate_between_them() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let args = [
        "hold",
        &addr,
        "-c",
        "2",
        "--connect-rate",
        "2",
        "--duration",
        "100ms",
    ];
    let (code, report, stderr) = bench(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "threads"), 2, "{report}");
    let opening = report["open_seconds"].as_f64().unwrap_or_default();
    assert!(opening >= 0.5, "opened in {opening} s: {report}");
}

/// The load scenarios' threads take turns the same way: pingpong's two
/// connections at two a second on two threads open half a second apart.
/// Both at once, the run took 0.1 s here.
#[test]
fn load_threads_open_at_the_rate_between_them() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let began = std::time::Instant::now();
    let (code, report, stderr) = bench_as_asked(&[
        "pingpong",
        &addr,
        "-c",
        "2",
        "--threads",
        "2",
        "--connect-rate",
        "2",
        "--warmup",
        "0s",
        "--duration",
        "100ms",
    ]);
    let took = began.elapsed();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "threads"), 2, "{report}");
    assert!(took.as_secs_f64() >= 0.5, "ran {took:?}: {report}");
}

#[test]
fn hold_connects_from_each_source_address_in_turn() {
    let server = common::Proc::serve(&["--bind", "127.0.0.1:0"]);
    let (code, report, stderr) = bench(&[
        "hold",
        &server.addr.to_string(),
        "-c",
        "6",
        "--source",
        "127.0.0.2-127.0.0.3",
        "--duration",
        "100ms",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "done"), 6);
    // Three held connections from each (the preflight's comes from the
    // system's choice of address).
    for source in ["127.0.0.2", "127.0.0.3"] {
        let line = format!("Accept new connection from {source}:");
        let deadline = std::time::Instant::now() + common::PATIENCE;
        while server.log().matches(&line).count() < 3 {
            assert!(std::time::Instant::now() < deadline, "{}", server.log());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(server.log().matches(&line).count(), 3);
    }
}

#[test]
fn wrk_and_tcpkali_short_flags_mean_what_they_mean_there() {
    // wrk's -c -d -t -R: connections, duration, threads, rate; tcpkali's
    // -T is the duration too.
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    for duration in ["-d", "-T"] {
        let out = Command::new(tcpkit())
            .args(["bench", "pingpong", "-c", "3", duration, "700ms", "-t", "1"])
            .args(["-R", "30", "--warmup", "0s", "--json", &addr])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let seconds = report["seconds"].as_f64().unwrap();
        assert!((0.6..1.5).contains(&seconds), "{duration}: {report}");
        assert_eq!(report["rate"].as_f64(), Some(30.0), "{report}");
        assert_eq!(num(&report, "threads"), 1, "{report}");
        assert_eq!(num(&report, "connections"), 3, "{report}");
    }
    // A flag the scenario does not use is refused, not ignored.
    for (args, says) in [
        (
            &["pingpong", "--depth", "8"][..],
            "pingpong does not use --depth",
        ),
        (&["hold", "--warmup", "1s"], "hold does not use --warmup"),
        (&["churn", "-m", "hi"], "churn does not use --message"),
        (
            &["handshake", "--send-proxy", "v1"],
            "handshake does not use --send-proxy",
        ),
        (
            &["pipeline", "--sample", "3"],
            "pipeline does not use --sample",
        ),
    ] {
        let out = Command::new(tcpkit())
            .arg("bench")
            .args(args)
            .arg(&addr)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn wrk_and_tcpkali_habits_are_answered_in_words() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    // wrk's order, with no scenario: the address is not a scenario.
    let out = Command::new(tcpkit())
        .args(["bench", "-c", "10", "-d", "1s", &addr])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "bench needs a scenario first, then the address: tcpkit bench pingpong {addr}"
        )),
        "{stderr}"
    );
    // tcpkali's -em 'message': the message is --message.
    let out = Command::new(tcpkit())
        .args(["bench", "pingpong", "-em", "hi", &addr])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--message TEXT"), "{stderr}");
    // wrk's --latency is what bench does anyway: accepted.
    let (code, report, stderr) = bench(&["pingpong", &addr, "-c", "1", "-d", "200ms", "--latency"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(report["latency_us"]["p50"].as_f64().is_some(), "{report}");
}

#[test]
fn a_run_that_measured_no_reply_says_why_it_failed() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--delay", "3s"]);
    let out = Command::new(tcpkit())
        .args(["bench", "pingpong", &server.addr.to_string()])
        .args(["-c", "1", "-d", "300ms", "--warmup", "0s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(14), "{stdout}");
    assert!(
        stdout.contains("FAILED      no reply completed within the measured 0.3 s"),
        "{stdout}"
    );
    assert!(!stdout.contains("0 errors, 0 wrong replies"), "{stdout}");
    // The preflight's slow first reply was said at 2 s, not waited in
    // silence.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no reply to the first message after 2s; still waiting (up to --timeout"),
        "{stderr}"
    );
}

#[test]
fn the_tutorials_server_is_named_at_once_in_every_scenario() {
    // serve --framing chunk sends a bare `Welcome!`, as the tutorial's
    // server does: named in a second, as talk names it, not after the
    // whole reply timeout.
    let server = Proc::serve(&["--bind", "127.0.0.1:0", "--framing", "chunk"]);
    let addr = server.addr.to_string();
    for scenario in ["pingpong", "pipeline", "handshake"] {
        let (code, _, stderr) = bench(&[scenario, &addr, "-c", "1", "-d", "200ms"]);
        assert_eq!(code, 14, "{scenario}: {stderr}");
        assert!(
            stderr.contains(
                "sent \"Welcome!\" with no newline, then nothing for 1s: a server that does not \
                 end its lines, like the tutorial's own? try --framing chunk"
            ),
            "{scenario}: {stderr}"
        );
    }
}

#[test]
fn the_report_says_when_its_window_was_on_the_wall_clock() {
    // What adding up runs from several machines needs: each window's
    // start and end, as the wall clock read them.
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    for (scenario, args) in [
        ("pingpong", &["-c", "2", "--duration", "300ms"][..]),
        ("hold", &["-c", "3", "--duration", "300ms"][..]),
    ] {
        let before = now();
        let (_server, code, report, stderr) = against(&[], scenario, args);
        let after = now();
        assert_eq!(code, 0, "{stderr}");
        let start = report["window_start_unix"]
            .as_f64()
            .expect("window_start_unix");
        let end = report["window_end_unix"].as_f64().expect("window_end_unix");
        let seconds = report["seconds"].as_f64().unwrap();
        assert!(before < start && start < end && end < after, "{report}");
        // The measured time, give or take a late wake-up at either end
        // (the warm-up is checked apart, below).
        assert!(
            (end - start - seconds).abs() < 0.25,
            "{scenario}: a window of {} s for {seconds} s measured",
            end - start
        );
        if scenario == "pingpong" {
            // The warm-up (100 ms, common::bench's) is before the window.
            assert!(start - before >= 0.1, "{report}");
        }
    }
}

#[test]
fn start_at_starts_the_window_when_asked_and_says_how_far_off_it_was() {
    let asked_ahead = 1.5;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (_server, code, report, stderr) = against(
        &[],
        "pingpong",
        &["-c", "2", "--duration", "300ms", "--start-at", "+1500ms"],
    );
    assert_eq!(code, 0, "{stderr}");
    let asked = report["start_at_unix"].as_f64().expect("start_at_unix");
    let start = report["window_start_unix"].as_f64().unwrap();
    assert!((asked - before - asked_ahead).abs() < 0.5, "{report}");
    // Within a late wake-up of the time asked (ignored, it would have
    // started about 1.4 s early).
    assert!(
        start - asked > -0.01 && start - asked < 0.3,
        "started {} s off",
        start - asked
    );
    // A time already past starts at once, and the table says how late.
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let out = std::process::Command::new(tcpkit())
        .args(["bench", "pingpong", &server.addr.to_string(), "-c", "1"])
        .args([
            "-d",
            "200ms",
            "--warmup",
            "0s",
            "--start-at",
            "2020-01-01T00:00:00Z",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(
        table.contains("s after the time asked (2020-01-01T00:00:00.000Z)"),
        "{table}"
    );
    assert!(
        table.contains("note        the time asked had passed when the connections were open"),
        "{table}"
    );
    // On time, no such note.
    assert!(
        !report["notes"].to_string().contains("had passed"),
        "{report}"
    );
    // Not a time; and hold, which opens its connections as it goes.
    let (code, _, stderr) = bench(&["pingpong", "127.0.0.1:9", "--start-at", "soon"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("'soon' is not a time"), "{stderr}");
    let (code, _, stderr) = bench(&["hold", "127.0.0.1:9", "--start-at", "+1s"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("hold does not use --start-at"), "{stderr}");
}

#[test]
fn a_start_later_than_a_servers_idle_timeout_is_warned_of_before_the_wait() {
    // Open connections would sit idle past serve's 300 s idle timeout:
    // said once they are open, before the wait, which is not waited for
    // here (the bench is stopped by its pid).
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let mut child = std::process::Command::new(tcpkit())
        .args(["bench", "pingpong", &server.addr.to_string(), "-c", "1"])
        .args(["--warmup", "1s", "--start-at", "+330s"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read on a thread of its own, so that a warning that never comes
    // fails within the patience rather than after the whole wait.
    let stderr = child.stderr.take().unwrap();
    let (lines, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + common::PATIENCE;
    let mut line = String::new();
    while !line.contains("warning") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match said.recv_timeout(left) {
            Ok(next) => line = next,
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.contains("will wait 5m ")
            && line.contains("longer than a server's idle timeout (5m for tcpkit serve"),
        "{line}"
    );
    // A wait shorter than that is not warned of.
    let (code, _, stderr) = bench(&[
        "pingpong",
        &server.addr.to_string(),
        "-c",
        "1",
        "-d",
        "100ms",
        "--start-at",
        "+500ms",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("idle"), "{stderr}");
}

#[test]
fn quieter_twice_leaves_stderr_to_an_error_alone() {
    // The warning of a long wait (see above) is what -qq silences: after
    // the connections are open, nothing on stderr, so that a log joining
    // stderr to stdout holds only the report. Stopped by its pid.
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let mut child = std::process::Command::new(tcpkit())
        .args([
            "-qq",
            "bench",
            "pingpong",
            &server.addr.to_string(),
            "-c",
            "1",
        ])
        .args(["--start-at", "+330s", "--json"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The preflight and the one connection, then the wait.
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while server.log().matches("Accept new connection").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // And a failure still says itself.
    let (code, _, stderr) = bench(&["pingpong", "127.0.0.1:9", "-qq"]);
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.starts_with("tcpkit: error: cannot connect"),
        "{stderr}"
    );
}

/// hold opens with one connect in flight per `--threads` thread: a server
/// that sends no welcome until three connections wait on it gets all
/// three from `--threads 3`. One at a time, the bench would wait on the
/// first welcome until its reply timeout, and fail.
#[test]
fn hold_opens_a_connection_per_thread_at_once() {
    let report = held_three_only_once_all_wait(&["--threads", "3"]);
    assert_eq!(num(&report, "threads"), 3, "{report}");
}

/// `--open-batch`: one thread makes its batch's connects before it reads
/// any welcome, so a server that answers only once three connections wait
/// gets them from one thread. One at a time, the thread would wait on the
/// first welcome until its reply timeout, and fail.
#[test]
fn hold_makes_a_batch_of_connects_before_reading_welcomes() {
    held_three_only_once_all_wait(&["--threads", "1", "--open-batch", "3"]);
    // The highest batch, far above the connections, is the same.
    held_three_only_once_all_wait(&["--threads", "1", "--open-batch", "1024"]);
}

/// Runs `bench hold -c 3` with `args` against a server that sends no
/// welcome until three connections wait on it; all three must open and
/// answer. Returns the report.
fn held_three_only_once_all_wait(args: &[&str]) -> serde_json::Value {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // Answers one line, as the greeting server does.
    let answer = |stream: &std::net::TcpStream| {
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        let name = line.trim_end();
        (&*stream)
            .write_all(format!("Hello, {name}!\n").as_bytes())
            .unwrap();
    };
    let server = std::thread::spawn(move || {
        // The preflight's connection: welcome, then one message.
        let (preflight, _) = listener.accept().unwrap();
        (&preflight).write_all(b"Welcome!\n").unwrap();
        answer(&preflight);
        // Then no welcome until three connections are waiting.
        let held: Vec<_> = (0..3).map(|_| listener.accept().unwrap().0).collect();
        for stream in &held {
            (&*stream).write_all(b"Welcome!\n").unwrap();
        }
        // The sample: each held connection asked once, in whatever order
        // the bench keeps them.
        std::thread::scope(|scope| {
            for stream in &held {
                scope.spawn(move || answer(stream));
            }
        });
        held
    });
    let mut all = vec![
        "hold",
        &addr,
        "-c",
        "3",
        "--duration",
        "100ms",
        "--timeout",
        "3s",
    ];
    all.extend_from_slice(args);
    let (code, report, stderr) = bench_as_asked(&all);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    assert_eq!(num(&report, "done"), 3, "{report}");
    assert_eq!(num(&report, "errors"), 0, "{report}");
    assert_eq!(num(&report, "sampled_ok"), 3, "{report}");
    drop(server.join().unwrap());
    report
}

/// More threads than connections: one thread per connection, and the
/// report says how many ran.
#[test]
fn hold_runs_no_more_threads_than_connections() {
    let server = Proc::serve(&["--bind", "127.0.0.1:0"]);
    let addr = server.addr.to_string();
    let (code, report, stderr) = bench_as_asked(&[
        "hold",
        &addr,
        "-c",
        "2",
        "--threads",
        "8",
        "--duration",
        "100ms",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(num(&report, "done"), 2, "{report}");
    assert_eq!(num(&report, "threads"), 2, "{report}");
}
