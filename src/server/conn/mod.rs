//! [`Connection`]: one client's socket and its framing, and every low-level
//! trick that makes serving it fast. The handler (`handler/`) decides
//! *what* happens on a connection; this type decides *how* bytes move.
//!
//! What it assumes, and why it is fast:
//! - An idle connection owns no buffer. [`Connection::exchange`] reads into
//!   a per-thread scratch buffer right after the socket is readable, the
//!   [`Decoder`] appends every reply of that read to a per-thread output
//!   buffer, and the whole batch goes out in one write, all without an
//!   await, so the buffers can be lent to whichever connection runs on the
//!   thread. Only what the socket would not take at once is copied into
//!   memory the connection owns.
//! - A read that leaves room in the buffer has emptied the socket, so its
//!   readiness is cleared at once (as tokio's own `poll_read` does): the
//!   next wait goes straight to the reactor instead of first making a read
//!   that can only say EAGAIN.
//! - [`Connection::wait_for_input`] is the only await of an idle
//!   connection: the socket's readiness is polled through its own waker
//!   slot, and time and shutdown come through one waiter the caller keeps
//!   for the whole connection, so a wait registers nothing new.
//!
//! The seam: the handler never touches the socket; it only calls
//! `send_now`, `send`, `wait_for_input`, `exchange`, `decode` and
//! `linger`, and only this type's methods use the stream, through the
//! [`Socket`] interface (readiness, `read_now`, `write_now`,
//! `shutdown_write`): a TCP stream when serving, memory in tests.
//! - TLS goes in there: beside the socket sits the TLS state (boxed,
//!   `None` over plain TCP). `read_now` hands out the plaintext of the
//!   records read, `write_now` seals replies into records and writes them,
//!   and [`Connection::start_tls`] runs the handshake before the welcome;
//!   the I/O over rustls is in `tls/`. While records wait for the
//!   socket, `write_now` takes nothing more, so the backpressure below
//!   works over TLS too, and [`Connection::wait_for_input`] sends them
//!   when the socket can take them.
//! - A PROXY-protocol preamble is read by a constructor too, through
//!   `read_now` and before any byte reaches the decoder: the header
//!   (parsed by the wire crate) gives the real client address the handler
//!   logs, and the bytes after it are the first input of the decoder.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use rustls::ServerConfig;
use std::sync::Arc;
use tcpkit_wire::Escaped;
use tcpkit_wire::greeting::{Close, Decoder, Framing, Progress, Settings};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tracing::debug;

use super::socket::{self, Socket};
use super::tls::{self, HandshakeError, Tls};

mod header;

/// The size of one read from a socket.
const READ_SIZE: usize = 32 * 1024;

/// Replies are written whenever this many bytes of them are ready. When the
/// socket does not take them, decoding stops there: a client that sends
/// without reading makes the server stop reading it too (TCP's own
/// backpressure), and costs at most this, one reply, and the undecoded rest
/// of one read while it is stuck.
pub(super) const OUTPUT_STEP: usize = 8 * 1024;

/// The most replies one connection makes in one turn on its worker
/// thread (a turn also ends at [`OUTPUT_STEP`] bytes of them). A 32 KiB
/// read of empty lines asks for 32,768 replies; made in one go, each such
/// read keeps every other connection on the thread waiting, and while
/// thousands arrive at once an innocent client's reply came a second late.
/// Past this, the rest of the read waits for the connection's next turn.
/// An ordinary read (a pipelining client's 64 messages, say) is one turn.
pub(super) const TURN_REPLIES: usize = 512;

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

/// One client's socket and its framing state.
pub(super) struct Connection<S> {
    /// The client's socket; touched only by the private I/O methods below.
    stream: S,
    /// TLS over the socket, once [`Connection::start_tls`] has run.
    tls: Option<Box<Tls>>,
    /// Framing state: chunk or line, and any partial line.
    decoder: Decoder,
}

/// What a waiting connection woke up for.
pub(super) enum Wake<T> {
    /// The socket has input (or an end of stream, or an error to read).
    Readable,
    /// The caller's event check said so (shutdown, idle timeout).
    Event(T),
    /// The socket failed.
    Failed(io::Error),
}

