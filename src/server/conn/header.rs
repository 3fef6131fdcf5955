//! A connection that must start with a PROXY protocol header (from a
//! trusted load balancer): the header read whole before anything is
//! answered, and why a connection that did not send one is closed.

use std::io;
use std::time::Duration;

use tcpkit_wire::Escaped;
use tcpkit_wire::proxy;

use super::super::socket::{self, Socket};
use super::Connection;

/// Why a connection that had to start with a PROXY header did not.
#[derive(Debug)]
pub(in crate::server) enum NoHeader {
    /// The bytes are not an accepted header (they follow, escaped).
    Refused(proxy::HeaderError, String),
    /// The client closed after this many bytes.
    Closed(usize),
    /// The header was not whole within the limit.
    TimedOut(Duration),
    /// The socket failed.
    Failed(io::Error),
}

impl std::fmt::Display for NoHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoHeader::Refused(why, bytes) => write!(f, "{why} (it sent {bytes})"),
            NoHeader::Closed(0) => f.write_str("it closed without sending a PROXY header"),
            NoHeader::Closed(n) => write!(
                f,
                "it closed after {} of an unfinished PROXY header",
                tcpkit_wire::Bytes::of(*n)
            ),
            NoHeader::TimedOut(limit) => write!(
                f,
                "no whole PROXY header within {}",
                humantime::format_duration(*limit)
            ),
            NoHeader::Failed(e) => write!(f, "error: {e}"),
        }
    }
}

impl<S: Socket> Connection<S> {
    /// Reads a PROXY protocol header, as the first bytes of the
    /// connection, within `limit` (`None`: no bound): who the client is,
    /// and what came after the header (the client's first bytes, for the decoder). Reads in
    /// small pieces, so a header that arrives a byte at a time is waited
    /// for, and nothing is answered before it is whole.
    pub(in crate::server) async fn read_proxy_header(
        &mut self,
        versions: proxy::Versions,
        limit: Option<Duration>,
    ) -> Result<(proxy::Origin, Vec<u8>), NoHeader> {
        let mut got = Vec::with_capacity(256);
        let read = async {
            loop {
                socket::readable(&self.stream)
                    .await
                    .map_err(NoHeader::Failed)?;
                let mut piece = [0u8; 512];
                match self.stream.read_now(&mut piece) {
                    Ok(0) => return Err(NoHeader::Closed(got.len())),
                    Ok(n) => got.extend_from_slice(&piece[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(NoHeader::Failed(e)),
                }
                match proxy::parse(&got, versions) {
                    proxy::Parsed::NeedMore => {}
                    proxy::Parsed::Done { origin, len } => {
                        return Ok((origin, got[len..].to_vec()));
                    }
                    proxy::Parsed::Refused(why) => {
                        return Err(NoHeader::Refused(why, Escaped(&got).to_string()));
                    }
                }
            }
        };
        crate::net::within(limit, read)
            .await
            .unwrap_or(Err(NoHeader::TimedOut(limit.unwrap_or_default())))
    }
}
