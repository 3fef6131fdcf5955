//! How the library's notices look: one line each on stderr, `tcpkit: ...`
//! (`tcpkit: warning: ...` for a warning), and the live progress line
//! redrawn in place.

use std::io::Write;
use std::sync::Arc;

use tcpkit::notice::{Notice, Notices};

/// Notices on stderr.
#[derive(Debug)]
struct Stderr;

impl Notices for Stderr {
    fn notice(&self, notice: Notice) {
        let mut err = std::io::stderr().lock();
        // A closed stderr must not stop the work.
        let _ = match notice {
            Notice::Hint(line) => writeln!(err, "tcpkit: {line}"),
            Notice::Warning(line) => writeln!(err, "tcpkit: warning: {line}"),
            Notice::Progress(line) => write!(err, "\r\x1b[K{line}"),
            Notice::ProgressEnd => write!(err, "\r\x1b[K"),
            _ => Ok(()),
        };
        let _ = err.flush();
    }
}

/// The binary's notices: on stderr.
pub fn stderr() -> Arc<dyn Notices> {
    Arc::new(Stderr)
}
