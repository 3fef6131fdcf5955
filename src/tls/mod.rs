//! TLS, shared by every command: rustls on the ring provider (no aws-lc,
//! no C toolchain beyond ring's own).
//!
//! - [`client`]: what `fetch`, `talk` and `bench` trust (the webpki roots,
//!   `--cacert`, or nothing with `--insecure`), and the hints that turn a
//!   certificate error into what to do about it.
//! - [`server`]: `serve`'s certificate: read from PEM files or made at
//!   start (`--tls-self-signed`), reloaded on SIGHUP, and its SHA-256
//!   fingerprint for clients to pin.
//! - [`source`]: where `serve`'s certificate comes from, made ready: read
//!   or made, logged, and a made one's PEM file kept while it serves.
//!
//! The server's TLS I/O lives behind its connection seam
//! (`server/tls/`); this module only builds configurations.
//!
//! TLS I/O is done four ways, each where it pays for itself:
//! - `serve` drives rustls's *unbuffered* connection by hand
//!   (`server/tls/`): an idle TLS connection then holds no buffer, and
//!   the hot path stays one read, every reply, one write, no await, as
//!   over plain TCP. tokio-rustls would cost each idle connection its
//!   buffers (8.3 KiB measured with rustls's buffered connection).
//! - `fetch` and `bench`'s load use tokio-rustls: one or a few
//!   connections, where a `TlsStream` that reads like a socket is the
//!   simplest correct thing.
//! - `bench hold` and the preflight use a blocking `rustls::StreamOwned`
//!   (`bench::tls::SyncStream`): hold opens its connections one after
//!   another on plain blocking sockets, on purpose.
//! - `talk` shares one `ClientConnection` between the reading side and
//!   the input thread (`talk/link.rs`), under a lock that keeps records in
//!   the order rustls made them: `talk` has no async runtime at all, which
//!   keeps a client's footprint small.

pub mod client;
pub mod server;
pub mod source;
pub mod words;

pub use server::{SelfSigned, ServerTls};

/// A TLS set-up error with its cause and no hint.
pub(crate) fn tls_error(
    message: impl Into<crate::setting::Words>,
    e: impl std::error::Error + Send + Sync + 'static,
) -> crate::Error {
    crate::Error::Tls {
        message: message.into(),
        hint: crate::setting::Words::default(),
        source: Some(std::io::Error::other(e)),
    }
}

/// The SHA-256 fingerprint of a DER certificate, as `openssl x509
/// -fingerprint -sha256` prints it: upper-case hex bytes joined by colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::with_capacity(95);
    for (i, byte) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{byte:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprint_is_openssl_shaped() {
        // SHA-256 of the empty string.
        assert_eq!(
            super::fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:\
             27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }
}
