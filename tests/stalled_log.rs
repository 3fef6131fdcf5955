//! A log nobody reads: `serve` with its stderr going to a pipe that stops
//! being read right after the server says where it listens (a terminal
//! paused with Ctrl+S, a stalled log shipper). Serving must go on, the
//! dropped lines must be counted (`/metrics`) and said once stderr drains,
//! and signals must still stop the server: the first within its grace,
//! a second at once with 130.

#![cfg(unix)] // real signals

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{PATIENCE, http_get, tcpkit};

/// Sessions served while stderr is stalled: each logs two lines (four
/// trace lines more with --trace), far more than a pipe (64 KiB) and the
/// queue (256 KiB by default) hold.
const SESSIONS: usize = 5_000;

/// A `serve` child whose stderr is read up to its addresses, then no more.
struct Stalled {
    child: Child,
    addr: SocketAddr,
    metrics: SocketAddr,
    /// The unread rest of stderr: held, so the pipe stays open and full.
    stderr: Option<BufReader<ChildStderr>>,
}

impl Stalled {
    fn serve(extra: &[&str]) -> Stalled {
        let mut child = Command::new(tcpkit())
            .args(["--plain-logs", "serve", "--bind", "127.0.0.1:0"])
            .args(["--metrics", "127.0.0.1:0"])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start tcpkit serve");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let (mut addr, mut metrics) = (None, None);
        let mut line = String::new();
        while addr.is_none() || metrics.is_none() {
            line.clear();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                panic!("serve ended before it listened");
            }
            // Plain lines, or JSON objects whose message is the line.
            let after = |mark: &str, end: &str| {
                let (_, rest) = line.split_once(mark)?;
                rest.split(end).next()?.parse().ok()
            };
            addr = addr.or_else(|| after("Waiting for connection on ", "..."));
            metrics = metrics.or_else(|| after("Metrics on http://", "/metrics"));
        }
        Stalled {
            child,
            addr: addr.unwrap(),
            metrics: metrics.unwrap(),
            stderr: Some(stderr),
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// The exit code if the child ends within `limit`, None if it did not.
    fn exits_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// `tcpkit_log_lines_dropped_total` from `/metrics`.
    fn dropped(&self) -> u64 {
        let (_, body) = http_get(self.metrics, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        body.lines()
            .find_map(|l| l.strip_prefix("tcpkit_log_lines_dropped_total "))
            .expect("tcpkit_log_lines_dropped_total in /metrics")
            .parse()
            .unwrap()
    }

    /// Reads stderr again, to its end, in a thread; its text at the end.
    fn drain(&mut self) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel();
        let mut stderr = self.stderr.take().expect("stderr drained once");
        thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        rx
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The tutorial's session with one name; panics (rather than hangs) when
/// the server does not answer in time.
fn session(addr: SocketAddr, name: &str) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).expect("the welcome in time");
    assert_eq!(line, "Welcome!\n");
    stream
        .write_all(format!("{name}\nexit\n").as_bytes())
        .unwrap();
    line.clear();
    reader.read_line(&mut line).expect("the reply in time");
    assert_eq!(line, format!("Hello, {name}!\n"));
    line.clear();
    assert_eq!(reader.read_line(&mut line).expect("the close in time"), 0);
}

/// `SESSIONS` sessions from four threads.
fn serve_sessions(addr: SocketAddr) {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..SESSIONS / 4 {
                    session(addr, &format!("n{t}x{i}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a session failed while stderr was stalled");
    }
}

/// One connection kept open: the server's graceful shutdown waits for it.
fn open_connection(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "Welcome!\n");
    (stream, reader)
}

/// SIGTERM with a session open: the session is still answered in the
/// grace (the server is not frozen); it is left open for the caller.
fn signalled_while_open(server: &Stalled) -> TcpStream {
    let (mut open, mut reader) = open_connection(server.addr);
    server.signal(libc::SIGTERM);
    open.write_all(b"Late\n").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "Hello, Late!\n");
    open
}

fn stalled_stderr_serves_counts_and_stops(extra: &[&str]) {
    let mut server = Stalled::serve(extra);
    serve_sessions(server.addr);
    let dropped = server.dropped();
    assert!(
        dropped > 0,
        "{SESSIONS} sessions' log lines all fit in a stalled pipe: the test stalls nothing"
    );

    // The first signal: the open session is still served through the
    // grace, and its end lets the server stop.
    let mut open = signalled_while_open(&server);
    open.write_all(b"exit\n").unwrap();
    assert_eq!(
        server.exits_within(Duration::from_secs(5)),
        Some(0),
        "SIGTERM did not stop a server whose stderr is stalled"
    );
}

