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
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

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
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let word = health.word();
                tokio::spawn(answer(stream, word));
            }
            Err(e) => {
                warn!("agent check: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn answer(mut stream: TcpStream, word: &'static str) {
    let line = format!("{word}\n");
    if stream.write_all(line.as_bytes()).await.is_err() {
        return;
    }
    // Close without a reset: shut down our side, drain briefly.
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 256];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}