/// How one read ended the stream, if it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// The decoder wants the connection closed (`exit`, a message too long).
    Close(Close),
    /// The client closed its side.
    Eof,
}

/// The outcome of one [`Connection::exchange`].
pub(super) enum Exchange {
    /// Nothing to read after all (a spurious wake-up).
    WouldBlock,
    /// Read once and answered.
    Answered(Answered),
    /// Read once and held undecoded, as asked: the caller answers it.
    Held(Vec<u8>),
}

/// One read (or the rest of one) answered as far as it could be now.
pub(super) struct Answered {
    /// Replies written (or left in `unsent`).
    pub(super) replies: usize,
    /// Bytes read (0 at the end of the stream).
    pub(super) bytes_in: usize,
    /// Bytes of replies made (written, or in `unsent`).
    pub(super) bytes_out: usize,
    /// Set when this read ended the conversation.
    pub(super) end: Option<End>,
    /// What the socket would not take at once; send it with
    /// [`Connection::send`] before reading again.
    pub(super) unsent: Vec<u8>,
    /// Input read but not decoded yet, because the socket would not
    /// take more replies or this turn made all it may (one
    /// [`Connection::answer_more`] step);
    /// answer it with [`Connection::answer_more`] once `unsent` is
    /// sent. Empty when `end` is set.
    pub(super) rest: Vec<u8>,
}

/// Why [`Connection::send`] did not finish.
pub(super) enum SendError {
    /// The socket failed.
    Failed(io::Error),
    /// The client did not take the bytes within the time given.
    TimedOut,
}

impl<S: Socket> Connection<S> {
    /// Takes over an accepted socket.
    pub(super) fn new(stream: S, framing: Framing) -> Connection<S> {
        Connection {
            stream,
            tls: None,
            decoder: Decoder::new(framing),
        }
    }

    /// Runs a TLS handshake, within `limit`, starting with `first` (bytes
    /// already read, after a PROXY header); from then on every byte in and
    /// out goes through TLS.
    pub(super) async fn start_tls(
        &mut self,
        config: Arc<ServerConfig>,
        first: &[u8],
        limit: Option<Duration>,
    ) -> Result<(), HandshakeError> {
        self.tls = Some(tls::handshake(&self.stream, config, first, limit).await?);
        Ok(())
    }

    /// The TLS version and cipher suite, once a handshake has run.
    pub(super) fn tls_summary(&self) -> Option<String> {
        self.tls.as_deref()?.summary()
    }

    /// What the kernel holds of our replies that the client has not
    /// acknowledged, where the system says (Linux); else 0.
    pub(super) fn unsent_in_kernel(&self) -> usize {
        self.stream.unsent()
    }

    /// Sends as much of `bytes` as the socket takes without waiting; the
    /// number sent. (The welcome nearly always fits at once.)
    pub(super) fn send_now(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_now(bytes)
    }

    /// Sends all of `bytes`, waiting at most `limit` in all (`None`: as
    /// long as it takes).
    pub(super) async fn send(
        &mut self,
        bytes: &[u8],
        limit: Option<Duration>,
    ) -> Result<(), SendError> {
        if bytes.is_empty() && self.tls.as_deref().is_none_or(|tls| !tls.wants_write()) {
            return Ok(());
        }
        let sending = async {
            match self.tls.as_deref_mut() {
                Some(tls_conn) => tls::send(&self.stream, tls_conn, bytes).await,
                None => socket::write_all(&self.stream, bytes).await,
            }
        };
        match crate::net::within(limit, sending).await {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(SendError::Failed(e)),
            None => Err(SendError::TimedOut),
        }
    }

