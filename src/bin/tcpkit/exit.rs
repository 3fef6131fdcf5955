//! How the binary ends: each [`ErrorKind`] has one documented exit code
//! (the README's table), and an error is printed as one line,
//! `tcpkit: error: what failed: why (what to do)`, its causes joined in
//! order and the library's hint last.

use tcpkit::ErrorKind;

/// Success.
pub const OK: u8 = 0;
/// Any failure without a class of its own.
pub const OTHER: u8 = 1;
/// The command line was wrong (clap's own code).
pub const USAGE: u8 = 2;
/// Ctrl+C or SIGTERM stopped a download, or a second one ended the server
/// at once (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// The exit code of a kind of failure.
pub fn code_of_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput => USAGE,
        ErrorKind::Address => 3,
        ErrorKind::AddrInUse => 4,
        ErrorKind::PermissionDenied => 5,
        ErrorKind::Connect => 6,
        ErrorKind::Timeout => 7,
        ErrorKind::Protocol => 8,
        ErrorKind::Tls => 9,
        ErrorKind::Truncated => 10,
        ErrorKind::Redirects => 11,
        ErrorKind::HttpStatus => 12,
        ErrorKind::LocalFile => 13,
        ErrorKind::BenchFailed => 14,
        ErrorKind::TooLarge => 15,
        ErrorKind::Interrupted => INTERRUPTED,
        // A closed pipe (`tcpkit talk | head`) is how such a run ends.
        ErrorKind::OutputClosed => OK,
        _ => OTHER,
    }
}

/// An error shown already where it happened (`demo`'s client window):
/// the binary exits with its code without printing it again.
#[derive(Debug)]
pub struct Shown;

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shown in the client's window")
    }
}

/// Whether `err` ends the program without a line: a closed output (the
/// library's [`ErrorKind::OutputClosed`], decided by
/// `Error::writing_output` for every command) is how a piped run ends,
/// quietly and with success, as `seq | head` does; and an error shown
/// already where it happened (`demo`'s client window) is not said again.
pub fn quiet(err: &anyhow::Error) -> bool {
    ErrorKind::of(err.as_ref()) == Some(ErrorKind::OutputClosed)
        || err.downcast_ref::<Shown>().is_some()
}

/// The exit code for an error chain: the first [`Error`] in it decides.
pub fn code_of(err: &anyhow::Error) -> u8 {
    ErrorKind::of(err.as_ref()).map_or(OTHER, code_of_kind)
}

/// The one line printed for an error (without the `tcpkit: error: `
/// prefix): the library's renderer of a chain ([`tcpkit::chain_in_words`]),
/// settings named as flags.
pub fn message(err: &anyhow::Error) -> String {
    tcpkit::chain_in_words(err.as_ref()).render(crate::FLAGS)
}

#[cfg(test)]
mod tests {
    use std::io;

    use tcpkit::Error;

    use super::*;

    #[test]
    fn causes_then_hint() {
        let err = anyhow::Error::new(Error::Connect {
            spec: "127.0.0.1:1".into(),
            hint: " (is the server running on 127.0.0.1:1?)".into(),
            source: Some(io::Error::from_raw_os_error(libc_econnrefused())),
        });
        assert_eq!(
            message(&err),
            "cannot connect to 127.0.0.1:1: connection refused (is the server running on 127.0.0.1:1?)"
        );
        assert_eq!(code_of(&err), 6);
        assert_eq!(code_of(&anyhow::anyhow!("no kind")), OTHER);
        assert_eq!(code_of(&Error::OutputClosed.into()), OK);
        // A context of the binary's own is in the line, and the settings
        // are named as flags.
        let err = anyhow::Error::new(Error::AddrInUse {
            addr: "127.0.0.1:1".parse().unwrap(),
            holder: None,
            flag: tcpkit::Setting::Metrics,
        })
        .context("starting the server");
        let line = message(&err);
        assert!(
            line.starts_with("starting the server: cannot listen"),
            "{line}"
        );
        assert!(line.contains("another address with --metrics"), "{line}");
    }

    fn libc_econnrefused() -> i32 {
        io::Error::from(io::ErrorKind::ConnectionRefused)
            .raw_os_error()
            .unwrap_or(111)
    }
}
