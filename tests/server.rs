//! The server as a library: `server::run` on listeners bound to port 0,
//! driven by real sockets. Each test states one rule of docs/protocol.md or
//! one limit of `tcpkit serve`. Tests that must order what the server
//! sees exactly (no sleeps) run on the in-memory transport instead:
//! `tests/server_memory.rs`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{LineClient, PATIENCE};
use tcpkit::net;
use tcpkit::server::{self, Config};
use tcpkit::wire::greeting::Framing;
use tokio::sync::oneshot;

/// A server running `server::run` on its own runtime thread.
struct TestServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

fn start(config: Config) -> TestServer {
    start_on("127.0.0.1:0".parse().unwrap(), config)
}

fn start_on(bind: SocketAddr, config: Config) -> TestServer {
    let std_listener = net::listen(bind, 1024).expect("listen");
    let addr = std_listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            server::run(vec![listener], config, async {
                let _ = stopped.await;
            })
            .await;
        });
    });
    TestServer {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl TestServer {
    fn client(&self) -> LineClient {
        let mut c = LineClient::connect(self.addr);
        assert_eq!(c.line(), "Welcome!\n");
        c
    }

    /// Starts shutdown; returns once `run` has returned.
    fn shutdown(&mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
        started.elapsed()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn config() -> Config {
    Config {
        linger: Duration::from_millis(500),
        grace: Duration::from_secs(5),
        ..Config::default()
    }
}

#[test]
fn tutorial_transcript() {
    let server = start(config());
    let mut c = server.client();
    for name in ["Michael", "Tracy", "Sarah"] {
        c.send(format!("{name}\n").as_bytes());
        assert_eq!(c.line(), format!("Hello, {name}!\n"));
    }
    c.send(b"exit\n");
    assert_eq!(c.rest(), b"");
}

#[test]
fn tutorial_client_without_newlines_gets_chunk_replies() {
    let server = start(config());
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0; 1024];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Welcome!\n");
    for name in ["Michael", "Tracy"] {
        s.write_all(name.as_bytes()).unwrap();
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], format!("Hello, {name}!").as_bytes());
    }
    s.write_all(b"exit").unwrap();
    assert_eq!(s.read(&mut buf).unwrap(), 0);
}

#[test]
fn chunk_framing_is_the_tutorial_wire_format() {
    let server = start(Config {
        settings: tcpkit::wire::greeting::Settings {
            framing: Framing::Chunk,
            ..Default::default()
        },
        ..config()
    });
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0; 1024];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Welcome!");
    s.write_all(b"Mich\nael").unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello, Mich\nael!");
}

