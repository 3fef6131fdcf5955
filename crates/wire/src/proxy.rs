//! The PROXY protocol preamble (HAProxy's `proxy-protocol.txt`, versions 1
//! and 2): what a load balancer sends before the client's own bytes to say
//! who the client is, and what `talk --send-proxy` and `bench --send-proxy`
//! send to stand in for one.
//!
//! The parsing and encoding are the `proxy-header` crate's; this module
//! adds the policy a server needs around them:
//! - which versions are accepted ([`Versions`]);
//! - an answer for a header that has only partly arrived: bytes that can
//!   still become an accepted header ask for more ([`Parsed::NeedMore`]),
//!   anything else is refused at once, so a client that sends `Michael`
//!   is not kept waiting for a header it will never send;
//! - a bound on the header's size ([`MAX_HEADER`]), whatever its length
//!   field says.
//!
//! The spec forbids guessing: a server that expects the header waits for
//! all of it before it sends anything.

use std::net::SocketAddr;

use proxy_header::{ParseConfig, ProxiedAddress, ProxyHeader};

/// Version 1 starts with this.
const V1_PREFIX: &[u8] = b"PROXY ";

/// Version 2's 12-byte signature.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// The longest version 1 header, CRLF included (the spec's bound).
const V1_MAX: usize = 107;

/// The longest header accepted: version 1's limit is 107 bytes; a version
/// 2 header is 16 bytes and its addresses and TLVs, which HAProxy keeps to
/// a few hundred bytes. (The spec allows up to 65,551; a larger one here is
/// refused rather than buffered.)
pub const MAX_HEADER: usize = 16 + 4096;

/// Which versions of the header a server accepts. (Each variant's doc
/// is `serve --proxy-protocol`'s help for it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Versions {
    /// The text header (`PROXY TCP4 ...`), HAProxy's `send-proxy`.
    V1,
    /// The binary header, HAProxy's `send-proxy-v2`.
    V2,
    /// Either.
    Any,
}

impl Versions {
    fn v1(self) -> bool {
        self != Versions::V2
    }

    fn v2(self) -> bool {
        self != Versions::V1
    }
}

/// Who the header says the client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A proxied connection: the client's address, and the address it
    /// connected to on the load balancer.
    Proxied {
        /// The client.
        source: SocketAddr,
        /// Where the client connected.
        destination: SocketAddr,
    },
    /// The load balancer speaking for itself (v2 `LOCAL`, used by health
    /// checks, or v1 `UNKNOWN`): the connection's own address stands.
    Local,
}

/// Why a header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The bytes are not the start of an accepted header.
    #[error("not a PROXY protocol {0} header")]
    NotAHeader(&'static str),
    /// The header is malformed.
    #[error("malformed PROXY protocol header")]
    Malformed,
    /// The header is longer than [`MAX_HEADER`].
    #[error("PROXY protocol header longer than {MAX_HEADER} bytes")]
    TooLong,
}

/// What the bytes received so far amount to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A header has started but not ended: read more.
    NeedMore,
    /// A whole header: who the client is, and the header's length (the
    /// bytes after it are the client's own).
    Done {
        /// Who the client is.
        origin: Origin,
        /// The header's length in bytes.
        len: usize,
    },
    /// Not an accepted header.
    Refused(HeaderError),
}

