//! The server's protocol on the in-memory transport (`server::memory`),
//! with tokio's clock paused: what a test needs to happen first happens
//! first, by construction, not after a sleep. Each test here was a
//! sleep-ordered test on real sockets ("time for the server to read it"),
//! or needs what real timing cannot arrange: input that is in the socket,
//! unseen, at the very moment the grace ends. The network itself is tested
//! on real sockets in `tests/server.rs`.

use std::time::Duration;

use tcpkit::server::{self, Config, memory};
use tcpkit::wire::greeting::{Framing, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server on the in-memory transport, and the means to stop it.
struct Server {
    connector: memory::Connector,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

fn start(config: Config) -> Server {
    let (listener, connector) = memory::listener();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::serve_on(vec![listener], config, async {
        let _ = stopped.await;
    }));
    Server {
        connector,
        stop: Some(stop),
        task,
    }
}

fn config() -> Config {
    Config {
        linger: Duration::from_millis(500),
        grace: Duration::from_secs(5),
        ..Config::default()
    }
}

impl Server {
    /// A client that has read the welcome.
    async fn client(&self) -> Client {
        let mut c = Client {
            inner: self.connector.connect().expect("connect"),
            got: Vec::new(),
        };
        assert_eq!(c.line().await, "Welcome!\n");
        c
    }

    /// A client that has sent a whole line, so the connection is
    /// line-framed: until then, auto framing answers every read as it
    /// comes and holds nothing.
    async fn line_client(&self) -> Client {
        let mut c = self.client().await;
        c.send(b"\n").await;
        assert_eq!(c.line().await, "Hello, !\n");
        c
    }

    /// Starts the shutdown; `run` goes on in its task.
    fn shut_down(&mut self) {
        let _ = self.stop.take().map(|stop| stop.send(()));
    }

    /// Shuts down and waits until `run` has returned.
    async fn stopped(mut self) {
        self.shut_down();
        (&mut self.task).await.expect("the server task");
    }
}

/// One connection as a test drives it: whole lines in, bytes out.
struct Client {
    inner: memory::Client,
    got: Vec<u8>,
}

impl Client {
    async fn send(&mut self, bytes: &[u8]) {
        self.inner.write_all(bytes).await.expect("send");
    }

    /// Sends, then waits until the server has read it all and waits for
    /// more: what a sleep used to stand for.
    async fn send_and_wait(&mut self, bytes: &[u8]) {
        self.send(bytes).await;
        self.inner.until_waiting().await;
    }

    /// The next line (with its newline); what is left at the end.
    async fn line(&mut self) -> String {
        loop {
            if let Some(end) = self.got.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.got.drain(..=end).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            let mut buf = vec![0; 64 * 1024];
            match self.inner.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    return String::from_utf8_lossy(&std::mem::take(&mut self.got)).into_owned();
                }
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Everything until the end of the stream; the error that ended it
    /// instead, if one did.
    async fn rest(&mut self) -> Result<Vec<u8>, std::io::ErrorKind> {
        let mut rest = std::mem::take(&mut self.got);
        match self.inner.read_to_end(&mut rest).await {
            Ok(_) => Ok(rest),
            Err(e) => Err(e.kind()),
        }
    }
}

fn long_line(n: usize) -> Vec<u8> {
    vec![b'x'; n]
}

#[tokio::test(start_paused = true)]
async fn input_unseen_when_the_grace_ends_is_answered_before_the_close() {
    // "Michael" is in the socket but the server has not noticed it when
    // the grace ends: it must read it and answer it, then close. Skipping
    // that (closing at once) sends the welcome and an end, and a close
    // without the lingering drain would reset the connection.
    let mut server = start(Config {
        grace: Duration::from_millis(300),
        ..config()
    });
    let mut c = server.client().await;
    c.inner.hold_input();
    c.send(b"Michael\n").await;
    server.shut_down();
    assert_eq!(c.line().await, "Hello, Michael!\n");
    assert_eq!(
        c.rest().await,
        Ok(Vec::new()),
        "a clean close after the reply"
    );
    server.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_close_with_unread_input_resets_and_the_lingering_close_prevents_it() {
    // The transport keeps TCP's rule, or the test above would prove
    // nothing: a side that closes with input unread resets the
    // connection, and what the other side had not read yet is lost. The
    // server's `exit` with junk behind it is answered and closed cleanly.
    let server = start(config());
    let mut c = server.client().await;
    c.send(b"Michael\nexit\njunk after exit\n").await;
    assert_eq!(c.line().await, "Hello, Michael!\n");
    assert_eq!(c.rest().await, Ok(Vec::new()));

    let (listener, connector) = memory::listener();
    let mut raw = connector.connect().expect("connect");
    let accepted = {
        use tcpkit::server::{Accept, Socket};
        let (socket, _) = listener.accept().await.expect("accept");
        socket.write_now(b"a reply\n").expect("write");
        socket
    };
    raw.write_all(b"input never read\n").await.expect("send");
    drop(accepted);
    let mut got = Vec::new();
    let read = raw.read_to_end(&mut got).await;
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );
    assert_eq!(got, b"", "the reset destroyed the reply");
}

#[tokio::test(start_paused = true)]
async fn odd_splits_one_byte_at_a_time() {
    // Each byte is its own read: the server has read every byte before
    // the next is sent.
    let server = start(Config {
        settings: Settings {
            framing: Framing::Line,
            ..Default::default()
        },
        ..config()
    });
    let mut c = server.client().await;
    for b in b"Mi\r\nch\nael\r" {
        c.send_and_wait(&[*b]).await;
    }
    c.send(b"\nexit\n").await;
    assert_eq!(
        c.rest().await,
        Ok(b"Hello, Mi!\r\nHello, ch!\nHello, ael!\r\n".to_vec())
    );
}

#[tokio::test(start_paused = true)]
async fn unfinished_messages_share_one_budget() {
    // Two 60,000-byte unfinished lines do not fit in 100 KiB: the second
    // is refused, the first is answered, and a short message still is.
    let server = start(Config {
        max_buffered: Some(100 * 1024),
        ..config()
    });
    let mut first = server.line_client().await;
    first.send_and_wait(&long_line(60_000)).await;
    let mut second = server.line_client().await;
    second.send(&long_line(60_000)).await;
    assert_eq!(
        second.line().await,
        "Error: server busy: no room to buffer more input; retry later\n"
    );
    assert_eq!(
        second.rest().await,
        Ok(Vec::new()),
        "closed after the refusal"
    );
    first.send(b"\n").await;
    assert_eq!(first.line().await.len(), "Hello, !\n".len() + 60_000);
    let mut short = server.client().await;
    short.send(b"Sarah\n").await;
    assert_eq!(short.line().await, "Hello, Sarah!\n");
    // A client that leaves in the middle of a long line gives its share
    // back as well: two more unfinished lines fit together afterwards.
    let mut leaver = server.line_client().await;
    leaver.send_and_wait(&long_line(60_000)).await;
    drop(leaver);
    let mut a = server.line_client().await;
    let mut b = server.line_client().await;
    a.send_and_wait(&long_line(25_000)).await;
    b.send_and_wait(&long_line(25_000)).await;
    for c in [&mut a, &mut b] {
        c.send(b"\n").await;
        assert_eq!(c.line().await.len(), "Hello, !\n".len() + 25_000);
    }
    server.stopped().await;

    // The lowest budget, 1 byte, refuses any unfinished message.
    let tiny = start(Config {
        max_buffered: Some(1),
        ..config()
    });
    let mut c = tiny.line_client().await;
    c.send(b"Mic").await;
    assert!(c.line().await.starts_with("Error: server busy"));
    let mut whole = tiny.client().await;
    whole.send(b"Michael\n").await;
    assert_eq!(whole.line().await, "Hello, Michael!\n");

    // No budget: both long lines are held.
    let open = start(Config {
        max_buffered: None,
        ..config()
    });
    let mut a = open.line_client().await;
    let mut b = open.line_client().await;
    a.send_and_wait(&long_line(60_000)).await;
    b.send_and_wait(&long_line(60_000)).await;
    a.send(b"\n").await;
    b.send(b"\n").await;
    assert_eq!(a.line().await.len(), "Hello, !\n".len() + 60_000);
    assert_eq!(b.line().await.len(), "Hello, !\n".len() + 60_000);
}

#[tokio::test(start_paused = true)]
async fn a_refused_client_gives_its_share_back_at_once() {
    // B's 30,000-byte line (one read) is cut by the message timeout; B
    // stays connected while the server lingers up to 5 s. C's 20,000
    // bytes fit in 45,000 only if B's share came back at the refusal, not
    // at the close.
    let server = start(Config {
        max_buffered: Some(45_000),
        message_timeout: Some(Duration::from_millis(300)),
        linger: Duration::from_secs(5),
        ..config()
    });
    let mut b = server.line_client().await;
    b.send(&long_line(30_000)).await;
    assert_eq!(
        b.line().await,
        "Error: message not completed within 300ms\n"
    );
    let mut c = server.line_client().await;
    c.send_and_wait(&long_line(20_000)).await;
    c.send(b"\n").await;
    assert_eq!(c.line().await.len(), "Hello, !\n".len() + 20_000);
    drop(b);
}

#[tokio::test(start_paused = true)]
async fn at_the_end_of_the_grace_what_was_received_is_answered_then_closed() {
    // "a" is being answered (--delay) when the grace ends; "b" came
    // meanwhile and waits unread. Both are answered, then the close:
    // input already received is never dropped at shutdown.
    let mut server = start(Config {
        delay: Some(Duration::from_millis(400)),
        grace: Duration::from_millis(300),
        ..config()
    });
    let mut c = server.client().await;
    server.shut_down();
    c.send(b"a\n").await;
    c.inner.until_read().await;
    c.send(b"b\n").await;
    assert_eq!(c.rest().await, Ok(b"Hello, a!\nHello, b!\n".to_vec()));
    server.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_stops_the_server_at_the_window() {
    // The window is the send buffer: replies stop there, the rest of the
    // input waits (held from the budget), and nothing is lost once the
    // client reads.
    let server = start(Config {
        send_buffer: Some(4096),
        ..config()
    });
    let mut c = server.client().await;
    let messages = 2_000;
    c.send(&b"Michael\n".repeat(messages)).await;
    // Stuck at the window before the client reads a byte.
    c.inner.until_unread(4096).await;
    c.send(b"exit\n").await;
    let rest = c.rest().await.expect("the replies");
    assert_eq!(rest, b"Hello, Michael!\n".repeat(messages));
}

#[tokio::test(start_paused = true)]
async fn linger_zero_closes_at_once_and_unread_input_makes_it_a_reset() {
    // `--linger 0`: no half-close and no drain, the close() a program
    // makes without thinking. 40,000 bytes after `exit` are more than one
    // read takes, so input is left unread: the close is a reset. (Draining
    // "for no time" read them all in its first poll, and closed cleanly.)
    let server = start(Config {
        linger: Duration::ZERO,
        ..config()
    });
    let mut c = server.client().await;
    let mut input = b"Michael\nexit\n".to_vec();
    input.extend(long_line(40_000));
    c.send(&input).await;
    assert_eq!(c.rest().await, Err(std::io::ErrorKind::ConnectionReset));
    // The lingering close reads the rest and closes cleanly.
    let server = start(config());
    let mut c = server.client().await;
    c.send(&input).await;
    assert_eq!(c.rest().await, Ok(b"Hello, Michael!\n".to_vec()));
}

#[tokio::test(start_paused = true)]
async fn the_double_bounds_the_client_to_server_direction() {
    // A server that does not notice input reads none: a client's write
    // stops at the window, as the kernel's buffers stop it.
    let server = start(config());
    let mut c = server.client().await;
    c.inner.hold_input();
    let big = vec![b'x'; 64 << 20];
    let write = tokio::time::timeout(Duration::from_secs(1), c.inner.write_all(&big)).await;
    assert!(write.is_err(), "64 MiB went to a server that reads nothing");
    c.inner.release_input();
    drop(c);
    server.stopped().await;
}

#[tokio::test(start_paused = true)]
async fn the_double_refuses_connects_and_resets_the_queue_when_the_listener_goes() {
    let (listener, connector) = memory::listener();
    let mut queued = connector.connect().expect("connect while listening");
    drop(listener);
    let refused = connector.connect().err().map(|e| e.kind());
    assert_eq!(refused, Some(std::io::ErrorKind::ConnectionRefused));
    let mut buf = [0; 16];
    let read = queued.read(&mut buf).await.map_err(|e| e.kind());
    assert_eq!(read, Err(std::io::ErrorKind::ConnectionReset));
    let write = queued.write_all(b"hi\n").await.map_err(|e| e.kind());
    assert!(write.is_err(), "{write:?}");
}
