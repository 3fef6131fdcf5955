//! `serve --metrics`: `/metrics` scraped before and after known sessions,
//! the counters moving by exactly what those sessions did. The peer tier
//! parses the same page with the Prometheus project's Python parser
//! (tests/peers.rs); here a strict little parser reads it.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use common::{LineClient, http_get as get, serve_with_metrics, stdout_of, talk};

/// Every sample of the page, `name{labels}` to value; checks each line is
/// a comment or `name[{labels}] value`.
fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (status, body) = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let mut samples = BTreeMap::new();
    for line in body.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        assert!(
            key.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_'),
            "{line:?}"
        );
        samples.insert(key.to_string(), value);
    }
    samples
}

fn delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, key: &str) -> f64 {
    let get = |m: &BTreeMap<String, f64>| *m.get(key).unwrap_or_else(|| panic!("no {key}"));
    get(after) - get(before)
}

#[test]
fn counters_move_by_exactly_what_a_session_did() {
    let (server, metrics) = serve_with_metrics();
    let before = scrape(metrics);
    assert_eq!(before["tcpkit_connections_open"], 0.0);
    // The tutorial's session: 25 bytes in, 53 out, 3 replies, closed by exit.
    let out = talk(&[&server.addr.to_string(), "Michael", "Tracy", "Sarah"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&out).lines().count(), 4);
    // One left open, and one refused for a line over --max-message.
    let mut open = LineClient::connect(server.addr);
    assert_eq!(open.line(), "Welcome!\n");
    let mut long = LineClient::connect(server.addr);
    assert_eq!(long.line(), "Welcome!\n");
    long.send(b"\n");
    assert_eq!(long.line(), "Hello, !\n");
    long.send(&vec![b'x'; 70_000]);
    assert!(long.line().starts_with("Error: message longer than"));
    assert!(server.logged("(message too long, 1 message)"));
    let after = scrape(metrics);
    for (key, moved) in [
        ("tcpkit_connections_accepted_total", 3.0),
        ("tcpkit_connections_open", 1.0),
        ("tcpkit_messages_total", 4.0),
        ("tcpkit_connections_closed_total{reason=\"exit\"}", 1.0),
        ("tcpkit_connections_closed_total{reason=\"too_long\"}", 1.0),
        (
            "tcpkit_connections_closed_total{reason=\"idle_timeout\"}",
            0.0,
        ),
        ("tcpkit_messages_per_connection_count", 2.0),
        ("tcpkit_messages_per_connection_sum", 4.0),
        ("tcpkit_messages_per_connection_bucket{le=\"1\"}", 1.0),
        ("tcpkit_messages_per_connection_bucket{le=\"3\"}", 2.0),
        ("tcpkit_accept_errors_total", 0.0),
    ] {
        assert_eq!(delta(&before, &after, key), moved, "{key}");
    }
    // Bytes: the session's 25 in and 53 out, the open one's welcome (9),
    // the long one's "\n", 70,000 bytes (read before the refusal: at
    // least 65,537) and its welcome, reply and error line.
    let bytes_in = delta(&before, &after, "tcpkit_received_bytes_total");
    assert!(
        (25.0 + 1.0 + 65_537.0..=25.0 + 70_001.0).contains(&bytes_in),
        "{bytes_in}"
    );
    let error_line = "Error: message longer than 65536 bytes\n".len() as f64;
    assert_eq!(
        delta(&before, &after, "tcpkit_sent_bytes_total"),
        53.0 + 9.0 + 9.0 + 9.0 + error_line
    );
    drop(open);
}

#[test]
fn the_endpoint_answers_only_get_metrics() {
    let (_server, metrics) = serve_with_metrics();
    let (status, body) = get(metrics, "GET / HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(body.contains("/metrics"));
    let (status, _) = get(metrics, "POST /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, _) = get(metrics, "\x16\x03\x01 not http\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    let (status, body) = get(metrics, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "");
    let (status, body) = get(metrics, "GET /ready HTTP/1.1\r\n\r\n");
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "ready\n")
    );
}

#[test]
#[cfg(unix)] // a real SIGTERM
fn ready_turns_503_when_a_shutdown_begins() {
    let server = common::Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--drain",
        "2s",
    ]);
    let metrics = common::metrics_addr(&server);
    assert_eq!(
        get(metrics, "GET /ready HTTP/1.1\r\n\r\n").0,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(scrape(metrics)["tcpkit_ready"], 1.0);
    server.signal(libc::SIGTERM);
    assert!(server.logged("Draining"));
    let (status, body) = get(metrics, "GET /ready HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(body, "shutting down\n");
    // The gauge alerts read says the same.
    assert_eq!(scrape(metrics)["tcpkit_ready"], 0.0);
}

#[test]
fn a_metrics_address_in_use_names_the_metrics_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for flag in ["--metrics", "--agent"] {
        let out = std::process::Command::new(common::tcpkit())
            .args(["serve", "--bind", "127.0.0.1:0", flag, &addr])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{flag}");
        let said = common::stderr_of(&out);
        assert!(
            said.contains("address already in use")
                && said.contains(&format!("choose another address with {flag})")),
            "{said}"
        );
    }
}

