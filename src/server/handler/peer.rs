//! [`Peer`]: a client's address in the few bytes every connection's state
//! can spare. A `SocketAddr` takes 32; this takes 24, which with the
//! handler's other fields keeps an idle connection's future in a smaller
//! allocation (`tests::connection_future_stays_small`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// A client's address and port, as its logs show it.
///
/// Only an IPv6 address's flow label is left out: nothing logs it, and a
/// server does not answer by it. The scope (a link-local address's
/// interface) is kept, since the log shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Peer {
    /// The address's bytes: an IPv4 address in the first four.
    octets: [u8; 16],
    /// An IPv6 address's scope id; 0 for IPv4.
    scope_id: u32,
    port: u16,
    v4: bool,
}

impl Peer {
    /// The address as the standard library has it (flow label 0).
    pub(super) fn addr(self) -> SocketAddr {
        match self.v4 {
            true => SocketAddr::new(IpAddr::V4(self.v4_ip()), self.port),
            false => SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(self.octets),
                self.port,
                0,
                self.scope_id,
            )),
        }
    }

    /// The client's IP address.
    pub(super) fn ip(self) -> IpAddr {
        self.addr().ip()
    }

    fn v4_ip(self) -> Ipv4Addr {
        let [a, b, c, d, ..] = self.octets;
        Ipv4Addr::new(a, b, c, d)
    }
}

impl From<SocketAddr> for Peer {
    fn from(addr: SocketAddr) -> Peer {
        match addr {
            SocketAddr::V4(v4) => {
                let mut octets = [0; 16];
                octets[..4].copy_from_slice(&v4.ip().octets());
                Peer {
                    octets,
                    scope_id: 0,
                    port: v4.port(),
                    v4: true,
                }
            }
            SocketAddr::V6(v6) => Peer {
                octets: v6.ip().octets(),
                scope_id: v6.scope_id(),
                port: v6.port(),
                v4: false,
            },
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every address comes back as it was logged before: IPv4, IPv6, an
    /// IPv4-mapped IPv6 address (which stays IPv6), a link-local address
    /// with its scope, the lowest and highest ports.
    #[test]
    fn an_address_comes_back_as_it_is_shown() {
        for text in [
            "127.0.0.1:9999",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:9999",
            "[::ffff:127.0.0.1]:80",
            "[fe80::1%7]:5000",
            "[2001:db8::ff00:42:8329]:65535",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            let peer = Peer::from(addr);
            assert_eq!(peer.addr(), addr, "{text}");
            assert_eq!(peer.to_string(), text);
            assert_eq!(peer.ip(), addr.ip());
        }
        assert_eq!(std::mem::size_of::<Peer>(), 24);
    }

    /// The flow label is the one thing left out.
    #[test]
    fn the_flow_label_is_dropped() {
        let addr = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 1, 0xabcde, 0));
        assert_eq!(Peer::from(addr).addr().to_string(), "[::1]:1");
    }
}
