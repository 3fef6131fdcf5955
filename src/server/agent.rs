//! `serve --agent ADDR`: HAProxy's agent check, so a load balancer stops
//! sending new clients *before* the server closes its listener.
//!
//! HAProxy connects to the agent every `agent-inter`, reads one line and
//! acts on it: `ready` (serve normally), `drain` (weight 0: no new
//! clients, the open ones go on), `maint` (out of rotation). A server
//! says `ready` while it runs; on SIGTERM it says `drain` and keeps
//! serving for `--drain`, long enough for the balancer to hear it; then it
//! stops accepting and says `maint` until it exits. See
//! [`super::Config::drain`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Where the server is in its life, as a load balancer should see it,
/// and how many connections it has open (what a stop at once drops).
#[derive(Debug, Default)]
pub struct Health {
    state: AtomicU8,
    /// Connections whose "closed" line is not logged yet; the server
    /// counts them here.
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// The states of [`Health`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Serving: send clients.
    Ready,
    /// Shutting down but still serving: send no new clients.
    Draining,
    /// No longer accepting.
    Stopped,
}

impl Health {
    /// The current state.
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Relaxed) {
            0 => State::Ready,
            1 => State::Draining,
            _ => State::Stopped,
        }
    }

    pub(super) fn set(&self, state: State) {
        let value = match state {
            State::Ready => 0,
            State::Draining => 1,
            State::Stopped => 2,
        };
        self.state.store(value, Ordering::Relaxed);
    }

    /// Connections open now (accepted, their close not yet logged).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// The counter the server keeps its open connections in.
    pub(super) fn open_counter(&self) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
        self.open.clone()
    }

    /// The agent's answer: HAProxy's words for the state.
    pub fn word(&self) -> &'static str {
        match self.state() {
            State::Ready => "ready",
            State::Draining => "drain",
            State::Stopped => "maint",
        }
    }
}

/// Answers each connection on `listener` with the state's word and a
/// newline, until `stop` is cancelled.
pub async fn serve(listener: TcpListener, health: Arc<Health>, stop: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        info!(
            "Agent check on {addr} (HAProxy: agent-check agent-port {})",
            addr.port()
        );
    }
    super::side::accept_each(listener, stop, "agent check", |stream| {
        answer(stream, health.word())
    })
    .await;
}

async fn answer(mut stream: TcpStream, word: &'static str) {
    let line = format!("{word}\n");
    if stream.write_all(line.as_bytes()).await.is_ok() {
        super::side::close_gently(&mut stream).await;
    }
}
