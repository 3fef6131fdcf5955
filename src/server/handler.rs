//! One connection: welcome, read, answer, close.
//!
//! An idle connection owns no buffer. Reads go into a per-thread scratch
//! buffer right after the socket is readable, the [`Decoder`] appends every
//! reply of that read to a per-thread output buffer, and the whole batch goes
//! out in one write. Only what the socket would not take at once (or a read
//! held back by `--delay`) is copied into memory the connection owns.
//! This keeps the per-connection footprint to the task and its socket.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::Shared;
use tcpkit_wire::Escaped;
use tcpkit_wire::greeting::{Close, Decoder, Progress};

/// The size of one read from a socket.
const READ_SIZE: usize = 64 * 1024;
/// At shutdown, answer at most this many reads already waiting in the socket.
const SHUTDOWN_READS: usize = 64;

/// Buffers lent to whichever connection runs on this thread between awaits.
struct Scratch {
    input: Vec<u8>,
    output: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        input: vec![0; READ_SIZE],
        output: Vec::with_capacity(READ_SIZE),
    });
}

/// Why a connection ended; logged with its close.
#[derive(Debug)]
enum Ending {
    Exit,
    TooLong,
    ClientClosed,
    IdleTimeout,
    WriteTimeout,
    Shutdown,
    Killed,
    Failed(io::Error),
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Exit => f.write_str("client sent exit"),
            Ending::TooLong => f.write_str("message too long"),
            Ending::ClientClosed => f.write_str("client closed"),
            Ending::IdleTimeout => f.write_str("idle timeout"),
            Ending::WriteTimeout => f.write_str("client did not read its replies in time"),
            Ending::Shutdown => f.write_str("server shutting down"),
            Ending::Killed => f.write_str("dropped at the end of the grace period"),
            Ending::Failed(e) => write!(f, "error: {e}"),
        }
    }
}

impl From<Close> for Ending {
    fn from(close: Close) -> Self {
        match close {
            Close::Exit => Ending::Exit,
            Close::TooLong => Ending::TooLong,
        }
    }
}

/// What an idle connection woke up for.
enum Wake {
    Readable,
    Cancelled,
    IdleTimeout,
    Failed(io::Error),
}

/// An answer given at once, or one that must wait (boxed, see
/// [`Handler::read_and_answer`]).
enum Answer<'a> {
    Done(Option<Ending>),
    Later(Pin<Box<dyn Future<Output = Option<Ending>> + Send + 'a>>),
}

/// The outcome of one read.
enum Step {
    /// Nothing to read after all (a spurious wake-up).
    WouldBlock,
    /// Answered; `unsent` holds what the socket would not take at once,
    /// `unread` what `--delay` holds back for later.
    Answered {
        close: Option<Ending>,
        unsent: Vec<u8>,
        unread: Vec<u8>,
    },
}

/// Serves one connection to the end and logs how it ended.
///
/// A plain fn returning the connection's future: as an `async fn`,
/// its arguments would keep slots of their own in every connection's task
/// after being moved into the handler.
pub(super) fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
) -> impl Future<Output = ()> + Send {
    info!("Accept new connection from {peer}...");
    // Replies are small and must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let mut handler = Handler {
        decoder: Decoder::new(shared.settings.framing),
        stream,
        peer,
        shared,
        messages: 0,
        _permit: permit,
    };
    // An `async move` block that uses the captured handler in place; an
    // `async fn run(mut self)` would copy it into a second slot.
    async move {
        let ending = handler.serve().await;
        match ending {
            // The socket is broken, the client is not reading, or time is up.
            Ending::Failed(_) | Ending::WriteTimeout | Ending::Killed => {}
            _ => {
                let shared = handler.shared.clone();
                // Bound first: a temporary would keep a slot in this future.
                let closing = killable(&shared.kill, handler.close_gracefully());
                closing.await;
            }
        }
        info!(
            "Connection from {} closed. ({ending}, {} message{})",
            handler.peer,
            handler.messages,
            if handler.messages == 1 { "" } else { "s" }
        );
    }
}

/// Owns one connection.
struct Handler {
    /// The client's socket.
    stream: TcpStream,
    /// The client's address, for logs.
    peer: SocketAddr,
    /// Framing state: chunk or line, and any partial line.
    decoder: Decoder,
    /// Settings shared by all connections.
    shared: Arc<Shared>,
    /// Messages answered so far.
    messages: u64,
    /// This connection's place under `--max-connections`, given back on drop.
    _permit: OwnedSemaphorePermit,
}

