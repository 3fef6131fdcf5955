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
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::Shared;
use crate::logging::Escaped;
use crate::protocol::{Close, Decoder, Progress};

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
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    token: CancellationToken,
) {
    info!("Accept new connection from {peer}...");
    // Replies are small and must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let mut handler = Handler {
        decoder: Decoder::new(shared.settings.framing),
        stream,
        peer,
        shared,
        token,
        messages: 0,
    };
    let ending = handler.serve().await;
    match ending {
        // The socket is broken or the client is not reading: just drop it.
        Ending::Failed(_) | Ending::WriteTimeout => {}
        _ => Box::pin(handler.close_gracefully()).await,
    }
    info!(
        "Connection from {peer} closed. ({ending}, {} message{})",
        handler.messages,
        if handler.messages == 1 { "" } else { "s" }
    );
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
    /// Cancelled when the server shuts down.
    token: CancellationToken,
    /// Messages answered so far.
    messages: u64,
}

impl Handler {
    async fn serve(&mut self) -> Ending {
        if !self.shared.welcome.is_empty() {
            let shared = self.shared.clone();
            if let Err(ending) = self.write(&shared.welcome).await {
                return ending;
            }
        }
        loop {
            let readable = tokio::select! {
                biased;
                _ = self.token.cancelled() => return Box::pin(self.answer_waiting_input()).await,
                readable = timeout(self.shared.idle_timeout, self.stream.readable()) => readable,
            };
            match readable {
                Err(_) => return Ending::IdleTimeout,
                Ok(Err(e)) => return Ending::Failed(e),
                Ok(Ok(())) => {}
            }
            if let Some(ending) = self.read_and_answer().await {
                return ending;
            }
        }
    }

    /// Reads once and answers; returns how the connection ends, if it does.
    async fn read_and_answer(&mut self) -> Option<Ending> {
        match self.step() {
            Ok(Step::WouldBlock) => None,
            Err(e) => Some(Ending::Failed(e)),
            Ok(Step::Answered {
                close,
                unsent,
                unread,
            }) => {
                if !unread.is_empty() {
                    return Box::pin(self.answer_slowly(unread)).await;
                }
                if !unsent.is_empty()
                    && let Err(ending) = self.write(&unsent).await
                {
                    return Some(ending);
                }
                close
            }
        }
    }

    /// The hot path: one read, every reply it calls for, one write, all
    /// without awaiting, so the thread's scratch buffers can be used.
    fn step(&mut self) -> io::Result<Step> {
        SCRATCH.with_borrow_mut(|scratch| {
            let Scratch { input, output } = scratch;
            output.clear();
            let settings = &self.shared.settings;
            let (progress, read) = match self.stream.try_read(input) {
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

/// How a decoder's progress ends the connection, if it does.
fn ending_of(progress: &Progress, eof: bool) -> Option<Ending> {
    match progress.close {
        Some(close) => Some(close.into()),
        None if eof => Some(Ending::ClientClosed),
        None => None,
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
