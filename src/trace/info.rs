//! What the kernel knows of a connection at each call, without the right
//! to capture its packets (Linux's `TCP_INFO`): its round-trip time, its
//! congestion window, what it has in flight, what it sent again.

use std::fmt;
use std::time::Duration;

/// A connection's state as the kernel reports it at one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// The kernel's smoothed round-trip time.
    pub rtt: Duration,
    /// The congestion window: segments it may have in flight.
    pub cwnd: u32,
    /// Segments sent and not yet acknowledged.
    pub unacked: u32,
    /// Segments sent again since the connection opened.
    pub retransmitted: u32,
}

impl fmt::Display for TcpInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rtt {} · cwnd {} segments · {} unacknowledged · {} retransmitted",
            super::time(self.rtt),
            self.cwnd,
            self.unacked,
            self.retransmitted
        )
    }
}