impl Handler {
    async fn serve(&mut self) -> Ending {
        // The welcome nearly always fits the empty socket buffer at once;
        // only a remainder takes the boxed, killable path.
        let welcomed = match write_now(&self.stream, &self.shared.welcome) {
            Ok(n) => n,
            Err(e) => return Ending::Failed(e),
        };
        if welcomed < self.shared.welcome.len() {
            let shared = self.shared.clone();
            let rest = &shared.welcome[welcomed..];
            if let Err(ending) = killable(&shared.kill, self.write(rest))
                .await
                .unwrap_or(Err(Ending::Killed))
            {
                return ending;
            }
        }
        // One waiter, registered once and kept for the whole connection: it
        // hears the idle clock's ticks and the shutdown. Making a timer and
        // a waiter afresh for every wait would cost two registrations per
        // read, which a busy connection does millions of times.
        let shared = self.shared.clone();
        let mut events = std::pin::pin!(shared.clock.events.notified());
        let mut last_input = shared.clock.now();
        loop {
            match self
                .wait_for_input(&shared, events.as_mut(), last_input)
                .await
            {
                Wake::Readable => {}
                Wake::Cancelled => {
                    return killable(&shared.kill, self.answer_waiting_input())
                        .await
                        .unwrap_or(Ending::Killed);
                }
                Wake::IdleTimeout => return Ending::IdleTimeout,
                Wake::Failed(e) => return Ending::Failed(e),
            }
            let ending = match self.read_and_answer() {
                Answer::Done(ending) => ending,
                Answer::Later(answering) => answering.await,
            };
            if let Some(ending) = ending {
                return ending;
            }
            last_input = shared.clock.now();
        }
    }

    /// The only await of an idle connection, so it is kept small: the
    /// socket's readiness is polled through its own waker slot rather than a
    /// `readable()` future, and time and shutdown come through one waiter
    /// on the shared idle clock.
    async fn wait_for_input<'a>(
        &self,
        shared: &'a Shared,
        mut events: Pin<&mut tokio::sync::futures::Notified<'a>>,
        last_input: u32,
    ) -> Wake {
        std::future::poll_fn(|cx| {
            if shared.token.is_cancelled() {
                return Poll::Ready(Wake::Cancelled);
            }
            match self.stream.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(Wake::Readable),
                Poll::Ready(Err(e)) => return Poll::Ready(Wake::Failed(e)),
                Poll::Pending => {}
            }
            // A tick or the shutdown: re-arm the waiter (a notification
            // uses it up), then look at the clock and the token.
            while events.as_mut().poll(cx).is_ready() {
                events.set(shared.clock.events.notified());
                if shared.token.is_cancelled() {
                    return Poll::Ready(Wake::Cancelled);
                }
                if shared.clock.expired(last_input) {
                    return Poll::Ready(Wake::IdleTimeout);
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Reads once and answers; returns how the connection ends, if it
    /// does. Synchronous unless the answer must wait (a write the socket
    /// would not take, `--delay`): only then is a future made, boxed, so
    /// the rare path adds one pointer to every connection's state.
    fn read_and_answer(&mut self) -> Answer<'_> {
        match self.step() {
            Ok(Step::WouldBlock) => Answer::Done(None),
            Err(e) => Answer::Done(Some(Ending::Failed(e))),
            Ok(Step::Answered {
                close,
                unsent,
                unread,
            }) if unsent.is_empty() && unread.is_empty() => Answer::Done(close),
            Ok(Step::Answered {
                close,
                unsent,
                unread,
            }) => Answer::Later(Box::pin(async move {
                let kill = self.shared.kill.clone();
                if !unread.is_empty() {
                    return tokio::select! {
                        biased;
                        _ = kill.cancelled() => Some(Ending::Killed),
                        ending = self.answer_slowly(unread) => ending,
                    };
                }
                let written = tokio::select! {
                    biased;
                    _ = kill.cancelled() => Err(Ending::Killed),
                    written = self.write(&unsent) => written,
                };
                match written {
                    Err(ending) => Some(ending),
                    Ok(()) => close,
                }
            })),
        }
    }

    /// The hot path: one read, every reply it calls for, one write, all
    /// without awaiting, so the thread's scratch buffers can be used.
    fn step(&mut self) -> io::Result<Step> {
        SCRATCH.with_borrow_mut(|scratch| {
            let Scratch { input, output } = scratch;
            output.clear();
            let settings = &self.shared.settings;
            let (progress, read) = match read_now(&self.stream, input) {
                Ok(0) => {
                    let progress = self.decoder.finish(settings, output);
                    (progress, &input[..0])
                }
                Ok(n) => {
                    let read = &input[..n];
                    debug!("{}: read {n} bytes: {}", self.peer, Escaped(read));
                    if self.shared.delay.is_some() {
                        return Ok(Step::Answered {
                            close: None,
                            unsent: Vec::new(),
                            unread: read.to_vec(),
                        });
                    }
                    (
                        self.decoder.decode(settings, read, output, usize::MAX),
                        read,
                    )
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Step::WouldBlock),
                Err(e) => return Err(e),
            };
            self.messages += progress.replies as u64;
            let close = ending_of(&progress, read.is_empty());
            let sent = write_now(&self.stream, output)?;
            Ok(Step::Answered {
                close,
                unsent: output[sent..].to_vec(),
                unread: Vec::new(),
            })
        })
    }

    /// `--delay`: answers the messages of one read one at a time, waiting
    /// before each reply. Only this connection waits.
    async fn answer_slowly(&mut self, input: Vec<u8>) -> Option<Ending> {
        let delay = self.shared.delay.unwrap_or_default();
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            out.clear();
            let rest = &input[pos..];
            let progress = if rest.is_empty() {
                Progress::default()
            } else {
                self.decoder
                    .decode(&self.shared.settings, rest, &mut out, 1)
            };
            pos += progress.consumed;
            if progress.replies == 0 && progress.close.is_none() {
                return None;
            }
            if progress.replies > 0 {
                tokio::time::sleep(delay).await;
                self.messages += 1;
            }
            if let Err(ending) = self.write(&out).await {
                return Some(ending);
            }
            if let Some(close) = progress.close {
                return Some(close.into());
            }
        }
    }

    /// Shutdown has begun: answer what the client already sent, then end.
    async fn answer_waiting_input(&mut self) -> Ending {
        for _ in 0..SHUTDOWN_READS {
            match self.step() {
                Ok(Step::WouldBlock) => break,
                Err(e) => return Ending::Failed(e),
                Ok(Step::Answered {
                    close,
                    unsent,
                    unread,
                }) => {
                    if !unread.is_empty()
                        && let Some(ending) = self.answer_slowly(unread).await
                    {
                        return ending;
                    }
                    if let Err(ending) = self.write(&unsent).await {
                        return ending;
                    }
                    if let Some(ending) = close {
                        return ending;
                    }
                }
            }
        }
        Ending::Shutdown
    }

    /// Writes all of `bytes` within the write timeout.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), Ending> {
        if bytes.is_empty() {
            return Ok(());
        }
        match timeout(self.shared.write_timeout, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Ending::Failed(e)),
            Err(_) => Err(Ending::WriteTimeout),
        }
    }

    /// Nginx's lingering close: shut down our side, then read and discard
    /// what the client still sends, for a bounded time. Closing a socket
    /// with unread input makes the kernel send a reset, and a reset can
    /// destroy replies the client has not read yet.
    async fn close_gracefully(&mut self) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let drain = async {
            loop {
                // Wait first: the client's close cannot be here before it
                // has seen ours, so reading at once would only say EAGAIN.
                if self.stream.readable().await.is_err() {
                    return;
                }
                let read = SCRATCH.with_borrow_mut(|s| self.stream.try_read(&mut s.input));
                match read {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        };
        let _ = timeout(self.shared.linger, drain).await;
    }
}

