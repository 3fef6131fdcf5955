//! `serve --trace`: the server's sockets wrapped, so that every accept,
//! read, write, half-close and close is told to a [`Tracer`] with its
//! bytes and time. A wrapper on the [`Socket`] seam, not a check in the
//! hot path: an untraced server is built without it and runs exactly as
//! before (`connection_future_stays_small` and the bench say so).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::socket::{Accept, Socket};
use crate::trace::{Side, Tracer, What};

/// A listener whose connections are traced.
pub struct TracedListener<A> {
    inner: A,
    tracer: Arc<dyn Tracer>,
}

impl<A: Accept> TracedListener<A> {
    /// Traces every connection `inner` hands out.
    pub fn new(inner: A, tracer: Arc<dyn Tracer>) -> TracedListener<A> {
        TracedListener { inner, tracer }
    }
}

impl<A: Accept> Accept for TracedListener<A> {
    type Socket = TracedSocket<A::Socket>;

    async fn accept(&self) -> io::Result<(TracedSocket<A::Socket>, SocketAddr)> {
        let (socket, peer) = self.inner.accept().await?;
        let info = socket.tcp_info();
        self.tracer
            .event_with(Instant::now(), Side::Server, peer, What::Accept, info);
        let traced = TracedSocket {
            inner: socket,
            conn: peer,
            tracer: self.tracer.clone(),
        };
        Ok((traced, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn bound_unsent(&self, bytes: usize) -> io::Result<usize> {
        self.inner.bound_unsent(bytes)
    }
}

/// A connection whose calls are traced; its drop is the close.
pub struct TracedSocket<S: Socket> {
    inner: S,
    conn: SocketAddr,
    tracer: Arc<dyn Tracer>,
}

impl<S: Socket> TracedSocket<S> {
    /// Tells a call made or returned `at` (see [`Tracer`] for which).
    fn tell(&self, at: Instant, what: What) {
        let info = self.inner.tcp_info();
        self.tracer
            .event_with(at, Side::Server, self.conn, what, info);
    }

    /// Tells a failure; waiting is not one.
    fn failed(&self, at: Instant, e: &io::Error) {
        if e.kind() != io::ErrorKind::WouldBlock {
            self.tell(at, What::Failed(crate::error::describe(e)));
        }
    }
}

impl<S: Socket> Socket for TracedSocket<S> {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_read_ready(cx)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_write_ready(cx)
    }

    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read_now(buf);
        let now = Instant::now();
        match &read {
            Ok(0) => self.tell(now, What::End),
            Ok(n) => self.tell(now, What::Read(buf[..*n].to_vec())),
            Err(e) => self.failed(now, e),
        }
        read
    }

    fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        let made = Instant::now();
        let wrote = self.inner.write_now(bytes);
        match &wrote {
            Ok(n) => self.tell(made, What::Write(bytes[..*n].to_vec())),
            Err(e) => self.failed(made, e),
        }
        wrote
    }

    fn shutdown_write(&self) -> io::Result<()> {
        let made = Instant::now();
        let done = self.inner.shutdown_write();
        match &done {
            Ok(()) => self.tell(made, What::ShutdownWrite),
            Err(e) => self.failed(made, e),
        }
        done
    }

    fn unsent(&self) -> usize {
        self.inner.unsent()
    }

    fn bound_unsent(&self, bytes: usize) -> io::Result<()> {
        self.inner.bound_unsent(bytes)
    }

    fn unread(&self) -> usize {
        self.inner.unread()
    }

    fn tcp_info(&self) -> Option<crate::trace::TcpInfo> {
        self.inner.tcp_info()
    }
}

impl<S: Socket> Drop for TracedSocket<S> {
    /// Runs before the socket's own drop, which closes it: with input
    /// still unread, that close is a reset.
    fn drop(&mut self) {
        let what = match self.inner.unread() {
            0 => What::Close,
            unread => What::Reset { unread },
        };
        self.tell(Instant::now(), what);
    }
}
