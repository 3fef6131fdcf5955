//! How a connection ends: what it held goes back to the budget, the
//! lingering close (unless the socket is broken, the client is not
//! reading, or time is up), then the metric and the log line that say
//! why. A health check's close is counted, not logged one by one.

use std::sync::atomic::Ordering;

use tracing::{debug, info};

use super::super::socket::Socket;
use super::{Ending, Handler, killable};

impl<S: Socket> Handler<S> {
    /// Closes the connection that ended so, and says why.
    pub(super) async fn close(&mut self, ending: Ending) {
        if let Ending::NoProxyHeader | Ending::NoHandshake = ending {
            self.shared.open.fetch_sub(1, Ordering::AcqRel);
            self.shared
                .metered(|m| m.closed(ending.reason(), 0, self.seconds_open()));
            return; // logged already; there was no conversation
        }
        // Whatever it held goes back before the lingering close: refused
        // clients must not keep the budget for seconds.
        self.conn.drop_unfinished();
        self.budget_unfinished();
        match ending {
            // The socket is broken, the client is not reading, or time is up.
            Ending::Failed(_) | Ending::WriteTimeout | Ending::BusyUnread | Ending::Killed => {}
            _ => {
                let shared = self.shared.clone();
                // Bound first: a temporary would keep a slot in this future.
                let closing = killable(&shared.kill, self.conn.linger(shared.config.linger));
                closing.await;
            }
        }
        // The client's own close or reset is its choice, not our failure:
        // before its first byte, a probe; after, a reset of its own.
        let ending = ending.settled(self.spoke);
        self.shared
            .metered(|m| m.closed(ending.reason(), self.messages, self.seconds_open()));
        let s = if self.messages == 1 { "" } else { "s" };
        // Closed, as far as anyone outside can tell: no longer open.
        self.shared.open.fetch_sub(1, Ordering::AcqRel);
        if let Ending::Probe = ending {
            debug!(
                target: crate::server::CONNECTION_LOG,
                "Connection from {} closed. ({}, {} message{s})",
                self.peer,
                ending.shown(self.shared.config.naming),
                self.messages
            );
            self.shared.probes.count(self.shared.config.naming);
            return;
        }
        info!(
            target: crate::server::CONNECTION_LOG,
            "Connection from {} closed. ({}, {} message{s})",
            self.peer,
            ending.shown(self.shared.config.naming),
            self.messages
        );
    }
}