#[test]
fn pipelined_lines_all_answered_in_order() {
    const N: usize = 100_000;
    let server = start(config());
    let mut c = server.client();
    let mut writer = c.stream.try_clone().unwrap();
    // Write while reading, or both sides' buffers fill and deadlock.
    let sender = thread::spawn(move || {
        let mut all = Vec::new();
        for i in 0..N {
            all.extend_from_slice(format!("{i}\n").as_bytes());
        }
        writer.write_all(&all).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let rest = c.rest();
    sender.join().unwrap();
    let text = String::from_utf8(rest).unwrap();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        assert_eq!(line, format!("Hello, {i}!"));
        count += 1;
    }
    assert_eq!(count, N);
}

#[test]
fn eof_answers_unanswered_lines_and_the_fragment() {
    let server = start(config());
    let mut c = server.client();
    c.send(b"a\nb\nc");
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(c.rest(), b"Hello, a!\nHello, b!\nHello, c!");
}

#[test]
fn exit_with_input_behind_it_closes_without_a_reset() {
    let server = start(config());
    let mut c = server.client();
    // Replies before `exit` must survive the junk after it: without a
    // lingering close the kernel answers the unread junk with a reset.
    let mut bytes = b"a\nexit\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 1 << 20));
    c.send(&bytes);
    assert_eq!(c.rest(), b"Hello, a!\n");
}

#[test]
fn oversize_line_gets_an_error_after_earlier_replies() {
    let server = start(Config {
        settings: tcpkit::wire::greeting::Settings {
            max_message: 16,
            ..Default::default()
        },
        ..config()
    });
    let mut c = server.client();
    c.send(b"short\n");
    c.send(&[b'x'; 100]);
    assert_eq!(
        c.rest(),
        b"Hello, short!\nError: message longer than 16 bytes\n"
    );
    // A line of exactly the limit is fine.
    let mut c = server.client();
    c.send(b"0123456789abcdef\n");
    assert_eq!(c.line(), "Hello, 0123456789abcdef!\n");
}

#[test]
fn idle_connection_is_closed() {
    let server = start(Config {
        idle_timeout: Some(Duration::from_millis(200)),
        ..config()
    });
    let mut c = server.client();
    let started = Instant::now();
    assert_eq!(c.rest(), b"");
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[test]
fn input_postpones_the_idle_timeout() {
    // The idle clock is coarse (an eighth of the timeout); a client that
    // keeps talking must never be cut, however its messages fall on ticks.
    let server = start(Config {
        idle_timeout: Some(Duration::from_millis(300)),
        ..config()
    });
    let mut c = server.client();
    for i in 0..12 {
        thread::sleep(Duration::from_millis(100));
        c.send(format!("m{i}\n").as_bytes());
        assert_eq!(c.line(), format!("Hello, m{i}!\n"));
    }
    let quiet = Instant::now();
    assert_eq!(c.rest(), b"");
    let waited = quiet.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
}

#[test]
fn client_that_never_reads_is_dropped_and_frees_its_slot() {
    let server = start(Config {
        write_timeout: Some(Duration::from_millis(300)),
        max_connections: 1,
        refuse_rate: None,
        ..config()
    });
    let c = server.client();
    let mut flood = c.stream.try_clone().unwrap();
    let flooder = thread::spawn(move || {
        let chunk = b"x\n".repeat(32 * 1024);
        let started = Instant::now();
        while started.elapsed() < PATIENCE {
            if let Err(e) = flood.write_all(&chunk) {
                return Some(e.kind());
            }
        }
        None
    });
    // The only slot is taken until the flooder is dropped; then we get in.
    let mut next = server.client();
    next.send(b"next\n");
    assert_eq!(next.line(), "Hello, next!\n");
    let ended = flooder.join().unwrap();
    assert!(
        matches!(
            ended,
            Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
        ),
        "the flooding client was not disconnected: {ended:?}"
    );
}

#[test]
fn at_the_limit_new_clients_are_told_at_once_and_closed() {
    let server = start(Config {
        max_connections: 1,
        ..config()
    });
    let mut first = server.client();
    let mut refused = LineClient::connect(server.addr);
    assert_eq!(
        refused.line(),
        "Error: server busy: too many connections open; retry later\n"
    );
    assert_eq!(refused.rest(), b"", "closed after the line");
    // A client that spoke first is told too: its bytes do not turn the
    // close into a reset that destroys the line.
    let mut eager = TcpStream::connect(server.addr).unwrap();
    eager.write_all(b"Michael\n").unwrap();
    eager.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    let _ = eager.read_to_end(&mut got);
    assert_eq!(
        got,
        b"Error: server busy: too many connections open; retry later\n"
    );
    // The one being served is untouched, and once it leaves, the next
    // client is served.
    first.send(b"Tracy\n");
    assert_eq!(first.line(), "Hello, Tracy!\n");
    first.send(b"exit\n");
    assert_eq!(first.rest(), b"");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut c = LineClient::connect(server.addr);
        if c.line() == "Welcome!\n" {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never given");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refusals_are_rate_limited_and_the_rest_wait_in_the_backlog() {
    // One refusal a second (the lowest rate): of three clients arriving
    // together, one is told at once and the others wait their turn.
    let server = start(Config {
        max_connections: 1,
        refuse_rate: Some(1),
        ..config()
    });
    let _first = server.client();
    let waiting: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(300));
    let told = waiting
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).unwrap();
            let mut buf = [0; 128];
            matches!((&mut &**s).read(&mut buf), Ok(n) if n > 0)
        })
        .count();
    assert_eq!(told, 1, "one refusal a second, and the first at once");
    // The others are told in turn, a second apart.
    for mut s in waiting {
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert!(
            got.is_empty() || got.starts_with(b"Error: server busy"),
            "{got:?}"
        );
    }
}

