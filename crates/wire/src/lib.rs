//! tcpkit's wire formats as pure codecs: bytes in, values or bytes out,
//! no sockets, no runtime, no clock.
//!
//! Keeping them apart (as httparse stands apart from hyper) lets each be
//! unit-tested, property-tested with arbitrary splits of the byte stream,
//! and fuzzed on its own, and lets the I/O code around them change (TLS, a
//! PROXY-protocol preamble) without touching them.
//!
//! - [`greeting`]: the greeting protocol of `tcpkit serve` (`Welcome!`,
//!   `Hello, NAME!`, `exit`): framing, the reply template, the decoder.
//! - [`head`]: an HTTP/1.1 response head under named limits, and how its
//!   body is framed (RFC 9112 §6.3).
//! - [`chunked`]: the chunked transfer coding (RFC 9112 §7.1), streaming.
//! - [`proxy`]: the PROXY protocol header a load balancer sends first.
//! - [`range`]: a 206's `Content-Range`, strictly (RFC 9110 §14.4).
//! - [`escape`]: peer bytes made safe to print; [`count`]: `1 byte`, `2 bytes`.

#![deny(missing_docs)]

pub mod chunked;
pub mod count;
pub mod escape;
pub mod greeting;
pub mod head;
pub mod proxy;
pub mod range;

pub use count::Bytes;
pub use escape::Escaped;