    /// Waits until the socket has input or `check` says why to stop.
    /// `check` is asked first and then each time `events` (a waiter on
    /// `notify` that the caller keeps for the whole connection) fires; the
    /// waiter is re-armed each time, since a notification uses it up.
    /// Every idle connection keeps this future, so it is a plain fn
    /// returning one `poll_fn` that owns its four small captures (an
    /// `async fn` would keep its arguments and the closure's references to
    /// them side by side); `check` should be a small `move` closure.
    pub(super) fn wait_for_input<'s, 'a, T>(
        &'s mut self,
        notify: &'a Notify,
        mut events: Pin<&'s mut Notified<'a>>,
        check: impl Fn() -> Option<T> + 's,
    ) -> impl Future<Output = Wake<T>> + 's {
        poll_fn(move |cx| {
            if let Some(stop) = check() {
                return Poll::Ready(Wake::Event(stop));
            }
            if let Some(tls_conn) = self.tls.as_deref_mut() {
                // Records (or the close) that came with the handshake's
                // end: read them now, the socket may have nothing more.
                if tls_conn.has_input() {
                    return Poll::Ready(Wake::Readable);
                }
                // Replies stuck in rustls go out as soon as they fit.
                while tls_conn.wants_write() {
                    match self.stream.poll_write_ready(cx) {
                        Poll::Ready(Ok(())) => {
                            if let Err(e) = tls::flush_now(&self.stream, tls_conn) {
                                return Poll::Ready(Wake::Failed(e));
                            }
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Wake::Failed(e)),
                        Poll::Pending => break,
                    }
                }
            }
            match self.stream.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(Wake::Readable),
                Poll::Ready(Err(e)) => return Poll::Ready(Wake::Failed(e)),
                Poll::Pending => {}
            }
            while events.as_mut().poll(cx).is_ready() {
                events.set(notify.notified());
                if let Some(stop) = check() {
                    return Poll::Ready(Wake::Event(stop));
                }
            }
            Poll::Pending
        })
    }

    /// The hot path: one read, every reply it calls for, one write, all
    /// without awaiting, so the thread's scratch buffers can be used. With
    /// `hold`, the read is handed back undecoded instead ([`Exchange::Held`];
    /// an end of stream is still decoded here). `peer` is for the debug
    /// log, formatted only when that log is on.
    pub(super) fn exchange(
        &mut self,
        settings: &Settings,
        hold: bool,
        peer: impl std::fmt::Display,
    ) -> io::Result<Exchange> {
        SCRATCH.with_borrow_mut(|scratch| {
            let Scratch { input, output } = scratch;
            output.clear();
            let read = match self.read_now(input) {
                Ok(0) => {
                    let progress = self.decoder.finish(settings, output);
                    let sent = self.write_now(output)?;
                    return Ok(Exchange::Answered(Answered {
                        replies: progress.replies,
                        bytes_in: 0,
                        bytes_out: output.len(),
                        end: Some(progress.close.map_or(End::Eof, End::Close)),
                        unsent: output[sent..].to_vec(),
                        rest: Vec::new(),
                    }));
                }
                Ok(n) => &input[..n],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Exchange::WouldBlock),
                Err(e) => return Err(e),
            };
            debug!("{peer}: read {} bytes: {}", read.len(), Escaped(read));
            if hold {
                return Ok(Exchange::Held(read.to_vec()));
            }
            let answered = self.answer_now(settings, read, output, true)?;
            Ok(Exchange::Answered(Answered {
                bytes_in: read.len(),
                ..answered
            }))
        })
    }

    /// Answers `input` a step at a time, writing each step's replies, until
    /// it is all answered, the conversation ends, the socket stops taking
    /// replies, or (with `one_turn`) after the first step; no waiting.
    /// `output` is the buffer to make them in. (`bytes_in` is left 0 for
    /// the caller.) Nearly always one step: decode, write.
    pub(super) fn answer_now(
        &mut self,
        settings: &Settings,
        input: &[u8],
        output: &mut Vec<u8>,
        one_turn: bool,
    ) -> io::Result<Answered> {
        let mut pos = 0;
        let mut replies = 0;
        let mut made = 0;
        loop {
            output.clear();
            let progress = self.answer_more(settings, &input[pos..], output);
            pos += progress.consumed;
            replies += progress.replies;
            made += output.len();
            let sent = self.write_now(output)?;
            let end = progress.close.map(End::Close);
            if sent < output.len() || end.is_some() || pos == input.len() || one_turn {
                let rest = if end.is_some() {
                    &[][..]
                } else {
                    &input[pos..]
                };
                return Ok(Answered {
                    replies,
                    bytes_in: 0,
                    bytes_out: made,
                    end,
                    unsent: output[sent..].to_vec(),
                    rest: rest.to_vec(),
                });
            }
        }
    }

    /// [`Connection::answer_now`] with this thread's scratch output
    /// buffer and no limit.
    pub(super) fn answer_rest_now(
        &mut self,
        settings: &Settings,
        input: &[u8],
    ) -> io::Result<Answered> {
        SCRATCH
            .with_borrow_mut(|scratch| self.answer_now(settings, input, &mut scratch.output, false))
    }

    /// Decodes the next input into `out`, one step: up to about
    /// [`OUTPUT_STEP`] bytes of replies, and at most [`TURN_REPLIES`] of
    /// them (see [`Answered`]'s `rest`).
    pub(super) fn answer_more(
        &mut self,
        settings: &Settings,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Progress {
        self.decoder
            .decode_until(settings, input, out, TURN_REPLIES, OUTPUT_STEP)
    }

    /// Bytes held of a message whose end has not come yet.
    pub(super) fn pending(&self) -> usize {
        self.decoder.pending()
    }

    /// Memory held for input whose end has not come yet: an unfinished
    /// message, and with TLS the start of an unfinished record and records
    /// waiting for the socket.
    pub(super) fn buffered(&self) -> usize {
        self.decoder.buffered() + self.tls.as_deref().map_or(0, Tls::held)
    }

    /// Frees an unfinished message: the connection is closing, and its
    /// memory should not wait for the lingering close.
    pub(super) fn drop_unfinished(&mut self) {
        self.decoder.abandon();
    }

    /// Decodes held input (see [`Exchange::Held`]) into `out`, at most
    /// `budget` replies.
    pub(super) fn decode(
        &mut self,
        settings: &Settings,
        input: &[u8],
        out: &mut Vec<u8>,
        budget: usize,
    ) -> Progress {
        self.decoder.decode(settings, input, out, budget)
    }

    /// Nginx's lingering close: shut down our side, then read and discard
    /// what the client still sends, for at most `limit`. Closing a socket
    /// with unread input makes the kernel send a reset, and a reset can
    /// destroy replies the client has not read yet.
    pub(super) async fn linger(&mut self, limit: Duration) {
        // `--linger 0`: close at once, as a plain close() does (a reset if
        // input is left unread). Draining "for no time" would still read
        // whatever is there in its first poll.
        if limit.is_zero() {
            return;
        }
        if let Some(tls_conn) = self.tls.as_deref_mut() {
            tls_conn.close_notify();
            let flushed = tokio::time::timeout(limit, tls::flush_all(&self.stream, tls_conn));
            if !matches!(flushed.await, Ok(Ok(()))) {
                return;
            }
        }
        if self.stream.shutdown_write().is_err() {
            return;
        }
        let drain = async {
            loop {
                // Wait first: the client's close cannot be here before it
                // has seen ours, so reading at once would only say EAGAIN.
                if socket::readable(&self.stream).await.is_err() {
                    return;
                }
                let read = SCRATCH.with_borrow_mut(|s| self.stream.read_now(&mut s.input));
                match read {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        };
        let _ = tokio::time::timeout(limit, drain).await;
    }

    /// Reads what the socket holds without waiting. A read that leaves room
    /// in `buf` has emptied the socket, so its readiness is cleared at once.
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            Some(tls_conn) => tls::read_now(&self.stream, tls_conn, buf),
            None => self.stream.read_now(buf),
        }
    }

    /// Writes as much of `bytes` as the socket takes without waiting.
    fn write_now(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            Some(tls_conn) => tls::write_now(&self.stream, tls_conn, bytes),
            None => socket::write_some(&self.stream, bytes),
        }
    }
}