#[test]
fn at_the_limit_new_clients_wait_in_the_backlog_without_refusals() {
    let server = start(Config {
        max_connections: 2,
        refuse_rate: None,
        ..config()
    });
    let mut first = server.client();
    let _second = server.client();
    let mut third = TcpStream::connect(server.addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0; 64];
    let waited = third.read(&mut buf).unwrap_err().kind();
    assert!(matches!(
        waited,
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    first.send(b"exit\n");
    assert_eq!(first.rest(), b"");
    third.set_read_timeout(Some(PATIENCE)).unwrap();
    let n = third.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Welcome!\n");
}

#[test]
fn linger_is_bounded() {
    let server = start(Config {
        linger: Duration::from_millis(200),
        max_connections: 1,
        // The next client waits for the slot the lingering one holds.
        refuse_rate: None,
        ..config()
    });
    // This client says exit, then never closes: the server must not wait
    // for it beyond the linger time.
    let mut stubborn = server.client();
    stubborn.send(b"exit\n");
    assert_eq!(stubborn.rest(), b"");
    let mut next = server.client();
    next.send(b"hi\n");
    assert_eq!(next.line(), "Hello, hi!\n");
    drop(stubborn);
}

#[test]
fn a_thousand_clients_at_once() {
    const N: usize = 1000;
    let server = start(Config {
        max_connections: 2000,
        ..config()
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let failures = runtime.block_on(async {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..N {
            let barrier = barrier.clone();
            let addr = server.addr;
            tasks.spawn(async move {
                barrier.wait().await;
                let result = tokio::time::timeout(PATIENCE, async {
                    let stream = tokio::net::TcpStream::connect(addr).await?;
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    stream.read_line(&mut line).await?;
                    stream
                        .get_mut()
                        .write_all(format!("{i}\n").as_bytes())
                        .await?;
                    line.clear();
                    stream.read_line(&mut line).await?;
                    Ok::<_, std::io::Error>(line)
                })
                .await;
                match result {
                    Ok(Ok(line)) if line == format!("Hello, {i}!\n") => 0,
                    _ => 1,
                }
            });
        }
        let mut failures = 0;
        while let Some(r) = tasks.join_next().await {
            failures += r.unwrap();
        }
        failures
    });
    assert_eq!(failures, 0, "{failures} of {N} clients failed");
}

#[test]
fn shutdown_lets_a_delayed_reply_go_out() {
    let mut server = start(Config {
        delay: Some(Duration::from_millis(500)),
        ..config()
    });
    let mut c = server.client();
    c.send(b"a\n");
    thread::sleep(Duration::from_millis(100));
    let stopper = thread::spawn(move || server.shutdown());
    assert_eq!(c.line(), "Hello, a!\n");
    c.send(b"exit\n");
    assert_eq!(c.rest(), b"");
    assert!(stopper.join().unwrap() < Duration::from_secs(5));
}

#[test]
fn during_the_grace_open_sessions_go_on_until_their_clients_end_them() {
    // --grace 5s: a client in the middle of a conversation keeps talking
    // after the shutdown began, every message answered, and the server
    // stops as soon as it says exit, not when the grace ends.
    let mut server = start(config());
    let addr = server.addr;
    let mut c = server.client();
    c.send(b"a\n");
    assert_eq!(c.line(), "Hello, a!\n");
    let stopper = thread::spawn(move || server.shutdown());
    // Until the listener is closed, new clients may still get in; wait
    // for it, so the session below runs in the grace period for sure.
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "the listener never closed");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    for name in ["b", "c"] {
        c.send(format!("{name}\n").as_bytes());
        assert_eq!(c.line(), format!("Hello, {name}!\n"));
    }
    assert!(!stopper.is_finished(), "stopped with a session open");
    let exited = Instant::now();
    c.send(b"exit\n");
    assert_eq!(c.rest(), b"");
    stopper.join().unwrap();
    assert!(
        exited.elapsed() < Duration::from_secs(3),
        "the server waited out the grace with no connection left"
    );
}

#[test]
fn grace_period_is_bounded() {
    let mut server = start(Config {
        delay: Some(Duration::from_secs(30)),
        grace: Duration::from_millis(300),
        ..config()
    });
    let mut c = server.client();
    c.send(b"slow\n");
    thread::sleep(Duration::from_millis(100));
    let took = server.shutdown();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    // The connection was dropped without its reply.
    let mut rest = Vec::new();
    let _ = c.stream.read_to_end(&mut rest);
    assert_eq!(rest, b"");
}

#[test]
fn delay_holds_up_only_its_own_connection() {
    let server = start(Config {
        delay: Some(Duration::from_millis(400)),
        ..config()
    });
    // Five delayed replies queue up on one connection (2 s of delays)...
    let mut slow = server.client();
    slow.send(b"1\n2\n3\n4\n5\n");
    // ...and another connection's message, sent after them, is answered
    // after its own one delay, while most of the first connection's
    // replies are still to come. A server-wide delay queue would answer
    // x after all five.
    let mut other = server.client();
    other.send(b"x\n");
    assert_eq!(other.line(), "Hello, x!\n");
    slow.stream.set_nonblocking(true).unwrap();
    let mut early = Vec::new();
    let _ = std::io::Read::read_to_end(&mut slow.stream, &mut early);
    slow.stream.set_nonblocking(false).unwrap();
    let answered = early.iter().filter(|&&b| b == b'\n').count();
    assert!(answered < 5, "x waited for the other connection's replies");
    // Every reply still comes, in order, on the slow connection.
    let mut rest = String::from_utf8(early).unwrap();
    for _ in answered..5 {
        rest.push_str(&slow.line());
    }
    assert_eq!(
        rest,
        "Hello, 1!\nHello, 2!\nHello, 3!\nHello, 4!\nHello, 5!\n"
    );
}

#[test]
fn ipv6_loopback() {
    let server = start_on("[::1]:0".parse().unwrap(), config());
    assert!(server.addr.is_ipv6());
    let mut c = server.client();
    c.send(b"six\n");
    assert_eq!(c.line(), "Hello, six!\n");
}

#[test]
fn a_bound_port_cannot_be_bound_twice() {
    let first = net::listen("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = first.local_addr().unwrap();
    let err = net::listen(addr, 16).unwrap_err();
    assert_eq!(err.kind(), tcpkit::ErrorKind::AddrInUse, "{err}");
    // This very process holds it, and the error says so.
    let tcpkit::Error::AddrInUse { holder, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(holder.as_ref().map(|h| h.pid), Some(std::process::id()));
    let hint = err.hint().render(tcpkit::Naming::Fields);
    assert!(hint.contains("holds it"), "{hint}");
}

#[test]
fn a_too_long_last_line_with_its_cr_is_refused_with_a_line() {
    // 65,536 bytes and a `\r`, then the end of the stream: one byte over
    // the limit, and the error reply still ends with `\n`.
    let server = start(config());
    let mut c = server.client();
    c.send(b"\n");
    assert_eq!(c.line(), "Hello, !\n");
    let mut line = vec![b'x'; 65536];
    line.push(b'\r');
    c.send(&line);
    c.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(c.rest(), b"Error: message longer than 65536 bytes\n");
}

#[test]
fn a_message_that_trickles_in_is_cut_at_the_message_timeout() {
    // Slowloris: a byte every 50 ms, never a newline. Each byte resets the
    // idle clock; the message clock runs from the first byte.
    let server = start(Config {
        message_timeout: Some(Duration::from_millis(400)),
        ..config()
    });
    let mut slow = server.client();
    // A whole line first: its bytes do not count against the next message.
    slow.send(b"ok\n");
    assert_eq!(slow.line(), "Hello, ok!\n");
    let started = Instant::now();
    let mut cut = None;
    for _ in 0..200 {
        if slow.stream.write_all(b"z").is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
        slow.stream.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 256];
        let got = std::io::Read::read(&mut slow.stream, &mut buf);
        slow.stream.set_nonblocking(false).unwrap();
        if let Ok(n) = got {
            cut = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            break;
        }
    }
    let cut = cut.expect("the server never cut the trickle");
    assert_eq!(cut, "Error: message not completed within 400ms\n");
    assert!(started.elapsed() >= Duration::from_millis(400));
    // Someone who sends whole lines slowly is not cut.
    let mut steady = server.client();
    for i in 0..6 {
        thread::sleep(Duration::from_millis(100));
        steady.send(format!("{i}\n").as_bytes());
        assert_eq!(steady.line(), format!("Hello, {i}!\n"));
    }
}

/// Sends empty lines without reading until the socket has taken nothing
/// for a while (the server stopped reading us), or `cap` bytes; returns
/// how many were sent. Bounded in bytes and time.
fn flood_until_stuck(stream: &TcpStream, cap: usize) -> usize {
    let mut stream = stream;
    let chunk = [b'\n'; 8192];
    let mut sent = 0;
    let mut stuck_since = None;
    stream.set_nonblocking(true).unwrap();
    while sent < cap {
        match stream.write(&chunk) {
            Ok(n) => {
                sent += n;
                stuck_since = None;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let since = *stuck_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(300) {
                    break;
                }
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("the server dropped a flooding client: {e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    sent
}

/// Reads until `replies` lines have come or the server closes; how many came.
fn read_lines(c: &mut LineClient, replies: usize) -> usize {
    let mut got = 0;
    let mut buf = vec![0; 64 * 1024];
    while got < replies {
        match c.stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += buf[..n].iter().filter(|&&b| b == b'\n').count(),
        }
    }
    got
}

#[test]
fn a_client_that_sends_without_reading_is_read_no_further_and_loses_nothing() {
    // Backpressure: a client that floods and never reads makes the server
    // stop reading it once its replies are stuck, holding at most one
    // read's input (32 KiB) and one step of replies (8 KiB) for it, beside
    // what the kernel holds unsent (64 KiB of send buffer, and up to one
    // segment more: 128 KiB). Two such clients fit a budget of 340 KiB;
    // decoding a whole read of empty lines at once would hold a read's
    // replies, 24 times the read (768 KiB) with this long reply, and
    // overflow it.
    let settings = tcpkit::wire::greeting::Settings {
        reply: tcpkit::wire::greeting::Template::parse(&format!("{}{{}}", ".".repeat(23))),
        ..Default::default()
    };
    let server = start(Config {
        max_buffered: Some(340 * 1024),
        send_buffer: Some(64 * 1024),
        settings,
        ..config()
    });
    let mut flooders: Vec<LineClient> = (0..2).map(|_| server.client()).collect();
    let sent: Vec<usize> = flooders
        .iter()
        .map(|c| flood_until_stuck(&c.stream, 64 << 20))
        .collect();
    for &n in &sent {
        assert!(
            n < 64 << 20,
            "the server kept reading a client that does not read"
        );
    }
    // Meanwhile others are served.
    let mut innocent = server.client();
    innocent.send(b"Michael\n");
    assert_eq!(innocent.line(), format!("{}Michael\n", ".".repeat(23)));
    // Once the flooders read, every reply comes: nothing was dropped.
    for (c, &n) in flooders.iter_mut().zip(&sent) {
        assert_eq!(read_lines(c, n), n, "replies lost");
    }
}

/// What the kernel holds unsent for the server's end of the connection
/// whose client is `client` (Send-Q in `ss`: `tx_queue` in /proc/net/tcp).
#[cfg(target_os = "linux")]
fn server_send_queue(client: &TcpStream) -> usize {
    let (server, client) = (client.peer_addr().unwrap(), client.local_addr().unwrap());
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port = |field: &str| u16::from_str_radix(field.rsplit(':').next().unwrap(), 16).unwrap();
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|f| port(f[1]) == server.port() && port(f[2]) == client.port())
        .map(|f| usize::from_str_radix(f[4].split(':').next().unwrap(), 16).unwrap())
        .expect("the server's socket in /proc/net/tcp")
}

#[test]
#[cfg(target_os = "linux")]
fn a_client_that_does_not_read_leaves_at_most_the_send_buffer_in_the_kernel() {
    // The goal (docs/protocol.md, "Memory"): at most 128 KiB unsent per
    // non-reading client with the default --send-buffer, where the kernel
    // alone would grow its buffer up to tcp_wmem's maximum (4 MiB here).
    let unbounded_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    for (send_buffer, bounded) in [(Some(server::DEFAULT_SEND_BUFFER), true), (None, false)] {
        let server = start(Config {
            send_buffer,
            max_buffered: None,
            ..config()
        });
        let flooder = server.client();
        flood_until_stuck(&flooder.stream, 64 << 20);
        let queued = server_send_queue(&flooder.stream);
        if bounded {
            assert!(
                queued <= 128 * 1024,
                "{queued} bytes unsent with --send-buffer 64KiB"
            );
            assert!(queued > 0, "the flood never filled the send buffer");
        } else if unbounded_max > 1 << 20 {
            // The control: the same flood, and the kernel's own sizing.
            assert!(
                queued > 128 * 1024,
                "only {queued} bytes unsent without a bound"
            );
        }
    }
}

#[test]
#[cfg(target_os = "linux")]
fn what_the_kernel_holds_for_a_non_reader_counts_against_the_budget() {
    // 60 KiB holds what the server itself keeps for a stuck client (a
    // read and a step of replies, 40 KiB), but not that and the kernel's
    // full send buffer: the flooder is closed, as over any budget.
    let server = start(Config {
        max_buffered: Some(60 * 1024),
        send_buffer: Some(64 * 1024),
        ..config()
    });
    let flooder = server.client();
    let (ended, sent) = flood_until_closed(&flooder.stream);
    assert!(
        matches!(
            ended,
            Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
        ),
        "a non-reader whose kernel share crosses the budget was not closed: {ended:?} after \
         {sent} bytes"
    );
}

/// Sends empty lines without reading until a write fails (the server
/// closed us), 64 MiB are sent, or the server has not read us for 5 s:
/// how it ended, and the bytes sent.
fn flood_until_closed(stream: &TcpStream) -> (Option<ErrorKind>, usize) {
    let mut stream = stream;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let chunk = [b'\n'; 8192];
    let mut sent = 0;
    let ended = loop {
        match stream.write(&chunk) {
            Ok(n) if sent < 64 << 20 => sent += n,
            Ok(_) => break None,
            Err(e) => break Some(e.kind()),
        }
    };
    (ended, sent)
}

#[test]
fn a_client_that_does_not_read_is_closed_when_the_budget_has_no_room() {
    // 4 KiB cannot hold one step of stuck replies (8 KiB): the flooder is
    // closed once the kernel's buffers are full, and others are served.
    let server = start(Config {
        max_buffered: Some(4 * 1024),
        ..config()
    });
    let flooder = server.client();
    let (ended, sent) = flood_until_closed(&flooder.stream);
    assert!(
        matches!(
            ended,
            Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
        ),
        "a non-reader over the budget was not closed: {ended:?} after {sent} bytes"
    );
    let mut innocent = server.client();
    innocent.send(b"Tracy\n");
    assert_eq!(innocent.line(), "Hello, Tracy!\n");
}

#[test]
fn input_waiting_on_delay_counts_against_the_budget() {
    let server = start(Config {
        max_buffered: Some(16),
        delay: Some(Duration::from_millis(10)),
        ..config()
    });
    let mut c = server.client();
    c.send(b"Michael\n");
    assert_eq!(c.line(), "Hello, Michael!\n");
    c.send(&b"Tracy\n".repeat(10));
    assert_eq!(
        c.line(),
        "Error: server busy: no room to buffer more input; retry later\n"
    );
    assert_eq!(c.rest(), b"");
}

/// Empty lines in one write, each answered `Hello, !` (9 bytes): sixteen
/// turns' worth of replies from one read.
const MANY_REPLIES: usize = 8 * 1024;

#[tokio::test(flavor = "current_thread")]
async fn a_read_that_asks_for_many_replies_lets_other_clients_have_their_turn() {
    // Server and clients share one thread, so the server runs only while
    // the test waits, and what a client finds in its socket is exactly
    // what the server had written by then. A read of 8,192 empty lines
    // answered in one go (as before turns were taken) puts all 8,192
    // replies out before another client is looked at.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    // The replies must all fit in the socket without the client reading,
    // so that only taking turns can stop the server before the last one.
    let config = Config {
        send_buffer: Some(1 << 20),
        ..config()
    };
    let server = tokio::spawn(server::run(vec![listener], config, async {
        let _ = stopped.await;
    }));
    let welcome = b"Welcome!\n".len();
    let mut flood = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut other = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = vec![0; 16 * 1024];
    for c in [&mut flood, &mut other] {
        let mut got = 0;
        while got < welcome {
            got += c.read(&mut buf).await.unwrap();
        }
    }
    flood.write_all(&[b'\n'; MANY_REPLIES]).await.unwrap();
    // The server has begun on the flood once its first replies are here.
    let mut flood_got = flood.read(&mut buf).await.unwrap();
    other.write_all(b"Michael\n").await.unwrap();
    let mut reply = Vec::new();
    while !reply.ends_with(b"\n") {
        let n = other.read(&mut buf).await.unwrap();
        assert!(n > 0, "the other client was closed");
        reply.extend_from_slice(&buf[..n]);
    }
    assert_eq!(reply, b"Hello, Michael!\n");
    loop {
        match flood.try_read(&mut buf) {
            Ok(n) if n > 0 => flood_got += n,
            _ => break,
        }
    }
    let reply_len = b"Hello, !\n".len();
    assert!(
        flood_got < MANY_REPLIES * reply_len,
        "the other client was answered only after all {MANY_REPLIES} replies to one read \
         ({flood_got} bytes of them were out)"
    );
    // And the flood is still answered in full, in order.
    let rest = MANY_REPLIES * reply_len - flood_got;
    let mut left = vec![0; rest];
    flood.read_exact(&mut left).await.unwrap();
    assert!(left.chunks(reply_len).all(|r| r == b"Hello, !\n"));
    let _ = stop.send(());
    server.await.unwrap();
}

#[test]
fn many_replies_are_all_sent_when_the_budget_has_no_room_to_hold_a_read() {
    // A read asking for more than one turn's replies waits for its next
    // turn with the rest held from the budget. With no room there (1 KiB
    // here), it is answered at once instead: every reply, in order, and
    // the connection goes on.
    let server = start(Config {
        max_buffered: Some(1024),
        ..config()
    });
    // Four turns' worth (18 KiB of replies): little enough for the
    // socket to take at once, since a client that did not take them would
    // be closed over this budget.
    let lines = 2048;
    let mut c = server.client();
    c.send(&vec![b'\n'; lines]);
    for i in 0..lines {
        assert_eq!(c.line(), "Hello, !\n", "reply {i}");
    }
    c.send(b"Michael\n");
    assert_eq!(c.line(), "Hello, Michael!\n");
    c.send(b"exit\n");
    assert_eq!(c.rest(), b"");
}

#[test]
fn the_builder_assembles_the_whole_server_as_serve_does() {
    // Service, metrics and agent ports, all on port 0: the addresses are
    // known once listen() returns, and each port answers.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(
            server::Builder::new(config())
                .bind("127.0.0.1:0")
                .metrics("127.0.0.1:0")
                .agent("127.0.0.1:0")
                .listen(),
        )
        .expect("listen");
    let addr = server.local_addrs()[0];
    let metrics = server.metrics_addr().expect("a metrics port");
    let agent = server.agent_addr().expect("an agent port");
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = thread::spawn(move || {
        runtime.block_on(server.run(async {
            let _ = stopped.await;
        }))
    });
    let mut c = LineClient::connect(addr);
    assert_eq!(c.line(), "Welcome!\n");
    c.send(b"Michael\n");
    assert_eq!(c.line(), "Hello, Michael!\n");
    let (head, body) = common::http_get(metrics, "GET /metrics HTTP/1.0\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    assert!(body.contains("tcpkit_connections_accepted_total"), "{body}");
    let mut agent = TcpStream::connect(agent).unwrap();
    agent.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut said = String::new();
    agent.read_to_string(&mut said).unwrap();
    assert!(said.starts_with("ready"), "{said}");
    c.send(b"exit\n");
    let _ = stop.send(());
    serving.join().unwrap();
    // An address in use is an error from listen(), before anything runs.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let refused = runtime.block_on(
        server::Builder::new(config())
            .bind(taken.local_addr().unwrap())
            .listen(),
    );
    let Err(e) = refused else {
        panic!("listened on an address in use")
    };
    assert_eq!(e.kind(), tcpkit::ErrorKind::AddrInUse, "{e}");
    // A library user is told the setting in the library's words; only
    // the binary speaks of flags, and the setting is there as data.
    let hint = e.hint().render(tcpkit::Naming::Fields);
    assert!(
        hint.contains("another address with `bind`") && !hint.contains("--"),
        "{hint}"
    );
    let flags = e.hint().render(tcpkit::Naming::Flags);
    assert!(flags.contains("another address with --bind"), "{flags}");
    assert_eq!(
        e.hint().settings().collect::<Vec<_>>(),
        [tcpkit::Setting::Bind]
    );
    let metrics_taken = runtime.block_on(
        server::Builder::new(config())
            .bind("127.0.0.1:0")
            .metrics(taken.local_addr().unwrap())
            .listen(),
    );
    let Err(e) = metrics_taken else {
        panic!("listened on an address in use")
    };
    let hint = e.hint().render(tcpkit::Naming::Fields);
    assert!(hint.contains("with `metrics`"), "{hint}");
}

#[test]
fn the_builder_makes_a_self_signed_server_with_its_limits() {
    // serve --tls-self-signed --max-connections 1 --metrics, from the
    // library alone: the PEM is written for clients to trust while the
    // server runs and removed when it stops; a TLS client that trusts it
    // is answered; the connection limit is the one given.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = config();
    let health = config.health.clone();
    let server = runtime
        .block_on(
            server::Builder::new(config)
                .bind("127.0.0.1:0")
                .metrics("127.0.0.1:0")
                .tls(tcpkit::tls::source::TlsSource::SelfSigned { out: None })
                .raise_fd_limit(Some(1))
                .listen(),
        )
        .expect("listen");
    let addr = server.local_addrs()[0];
    assert!(server.tls().is_some());
    let pem = server
        .made_cert()
        .expect("a made certificate")
        .path()
        .to_path_buf();
    assert!(
        std::fs::read_to_string(&pem)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = thread::spawn(move || {
        runtime.block_on(server.run(async {
            let _ = stopped.await;
        }))
    });
    let opts = tcpkit::talk::TalkOptions {
        addr: addr.to_string(),
        tls: Some(tcpkit::talk::TalkTls {
            cacert: Some(pem.clone()),
            insecure: false,
            servername: None,
        }),
        ..Default::default()
    };
    let mut out = Vec::new();
    tcpkit::talk::script(&opts, &["Michael".to_string()], &mut out).expect("a TLS session");
    assert_eq!(out, b"Welcome!\nHello, Michael!\n");
    // One connection at most: a second is closed at once (over TLS the
    // close alone says busy), where it would otherwise wait for its hello.
    // Once the TLS session's close is done, `first` takes the one slot.
    let open_becomes = |n: usize| {
        let deadline = Instant::now() + PATIENCE;
        while health.open_connections() != n && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(health.open_connections(), n);
    };
    open_becomes(0);
    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(b"\x16").unwrap();
    open_becomes(1);
    let mut second = TcpStream::connect(addr).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let refused = second.read(&mut [0; 64]);
    assert!(matches!(refused, Ok(0)), "{refused:?}");
    drop(first);
    let _ = stop.send(());
    serving.join().unwrap();
    assert!(!pem.exists(), "{} left behind", pem.display());
}
