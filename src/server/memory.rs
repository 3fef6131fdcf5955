//! An in-memory transport: a [`Listener`] the server accepts from and the
//! [`Client`]s a test connects with, for tests that must control what the
//! server sees and when, without sleeping. Serve it with
//! [`super::serve_on`]; the real sockets stay the rule for everything
//! else (`tests/server.rs`).
//!
//! It keeps what a test relies on from TCP, and makes the timing exact:
//! - Bytes go through a window each way (256 KiB; the server's side as
//!   [`super::Config::send_buffer`] bounds it): a side that does not read
//!   makes the other's writes stop there, as the kernel's buffers do.
//! - A connect once the listener is gone is refused, and connections still
//!   waiting to be accepted when it goes are reset, as the kernel does
//!   with a closed listener's queue (the reuse-port hand-over case).
//! - A side that closes with input it has not read resets the
//!   connection: the other side's unread bytes are lost and its next read
//!   fails with `ConnectionReset`. That is the worst a TCP reset does
//!   (Windows drops what was not read; Linux hands it over first, and a
//!   client that stops at its failed write never reads it either), and
//!   why the server's lingering close matters: here a test can see it.
//! - [`Client::until_waiting`] resolves once the server has read every
//!   byte sent and is waiting for more: the moment a sleep "to let the
//!   server read it" was guessing at.
//! - [`Client::hold_input`] keeps the server from noticing input (its
//!   readiness), as an event loop that has not run yet; a read still
//!   finds the bytes, as it would in a socket.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one side holds for the other before writes stop, unless bounded.
const DEFAULT_WINDOW: usize = 256 * 1024;

