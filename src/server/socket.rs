//! The interface a connection is served over: [`Socket`], a nonblocking,
//! readiness-based byte stream, and [`Accept`], what hands out sockets.
//!
//! The server's hot path reads once, answers every message of the read
//! and writes once, all without awaiting (see `conn.rs`); an interface of
//! futures (`AsyncRead`/`AsyncWrite`) would make every read an await and
//! every idle connection keep a buffer. So the interface is the one epoll
//! gives: ask for readiness, then read or write what is there now.
//!
//! - [`tokio::net::TcpStream`] and [`tokio::net::TcpListener`]: the real
//!   thing, and what `serve` runs on.
//! - TLS is not a socket of its own: it is a layer of the connection
//!   (`tls/`), over any [`Socket`], because it starts mid-connection
//!   (after a PROXY header) and shares the connection's buffers.
//! - `memory` (feature `test-util`): an in-memory pair, for tests that must control
//!   what the server sees and when (input waiting unread at shutdown, a
//!   client that does not read) without sleeping.
//!
//! Another transport (a Unix socket, io_uring's completions behind a
//! readiness shim) implements these two traits and is served by
//! [`super::serve_on`] unchanged.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use tokio::io::Interest;
use tokio::net::{TcpListener, TcpStream};

/// A connected, nonblocking byte stream, as the server uses it.
///
/// The contract is epoll's, as tokio keeps it: `read_now` and `write_now`
/// never wait, and say [`io::ErrorKind::WouldBlock`] when they cannot go
/// on; a `WouldBlock` clears the readiness, so the next `poll_*_ready`
/// waits for a change.
pub trait Socket: Send + Sync + 'static {
    /// Ready when a read may return something (bytes, the end, an error).
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ready when a write may take something.
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Reads what is there now into `buf`: 0 is the end of the stream. A
    /// read that leaves room in `buf` emptied the socket, so it may clear
    /// the readiness at once (saving the read that would only say
    /// `WouldBlock`).
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes what the socket takes now of `bytes` (at least one byte, or
    /// `WouldBlock`).
    fn write_now(&self, bytes: &[u8]) -> io::Result<usize>;

    /// Ends our side of the stream (the peer reads its end); reading goes on.
    fn shutdown_write(&self) -> io::Result<()>;

    /// What this side holds of bytes written that the peer has not taken
    /// yet, where the transport can say; else 0. A client that does not
    /// read makes the server hold this much for it.
    fn unsent(&self) -> usize {
        0
    }

    /// Bounds what this side holds for a peer that does not read
    /// (`--send-buffer`). The listener has said what the kernel grants
    /// ([`Accept::bound_unsent`]); each connection only asks for it, in
    /// one system call, since every accept pays for it.
    fn bound_unsent(&self, _bytes: usize) -> io::Result<()> {
        Ok(())
    }

    /// What has arrived and not been read, where the transport can say;
    /// else 0. (Only traces ask: a close with any is a reset.)
    fn unread(&self) -> usize {
        0
    }

    /// What the kernel knows of the connection (Linux's TCP_INFO), where
    /// the transport can say. (Only traces ask, at each call.)
    fn tcp_info(&self) -> Option<crate::trace::TcpInfo> {
        None
    }
}

/// What hands out the connections to serve: a listening socket.
pub trait Accept: Send + Sync + 'static {
    /// The connections it hands out.
    type Socket: Socket;

    /// Waits for the next connection, and who it is from.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Socket, SocketAddr)>> + Send;

    /// The address clients reach it at, for the log.
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Bounds what each connection accepted from now on holds for a peer
    /// that does not read; the size granted.
    fn bound_unsent(&self, bytes: usize) -> io::Result<usize> {
        Ok(bytes)
    }
}

/// Waits until `socket` may have input.
pub(super) async fn readable<S: Socket>(socket: &S) -> io::Result<()> {
    poll_fn(|cx| socket.poll_read_ready(cx)).await
}

/// Waits until `socket` may take a write.
pub(super) async fn writable<S: Socket>(socket: &S) -> io::Result<()> {
    poll_fn(|cx| socket.poll_write_ready(cx)).await
}

/// Writes what `socket` takes of `bytes` without waiting; how much.
pub(super) fn write_some<S: Socket>(socket: &S, bytes: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < bytes.len() {
        match socket.write_now(&bytes[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Writes all of `bytes`, waiting for the socket as needed.
pub(super) async fn write_all<S: Socket>(socket: &S, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match socket.write_now(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => writable(socket).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Socket for TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_write_ready(self, cx)
    }

    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        let room = buf.len();
        let mut got = None;
        let result = self.try_io(Interest::READABLE, || {
            let n = (&*socket2::SockRef::from(self)).read(buf)?;
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

    fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        self.try_write(bytes)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        socket2::SockRef::from(self).shutdown(std::net::Shutdown::Write)
    }

    fn unsent(&self) -> usize {
        crate::sys::unsent_bytes(socket2::SockRef::from(self)).unwrap_or(0)
    }

    fn bound_unsent(&self, bytes: usize) -> io::Result<()> {
        crate::sys::ask_send_buffer(&socket2::SockRef::from(self), bytes)
    }

    fn unread(&self) -> usize {
        crate::sys::unread_bytes(socket2::SockRef::from(self)).unwrap_or(0)
    }

    fn tcp_info(&self) -> Option<crate::trace::TcpInfo> {
        crate::sys::tcp_info(socket2::SockRef::from(self))
    }
}

impl Accept for TcpListener {
    type Socket = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Replies are small and must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }

    fn bound_unsent(&self, bytes: usize) -> io::Result<usize> {
        crate::sys::set_send_buffer(socket2::SockRef::from(self), bytes)
    }
}