/// Parses the start of a connection's bytes (all of them received so far).
pub fn parse(buf: &[u8], versions: Versions) -> Parsed {
    let wanted = match versions {
        Versions::V1 => "version 1",
        Versions::V2 => "version 2",
        Versions::Any => "version 1 or 2",
    };
    let starts = |prefix: &[u8]| {
        let n = buf.len().min(prefix.len());
        buf[..n] == prefix[..n]
    };
    let v1 = versions.v1() && starts(V1_PREFIX);
    let v2 = versions.v2() && starts(V2_SIGNATURE);
    if !v1 && !v2 {
        return Parsed::Refused(HeaderError::NotAHeader(wanted));
    }
    if v2 && buf.len() >= 16 {
        let body = u16::from_be_bytes([buf[14], buf[15]]) as usize;
        if 16 + body > MAX_HEADER {
            return Parsed::Refused(HeaderError::TooLong);
        }
        // A PROXY command whose length cannot hold its family's addresses
        // is malformed, however many bytes follow: refused now, not when
        // the length's worth has come (or never, if it never does).
        if buf[12] & 0x0F == 0x1 && body < v2_address_len(buf[13]) {
            return Parsed::Refused(HeaderError::Malformed);
        }
    }
    let config = ParseConfig {
        include_tlvs: false,
        allow_v1: versions.v1(),
        allow_v2: versions.v2(),
    };
    match ProxyHeader::parse(buf, config) {
        // The spec's bound for the text form; the parser checks it only
        // while the line is unfinished, and would take a longer one whole.
        Ok((_, len)) if buf[0] == b'P' && len > V1_MAX => Parsed::Refused(HeaderError::TooLong),
        Ok((header, len)) => Parsed::Done {
            origin: match header.proxied_address() {
                Some(ProxiedAddress {
                    source,
                    destination,
                    ..
                }) => Origin::Proxied {
                    source: *source,
                    destination: *destination,
                },
                None => Origin::Local,
            },
            len,
        },
        // A v1 line that has ended cannot become a header by growing: the
        // spec ends it with CRLF, and an LF alone ends it just the same.
        Err(proxy_header::Error::BufferTooShort) if v1 && memchr::memchr(b'\n', buf).is_some() => {
            Parsed::Refused(HeaderError::Malformed)
        }
        Err(proxy_header::Error::BufferTooShort) if buf.len() < MAX_HEADER => Parsed::NeedMore,
        Err(proxy_header::Error::BufferTooShort) => Parsed::Refused(HeaderError::TooLong),
        Err(_) => Parsed::Refused(HeaderError::Malformed),
    }
}

/// The bytes a version 2 header's addresses take for its family byte
/// (the high four bits): IPv4 12, IPv6 36, Unix 216, unspecified 0.
fn v2_address_len(family: u8) -> usize {
    match family >> 4 {
        0x1 => 12,
        0x2 => 36,
        0x3 => 216,
        _ => 0,
    }
}

/// True when `buf` (a connection's first bytes) begins like a header of
/// either version: for a server that does not expect one from this
/// client and must not take it for a message.
pub fn looks_like_header(buf: &[u8]) -> bool {
    buf.starts_with(V1_PREFIX) || buf.starts_with(V2_SIGNATURE)
}

/// Which version to send. (Each variant's doc is `--send-proxy`'s help
/// for it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Version {
    /// The text header.
    V1,
    /// The binary header.
    V2,
}

/// The header a load balancer would send for a client at `source` that
/// connected to `destination`. (Both addresses of one family: an IPv4
/// address on one side and IPv6 on the other is sent as IPv6, as HAProxy
/// does.)
pub fn encode(version: Version, source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let (source, destination) = same_family(source, destination);
    let header = ProxyHeader::with_address(ProxiedAddress::stream(source, destination));
    let mut out = Vec::with_capacity(64);
    let written = match version {
        Version::V1 => header.encode_v1(&mut out),
        Version::V2 => header.encode_v2(&mut out),
    };
    // Both forms hold any pair of TCP addresses of one family.
    debug_assert!(written.is_ok());
    out
}

/// `LOCAL` (v2): a health check from the load balancer itself.
pub fn encode_local() -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    let _ = ProxyHeader::with_local().encode_v2(&mut out);
    out
}

fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    use std::net::IpAddr;
    let v6 = |s: SocketAddr| match s.ip() {
        IpAddr::V4(ip) => SocketAddr::new(IpAddr::V6(ip.to_ipv6_mapped()), s.port()),
        IpAddr::V6(_) => s,
    };
    if a.is_ipv4() == b.is_ipv4() {
        (a, b)
    } else {
        (v6(a), v6(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn whole_headers_of_both_versions() {
        let (src, dst) = (addr("203.0.113.7:4000"), addr("127.0.0.1:9999"));
        for version in [Version::V1, Version::V2] {
            let mut wire = encode(version, src, dst);
            let len = wire.len();
            wire.extend_from_slice(b"Michael\n");
            assert_eq!(
                parse(&wire, Versions::Any),
                Parsed::Done {
                    origin: Origin::Proxied {
                        source: src,
                        destination: dst
                    },
                    len
                }
            );
        }
        assert_eq!(
            encode(Version::V1, src, dst),
            b"PROXY TCP4 203.0.113.7 127.0.0.1 4000 9999\r\n"
        );
        let v6 = encode(Version::V1, addr("[2001:db8::1]:5"), addr("[::1]:6"));
        assert_eq!(v6, b"PROXY TCP6 2001:db8::1 ::1 5 6\r\n");
    }

    #[test]
    fn every_prefix_of_a_header_asks_for_more() {
        let (src, dst) = (addr("203.0.113.7:4000"), addr("127.0.0.1:9999"));
        for version in [Version::V1, Version::V2] {
            let wire = encode(version, src, dst);
            for cut in 0..wire.len() {
                assert_eq!(
                    parse(&wire[..cut], Versions::Any),
                    Parsed::NeedMore,
                    "{version:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn local_and_unknown_keep_the_connection_address() {
        let local = encode_local();
        assert_eq!(local.len(), 16);
        assert_eq!(
            parse(&local, Versions::V2),
            Parsed::Done {
                origin: Origin::Local,
                len: 16
            }
        );
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\nhi\n", Versions::V1),
            Parsed::Done {
                origin: Origin::Local,
                len: 15
            }
        );
    }

    #[test]
    fn anything_else_is_refused_at_once() {
        let refused = |b: &[u8], v| matches!(parse(b, v), Parsed::Refused(_));
        assert!(refused(b"M", Versions::Any));
        assert!(refused(b"Michael\n", Versions::Any));
        assert!(refused(b"PROXZ", Versions::Any));
        assert!(refused(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", Versions::V2));
        assert!(refused(&encode_local(), Versions::V1));
        assert!(refused(b"PROXY GARBAGE 1 2 3 4\r\n", Versions::Any));
        assert!(refused(
            b"PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\n",
            Versions::Any
        ));
        // An ended line missing fields is refused, not waited on.
        assert!(refused(b"PROXY TCP4 1.2.3.4\r\n", Versions::Any));
        // So is a whole line ended by LF alone.
        assert_eq!(
            parse(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", Versions::Any),
            Parsed::Refused(HeaderError::Malformed)
        );
        assert!(refused(b"PROXY UNKNOWN\nhi", Versions::V1));
        // A v2 header whose length is too short for its family's
        // addresses, refused from its 16 bytes on, with or without more.
        let v6 = encode(Version::V2, addr("[2001:db8::1]:5"), addr("[::1]:6"));
        for (family, len) in [(0x21u8, 35u16), (0x11, 11), (0x21, 12)] {
            let mut short = v6[..16].to_vec();
            short[13] = family;
            short[14..16].copy_from_slice(&len.to_be_bytes());
            assert_eq!(
                parse(&short, Versions::V2),
                Parsed::Refused(HeaderError::Malformed),
                "family {family:#x}, length {len}"
            );
            short.extend_from_slice(&[0; 8]);
            assert!(refused(&short, Versions::V2));
        }
        // A v1 line longer than 107 bytes is refused, ended or not.
        let junk = [b"PROXY UNKNOWN".as_slice(), &[b'x'; 100], b"\r\n"].concat();
        assert!(refused(&junk, Versions::Any));
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert!(refused(&long, Versions::Any));
        // A v2 length field past the bound is refused before the body.
        let mut big = encode_local();
        big[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(
            parse(&big, Versions::V2),
            Parsed::Refused(HeaderError::TooLong)
        );
    }

    #[test]
    fn mixed_families_are_sent_as_ipv6() {
        let wire = encode(Version::V1, addr("203.0.113.7:4000"), addr("[::1]:9999"));
        assert_eq!(wire, b"PROXY TCP6 ::ffff:203.0.113.7 ::1 4000 9999\r\n");
    }

    #[test]
    fn looks_like_a_header() {
        assert!(looks_like_header(b"PROXY TCP4 "));
        assert!(looks_like_header(&encode_local()));
        assert!(!looks_like_header(b"PROXYMAN\n"));
        assert!(!looks_like_header(b"Michael\n"));
    }
}