#[test]
fn clients_refused_at_the_connection_limit_are_counted_apart() {
    let server = common::Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--max-connections",
        "1",
    ]);
    let metrics = common::metrics_addr(&server);
    let before = scrape(metrics);
    let mut held = LineClient::connect(server.addr);
    assert_eq!(held.line(), "Welcome!\n");
    for _ in 0..2 {
        let mut refused = LineClient::connect(server.addr);
        assert_eq!(
            refused.line(),
            "Error: server busy: too many connections open; retry later\n"
        );
        assert_eq!(refused.rest(), b"");
    }
    let after = scrape(metrics);
    assert_eq!(
        delta(&before, &after, "tcpkit_connections_refused_total"),
        2.0
    );
    // Refused clients were never accepted, so never open or closed.
    assert_eq!(
        delta(&before, &after, "tcpkit_connections_accepted_total"),
        1.0
    );
    assert_eq!(after["tcpkit_connections_open"], 1.0);
    assert!(
        server.logged("Connection limit reached (1 open; see --max-connections)"),
        "{}",
        server.log()
    );
}

/// The value of `key` once it reaches `at_least`, waiting a while.
fn reaches(metrics: SocketAddr, key: &str, at_least: f64) -> BTreeMap<String, f64> {
    let deadline = std::time::Instant::now() + common::PATIENCE;
    loop {
        let now = scrape(metrics);
        if now.get(key).copied().unwrap_or(0.0) >= at_least || std::time::Instant::now() > deadline
        {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Sets SO_LINGER 0, so that the close is a reset, as HAProxy's check's.
#[cfg(unix)]
fn reset_on_close(stream: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on our own socket with a linger that outlives it.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

#[test]
#[cfg(unix)]
fn probes_and_client_resets_are_not_errors() {
    let (server, metrics) = serve_with_metrics();
    let before = scrape(metrics);
    let probe = "tcpkit_connections_closed_total{reason=\"probe\"}";
    // nc -z: connect, close. HAProxy's check: connect, reset.
    drop(std::net::TcpStream::connect(server.addr).unwrap());
    reset_on_close(&std::net::TcpStream::connect(server.addr).unwrap());
    // A client that talked, then reset.
    let mut talker = LineClient::connect(server.addr);
    assert_eq!(talker.line(), "Welcome!\n");
    talker.send(b"Michael\n");
    assert_eq!(talker.line(), "Hello, Michael!\n");
    reset_on_close(&talker.stream);
    drop(talker);
    let after = reaches(
        metrics,
        "tcpkit_connections_closed_total{reason=\"client_reset\"}",
        1.0,
    );
    let after = if after[probe] < before[probe] + 2.0 {
        reaches(metrics, probe, before[probe] + 2.0)
    } else {
        after
    };
    assert_eq!(delta(&before, &after, probe), 2.0);
    assert_eq!(
        delta(
            &before,
            &after,
            "tcpkit_connections_closed_total{reason=\"client_reset\"}"
        ),
        1.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            "tcpkit_connections_closed_total{reason=\"error\"}"
        ),
        0.0
    );
    // Probes are logged at debug level only; the reset at info, as such.
    assert!(server.logged("closed. (client reset the connection, 1 message)"));
    let log = server.log();
    assert!(!log.contains("a probe"), "{log}");
    assert!(!log.contains("error:"), "{log}");
}

#[test]
fn a_connection_is_counted_in_the_bucket_of_how_long_it_was_open() {
    // A session held for 600 ms, from accept to the close (the lingering
    // close included): over 0.5 s, under 1 s. The bucket edges are what a
    // quantile query reads, so they must be crossed exactly.
    let (server, metrics) = serve_with_metrics();
    let before = scrape(metrics);
    let mut c = LineClient::connect(server.addr);
    assert_eq!(c.line(), "Welcome!\n");
    std::thread::sleep(std::time::Duration::from_millis(600));
    c.send(b"exit\n");
    assert_eq!(c.rest(), b"");
    // Our close ends the server's lingering close, which counts too.
    drop(c);
    let after = reaches(metrics, "tcpkit_connection_duration_seconds_count", 1.0);
    for (key, moved) in [
        ("tcpkit_connection_duration_seconds_count", 1.0),
        ("tcpkit_connection_duration_seconds_bucket{le=\"0.5\"}", 0.0),
        ("tcpkit_connection_duration_seconds_bucket{le=\"1\"}", 1.0),
        (
            "tcpkit_connection_duration_seconds_bucket{le=\"86400\"}",
            1.0,
        ),
    ] {
        assert_eq!(delta(&before, &after, key), moved, "{key}");
    }
    let seconds = delta(&before, &after, "tcpkit_connection_duration_seconds_sum");
    assert!((0.6..1.0).contains(&seconds), "{seconds} s");
}

#[test]
fn only_the_metrics_page_says_it_is_in_prometheus_format() {
    use std::io::{Read, Write};
    let (_server, metrics) = serve_with_metrics();
    let content_type = |path: &str| {
        let mut stream = std::net::TcpStream::connect(metrics).unwrap();
        stream.set_read_timeout(Some(common::PATIENCE)).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        content_type("/metrics"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    for path in ["/ready", "/", "/nothing"] {
        assert_eq!(content_type(path), "text/plain; charset=utf-8", "{path}");
    }
}

#[test]
fn the_limits_and_the_budget_in_use_are_gauges_beside_the_counts() {
    let server = common::Proc::serve(&[
        "--bind",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--max-connections",
        "7",
        "--max-buffered",
        "3MiB",
        "--send-buffer",
        "64KiB",
    ]);
    let metrics = common::metrics_addr(&server);
    let idle = scrape(metrics);
    assert_eq!(idle["tcpkit_connections_max"], 7.0);
    assert_eq!(idle["tcpkit_buffer_budget_bytes"], 3.0 * 1024.0 * 1024.0);
    assert_eq!(idle["tcpkit_buffer_budget_used_bytes"], 0.0);
    let version = format!(
        "tcpkit_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(idle[&version], 1.0);
    // A client that sends and never reads: its replies, held for it,
    // are counted against the budget.
    let mut flood = std::net::TcpStream::connect(server.addr).unwrap();
    flood
        .set_write_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let lines = b"Michael\n".repeat(8192);
    while std::io::Write::write_all(&mut flood, &lines).is_ok() {}
    let held =
        reaches(metrics, "tcpkit_buffer_budget_used_bytes", 1.0)["tcpkit_buffer_budget_used_bytes"];
    assert!(
        (1.0..=3.0 * 1024.0 * 1024.0).contains(&held),
        "{held} bytes held"
    );
    drop(flood);
    reaches_zero(metrics, "tcpkit_buffer_budget_used_bytes");
}

/// Waits until `key` is 0 again.
fn reaches_zero(metrics: SocketAddr, key: &str) {
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while scrape(metrics)[key] != 0.0 {
        assert!(std::time::Instant::now() < deadline, "{key} stayed above 0");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_process_metrics_are_what_the_system_says_of_the_process() {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (server, metrics) = serve_with_metrics();
    let page = scrape(metrics);
    let pid = server.child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    // What ps shows, within what a scrape itself allocates.
    let rss = page["process_resident_memory_bytes"];
    assert!(
        (rss - rss_kb * 1024.0).abs() < 2.0 * 1024.0 * 1024.0,
        "{rss} against VmRSS {rss_kb} kB"
    );
    let start = page["process_start_time_seconds"];
    assert!(
        (start - started).abs() < 5.0,
        "started at {start}, the test started it at {started}"
    );
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as f64;
    assert!(
        (page["process_open_fds"] - fds).abs() <= 2.0,
        "{} open fds, /proc says {fds}",
        page["process_open_fds"]
    );
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let soft: f64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap();
    assert_eq!(page["process_max_fds"], soft);
    assert!(page["process_cpu_seconds_total"] >= 0.0);
    assert!(page["process_virtual_memory_bytes"] >= rss);
}

/// The metric names a file names: `tcpkit_...` and `process_...` words.
fn names_in(path: &str) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap();
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("tcpkit_") || w.starts_with("process_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_metric_the_alerts_and_the_dashboard_name_is_exported() {
    let (_server, metrics) = serve_with_metrics();
    let exported: std::collections::BTreeSet<String> = scrape(metrics)
        .keys()
        .map(|k| k.split('{').next().unwrap().to_string())
        .collect();
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/prometheus/alerts_test.yml",
        "deploy/grafana/tcpkit.json",
    ] {
        let named = names_in(file);
        assert!(named.len() >= 5, "{file} names {named:?}");
        let missing: Vec<_> = named.difference(&exported).collect();
        assert!(
            missing.is_empty(),
            "{file} names what /metrics does not export: {missing:?}"
        );
    }
}