/// Bytes going one way.
struct Pipe {
    bytes: VecDeque<u8>,
    /// The most `bytes` may hold before writes stop.
    window: usize,
    /// The writer ended its side: reads find the end once `bytes` is empty.
    closed: bool,
    /// The connection was reset: reads fail.
    reset: bool,
    /// Who waits for bytes, and who waits for room.
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Pipe {
    fn new(window: usize) -> Pipe {
        Pipe {
            bytes: VecDeque::new(),
            window,
            closed: false,
            reset: false,
            reader: None,
            writer: None,
        }
    }

    fn wake(&mut self) {
        for waker in [self.reader.take(), self.writer.take()]
            .into_iter()
            .flatten()
        {
            waker.wake();
        }
    }

    /// Takes what is there into `buf`; `None` when there is nothing yet.
    fn take(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        if self.reset {
            return Some(Err(io::ErrorKind::ConnectionReset.into()));
        }
        if self.bytes.is_empty() {
            return self.closed.then_some(Ok(0));
        }
        let n = buf.len().min(self.bytes.len());
        for (to, from) in buf.iter_mut().zip(self.bytes.drain(..n)) {
            *to = from;
        }
        if let Some(writer) = self.writer.take() {
            writer.wake();
        }
        Some(Ok(n))
    }

    /// Puts what fits of `bytes`; `None` when nothing fits now.
    fn put(&mut self, bytes: &[u8]) -> Option<io::Result<usize>> {
        if self.reset || self.closed {
            return Some(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let n = bytes
            .len()
            .min(self.window.saturating_sub(self.bytes.len()));
        if n == 0 && !bytes.is_empty() {
            return None;
        }
        self.bytes.extend(&bytes[..n]);
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
        Some(Ok(n))
    }

    /// The side writing into this pipe went away: the reader finds the
    /// end, or, when the writer left input of its own unread, a reset.
    fn writer_gone(&mut self, left_unread: bool) {
        if left_unread {
            self.reset = true;
            self.bytes.clear();
        }
        self.closed = true;
        self.wake();
    }
}

/// One connection: both directions and what the test watches.
struct Link {
    /// Client to server.
    up: Pipe,
    /// Server to client.
    down: Pipe,
    /// The server does not notice input (see [`Client::hold_input`]).
    held: bool,
    /// The server found no input and waits for more.
    server_waiting: bool,
    /// The server's end is gone.
    server_gone: bool,
    /// Tests waiting for the server to wait.
    watchers: Vec<Waker>,
}

type Shared = Arc<Mutex<Link>>;

fn lock(link: &Shared) -> MutexGuard<'_, Link> {
    // A panic elsewhere in a test leaves the state as it was: go on.
    link.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The server's end of a connection.
pub struct MemorySocket {
    link: Shared,
}

/// A test's end of a connection: [`AsyncRead`] and [`AsyncWrite`], and
/// the waits that replace sleeps.
pub struct Client {
    link: Shared,
    /// The address the server sees it at.
    addr: SocketAddr,
}

/// Connections waiting to be accepted.
#[derive(Default)]
struct Backlog {
    waiting: VecDeque<(MemorySocket, SocketAddr)>,
    acceptor: Option<Waker>,
    /// The listener is gone: connects are refused.
    closed: bool,
}

/// The listening end: hand it to [`super::serve_on`].
pub struct Listener {
    backlog: Arc<Mutex<Backlog>>,
}

/// Connects [`Client`]s to a [`Listener`].
#[derive(Clone)]
pub struct Connector {
    backlog: Arc<Mutex<Backlog>>,
    ports: Arc<AtomicU16>,
}

/// A listener and the connector for its clients.
pub fn listener() -> (Listener, Connector) {
    let backlog = Arc::new(Mutex::new(Backlog::default()));
    let connector = Connector {
        backlog: backlog.clone(),
        ports: Arc::new(AtomicU16::new(40000)),
    };
    (Listener { backlog }, connector)
}

impl Connector {
    /// A new connection, from 127.0.0.1 and a port of its own; refused
    /// once the listener is gone.
    pub fn connect(&self) -> io::Result<Client> {
        let port = self.ports.fetch_add(1, Ordering::Relaxed);
        self.connect_from(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// A new connection that the server sees as coming from `addr`.
    pub fn connect_from(&self, addr: SocketAddr) -> io::Result<Client> {
        let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        if backlog.closed {
            return Err(io::ErrorKind::ConnectionRefused.into());
        }
        let link = Arc::new(Mutex::new(Link {
            up: Pipe::new(DEFAULT_WINDOW),
            down: Pipe::new(DEFAULT_WINDOW),
            held: false,
            server_waiting: false,
            server_gone: false,
            watchers: Vec::new(),
        }));
        backlog
            .waiting
            .push_back((MemorySocket { link: link.clone() }, addr));
        if let Some(acceptor) = backlog.acceptor.take() {
            acceptor.wake();
        }
        Ok(Client { link, addr })
    }
}

impl Drop for Listener {
    /// Refuses connects from now on, and resets every connection still
    /// waiting to be accepted: its client's reads and writes fail.
    fn drop(&mut self) {
        let waiting = {
            let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
            backlog.closed = true;
            std::mem::take(&mut backlog.waiting)
        };
        for (socket, _) in waiting {
            let mut guard = lock(&socket.link);
            let link = &mut *guard;
            for pipe in [&mut link.up, &mut link.down] {
                pipe.reset = true;
                pipe.bytes.clear();
                pipe.wake();
            }
        }
    }
}

impl super::Accept for Listener {
    type Socket = MemorySocket;

    fn accept(&self) -> impl Future<Output = io::Result<(MemorySocket, SocketAddr)>> + Send {
        poll_fn(|cx| {
            let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
            match backlog.waiting.pop_front() {
                Some(accepted) => Poll::Ready(Ok(accepted)),
                None => {
                    backlog.acceptor = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

impl super::Socket for MemorySocket {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut link = lock(&self.link);
        let up = &link.up;
        if up.reset || (!link.held && (!up.bytes.is_empty() || up.closed)) {
            return Poll::Ready(Ok(()));
        }
        link.up.reader = Some(cx.waker().clone());
        if link.up.bytes.is_empty() {
            link.server_waiting = true;
            for watcher in link.watchers.drain(..) {
                watcher.wake();
            }
        }
        Poll::Pending
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut link = lock(&self.link);
        let down = &link.down;
        if down.reset || down.closed || down.bytes.len() < down.window {
            return Poll::Ready(Ok(()));
        }
        link.down.writer = Some(cx.waker().clone());
        Poll::Pending
    }

    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut link = lock(&self.link);
        let read = link.up.take(buf);
        for watcher in link.watchers.drain(..) {
            watcher.wake();
        }
        read.unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
    }

    fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        lock(&self.link)
            .down
            .put(bytes)
            .unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into()))
    }

    fn shutdown_write(&self) -> io::Result<()> {
        lock(&self.link).down.writer_gone(false);
        Ok(())
    }

    fn unsent(&self) -> usize {
        lock(&self.link).down.bytes.len()
    }

    fn bound_unsent(&self, bytes: usize) -> io::Result<()> {
        lock(&self.link).down.window = bytes;
        Ok(())
    }

    fn unread(&self) -> usize {
        lock(&self.link).up.bytes.len()
    }
}

impl Drop for MemorySocket {
    fn drop(&mut self) {
        let mut link = lock(&self.link);
        let unread = !link.up.bytes.is_empty();
        link.down.writer_gone(unread);
        link.up.closed = true;
        link.up.wake();
        link.server_gone = true;
        for watcher in link.watchers.drain(..) {
            watcher.wake();
        }
    }
}

impl Client {
    /// The address the server sees this client at.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Resolves once the server has read everything sent so far and is
    /// waiting for more (or once the server's end is gone): whatever it
    /// does with a read is done.
    pub fn until_waiting(&self) -> impl Future<Output = ()> + '_ {
        self.until(|link| link.server_waiting && link.up.bytes.is_empty())
    }

    /// Resolves once the server has read everything sent so far (or its
    /// end is gone); it may still be answering.
    pub fn until_read(&self) -> impl Future<Output = ()> + '_ {
        self.until(|link| link.up.bytes.is_empty())
    }

    /// Resolves once `bytes` of the server's writes wait unread here (or
    /// its end is gone).
    pub fn until_unread(&self, bytes: usize) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            let mut link = lock(&self.link);
            if link.down.bytes.len() >= bytes || link.server_gone {
                return Poll::Ready(());
            }
            link.down.reader = Some(cx.waker().clone());
            Poll::Pending
        })
    }

    /// Resolves once `done` says so, or the server's end is gone; asked
    /// again whenever the server reads or finds nothing to read.
    fn until<'a>(&'a self, done: impl Fn(&Link) -> bool + 'a) -> impl Future<Output = ()> + 'a {
        poll_fn(move |cx| {
            let mut link = lock(&self.link);
            if done(&link) || link.server_gone {
                return Poll::Ready(());
            }
            link.watchers.push(cx.waker().clone());
            Poll::Pending
        })
    }

    /// From now on the server does not notice this client's input (it is
    /// in the socket, unseen, as before an event loop's next turn) until
    /// [`Client::release_input`]; a read still finds it.
    pub fn hold_input(&self) {
        lock(&self.link).held = true;
    }

    /// Lets the server notice the input again.
    pub fn release_input(&self) {
        let mut link = lock(&self.link);
        link.held = false;
        link.up.wake();
    }

    /// Bytes the server has written that this client has not read.
    pub fn unread(&self) -> usize {
        lock(&self.link).down.bytes.len()
    }
}

impl AsyncRead for Client {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut link = lock(&self.link);
        match link.down.take(buf.initialize_unfilled()) {
            Some(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => {
                link.down.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for Client {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut link = lock(&self.link);
        match link.up.put(bytes) {
            Some(Ok(n)) => {
                link.server_waiting = false;
                Poll::Ready(Ok(n))
            }
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => {
                link.up.writer = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        lock(&self.link).up.writer_gone(false);
        Poll::Ready(Ok(()))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let mut link = lock(&self.link);
        let unread = !link.down.bytes.is_empty();
        link.up.writer_gone(unread);
        link.down.closed = true;
        link.down.wake();
    }
}
