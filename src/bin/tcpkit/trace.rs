//! `--trace`: every call on a connection as a line on stderr,
//! `trace +412µs server 127.0.0.1:40112 read 8 bytes "Michael\n"`, its time
//! counted from the connection's first call (the client's connect, the
//! server's accept). The bytes are escaped and cut as in every log line.
//! The lines go through the log's queue ([`crate::logging`]): a stderr
//! nobody reads drops them, and never holds up a connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tcpkit::trace::{Event, Side, Tracer, What};

/// Prints each event as it comes.
#[derive(Debug, Default)]
struct Lines {
    /// Each open connection's first call.
    started: Mutex<HashMap<(Side, SocketAddr), Instant>>,
}

/// A tracer that prints lines on stderr.
pub fn stderr() -> Arc<dyn Tracer> {
    Arc::new(Lines::default())
}

impl Tracer for Lines {
    fn event(&self, at: Instant, side: Side, conn: SocketAddr, what: What) {
        let origin = {
            let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
            let origin = *started.entry((side, conn)).or_insert(at);
            // A closed connection's entry goes: a long-running server
            // keeps none for connections gone.
            if matches!(what, What::Close | What::Reset { .. }) {
                started.remove(&(side, conn));
            }
            origin
        };
        let event = Event {
            at: at.saturating_duration_since(origin),
            side,
            conn,
            what,
        };
        // Through the queue: a stalled stderr must not stop the work.
        crate::logging::sayln!("trace {}", event.line());
    }
}
