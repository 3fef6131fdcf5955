//! Property tests of the chunked decoder: however a server sizes its
//! chunks and however the network splits the bytes, the body comes out
//! the same, and nothing after the body is consumed.

use proptest::prelude::*;
use tcpkit_wire::chunked::ChunkedDecoder;

/// Encodes `body` in chunks of the given sizes (cycled), with upper- or
/// lower-case hex and optional extensions and trailers.
fn encode(body: &[u8], sizes: &[usize], upper: bool, ext: bool, trailer: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        i += 1;
        let size = if upper {
            format!("{n:X}")
        } else {
            format!("{n:x}")
        };
        out.extend_from_slice(size.as_bytes());
        if ext {
            out.extend_from_slice(b" ;name=\"v a l\"");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n");
    if trailer {
        out.extend_from_slice(b"X-Checksum: 1234\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

proptest! {
    #[test]
    fn any_split_gives_the_body(
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        sizes in proptest::collection::vec(1usize..300, 1..8),
        cuts in proptest::collection::vec(1usize..97, 1..40),
        upper in any::<bool>(), ext in any::<bool>(), trailer in any::<bool>(),
    ) {
        let mut wire = encode(&body, &sizes, upper, ext, trailer);
        let body_len = wire.len();
        wire.extend_from_slice(b"HTTP/1.1 next");
        let mut decoder = ChunkedDecoder::new(1024);
        let mut out = Vec::new();
        let mut pending = Vec::new();
        let mut used = 0;
        let mut at = 0;
        let mut cut = cuts.iter().cycle();
        while at < wire.len() && !decoder.is_done() {
            let n = (*cut.next().unwrap()).min(wire.len() - at);
            pending.extend_from_slice(&wire[at..at + n]);
            at += n;
            let d = decoder.decode(&pending, |r| out.extend_from_slice(&pending[r])).unwrap();
            used += d.consumed;
            pending.drain(..d.consumed);
        }
        prop_assert!(decoder.is_done());
        prop_assert_eq!(out, body);
        prop_assert_eq!(used, body_len);
    }
}
