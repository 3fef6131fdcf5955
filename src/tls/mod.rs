//! TLS, shared by every command: rustls on the ring provider (no aws-lc,
//! no C toolchain beyond ring's own).
//!
//! - [`client`]: what `fetch`, `talk` and `bench` trust (the webpki roots,
//!   `--cacert`, or nothing with `--insecure`), and the hints that turn a
//!   certificate error into what to do about it.
//! - [`server`]: `serve`'s certificate: read from PEM files or made at
//!   start (`--tls-self-signed`), reloaded on SIGHUP, and its SHA-256
//!   fingerprint for clients to pin.
//!
//! The server's TLS I/O lives behind its connection seam
//! (`server/tls/`); this module only builds configurations.

pub mod client;
pub mod server;
pub mod words;

pub use server::{SelfSigned, ServerTls};

/// A TLS set-up error with its cause and no hint.
pub(crate) fn tls_error(
    message: impl Into<String>,
    e: impl std::error::Error + Send + Sync + 'static,
) -> crate::Error {
    crate::Error::Tls {
        message: message.into(),
        hint: String::new(),
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