/// Runs a rare, possibly long step (a blocked write, `--delay`, shutdown,
/// the lingering close) boxed, so its state does not enlarge the future of
/// every idle connection, and cut short when the grace period ends.
// A plain fn, not an `async fn`: an async fn would keep `step` unboxed in
// the caller's state, which is what the box is there to avoid.
fn killable<'a, T: Send + 'a>(
    kill: &'a CancellationToken,
    step: impl Future<Output = T> + Send + 'a,
) -> Pin<Box<dyn Future<Output = Option<T>> + Send + 'a>> {
    Box::pin(async move {
        tokio::select! {
            biased;
            _ = kill.cancelled() => None,
            done = step => Some(done),
        }
    })
}

/// How a decoder's progress ends the connection, if it does.
fn ending_of(progress: &Progress, eof: bool) -> Option<Ending> {
    match progress.close {
        Some(close) => Some(close.into()),
        None if eof => Some(Ending::ClientClosed),
        None => None,
    }
}

/// Reads what the socket holds without waiting. A read that leaves room
/// in `buf` has emptied the socket, so its readiness is cleared at once
/// (as tokio's own `poll_read` does): the next wait goes straight to the
/// reactor instead of first making a read that can only say EAGAIN.
fn read_now(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let room = buf.len();
    let mut got = None;
    let result = stream.try_io(tokio::io::Interest::READABLE, || {
        let n = (&*socket2::SockRef::from(stream)).read(buf)?;
        got = Some(n);
        if n > 0 && n < room {
            // Tells tokio to clear readiness; `got` carries the real result.
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match got {
        Some(n) => Ok(n),
        None => result,
    }
}

/// Writes as much of `bytes` as the socket takes without waiting.
fn write_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < bytes.len() {
        match stream.try_write(&bytes[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}
#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    /// Every idle connection keeps this future; the README's under-1-KiB
    /// figure depends on it. Doubling it (an awaited future captured by an
    /// `async move` block, an unboxed rare path) fails here first.
    #[tokio::test]
    async fn connection_future_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let shared = Arc::new(super::super::Shared {
            settings: Default::default(),
            welcome: Vec::new(),
            delay: None,
            idle_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            linger: Duration::from_secs(1),
            token: Default::default(),
            kill: Default::default(),
            clock: Default::default(),
        });
        let permit = Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .unwrap();
        let future = super::serve(stream, addr, shared, permit);
        let size = std::mem::size_of_val(&future);
        assert!(size <= 384, "the connection future grew to {size} bytes");
    }
}
