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

/// Where the server is in its life, as a load balancer should see it.
#[derive(Debug, Default)]
pub struct Health(AtomicU8);

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
        match self.0.load(Ordering::Relaxed) {
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
        self.0.store(value, Ordering::Relaxed);
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