#[test]
fn a_stalled_log_neither_stops_serving_nor_signals() {
    stalled_stderr_serves_counts_and_stops(&[]);
}

#[test]
fn a_stalled_trace_neither_stops_serving_nor_signals() {
    stalled_stderr_serves_counts_and_stops(&["--trace"]);
}

fn second_signal_exits_at_once(extra: &[&str]) {
    let mut server = Stalled::serve(&[&["--grace", "60s"], extra].concat());
    serve_sessions(server.addr);
    assert!(server.dropped() > 0, "nothing was stalled");
    let (_open, _reader) = open_connection(server.addr);
    server.signal(libc::SIGTERM);
    // The first signal is taken (the open session holds the server in
    // its grace), then the second ends it.
    assert_eq!(server.exits_within(Duration::from_millis(300)), None);
    server.signal(libc::SIGTERM);
    assert_eq!(
        server.exits_within(Duration::from_secs(1)),
        Some(130),
        "a second signal did not end a server whose stderr is stalled at once"
    );
}

#[test]
fn a_second_signal_exits_at_once_with_a_stalled_log() {
    second_signal_exits_at_once(&[]);
}

#[test]
fn a_second_signal_exits_at_once_with_a_stalled_trace() {
    second_signal_exits_at_once(&["--trace"]);
}

#[test]
fn the_oldest_lines_make_room_and_the_count_is_said_where_they_were() {
    let mut server = Stalled::serve(&[]);
    serve_sessions(server.addr);
    // Stopping, while stalled: the newest lines (the shutdown's) must
    // be the ones kept.
    let mut open = signalled_while_open(&server);
    let dropped = server.dropped();
    assert!(dropped > 0, "nothing was stalled");
    let text = server.drain();
    // A moment for the queue to drain, then the last session ends.
    thread::sleep(Duration::from_millis(300));
    open.write_all(b"exit\n").unwrap();
    assert_eq!(server.exits_within(PATIENCE), Some(0));
    let text = text.recv_timeout(PATIENCE).expect("stderr to its end");
    // The shutdown's own lines may have pushed out more after the scrape:
    // the count said is at least the one scraped.
    let prefix = "tcpkit: warning: ";
    let at = text
        .find(" earlier log lines dropped here")
        .and_then(|end| text[..end].rfind(prefix).map(|start| (start, end)))
        .unwrap_or_else(|| panic!("no count of dropped lines in the drained stderr"));
    let said: u64 = text[at.0 + prefix.len()..at.1].parse().unwrap();
    assert!(said >= dropped, "said {said}, scraped {dropped} before");
    let at = at.0;
    assert_eq!(text.matches("dropped here").count(), 1, "said once");
    let signal = text[at..]
        .find("Signal received: finishing open connections")
        .expect("the shutdown's lines kept, after the count");
    assert!(signal > 0);
    assert!(
        text.ends_with("Server stopped.\n"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
}

#[test]
fn the_log_buffer_edges() {
    // 0 is no queue at all: refused, naming the least.
    let out = Command::new(tcpkit())
        .args(["serve", "--log-buffer", "0", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at least 1 byte"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 1 byte, the least: each line pushes out the one not yet written
    // (even the address lines may go, so the port is chosen here), and
    // serving and stopping go on as ever, with stderr never read.
    let port = common::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(tcpkit())
        .args(["--log-buffer", "1", "serve", "--bind", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _unread = child.stderr.take();
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(addr).is_err() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    for i in 0..500 {
        session(addr, &format!("n{i}"));
    }
    // SAFETY: kill(2) on our own child's pid, not yet reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(code, Some(0), "SIGTERM did not stop it in 5 s");
}

#[test]
fn with_json_logs_every_line_is_an_object_and_so_is_the_count_of_dropped_ones() {
    let mut server = Stalled::serve(&["--log-format", "json"]);
    serve_sessions(server.addr);
    let mut open = signalled_while_open(&server);
    assert!(server.dropped() > 0, "nothing was stalled");
    let text = server.drain();
    thread::sleep(Duration::from_millis(300));
    open.write_all(b"exit\n").unwrap();
    assert_eq!(server.exits_within(PATIENCE), Some(0));
    let text = text.recv_timeout(PATIENCE).expect("stderr to its end");
    let objects: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let count = objects
        .iter()
        .find(|o| {
            o["message"]
                .as_str()
                .is_some_and(|m| m.contains(" earlier log lines dropped here"))
        })
        .expect("the count of dropped lines");
    assert_eq!(count["level"], "WARN");
    assert_eq!(count["target"], "tcpkit");
    assert!(
        count["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(objects.last().unwrap()["message"], "Server stopped.");
}
