//! How fetch's heads look, as curl shows them: the response head on
//! stdout (on stderr when the body goes to stdout; `-D -` puts it on
//! stdout whatever else is asked), and with `-v` the request's `> ` lines
//! and the response's `< ` lines on stderr instead. A terminal gets them
//! through `SafeTerminal`, so a server's control bytes cannot drive it; a
//! pipe or file gets them byte for byte.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use tcpkit::fetch::Heads;
use tcpkit::term::SafeTerminal;

type Out = Mutex<Box<dyn Write + Send>>;

/// Heads on the terminal.
struct Terminal {
    /// Where response heads are shown as they came.
    console: Option<Out>,
    /// `-v`: where both heads are shown, marked.
    verbose: Option<Out>,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("console", &self.console.is_some())
            .field("verbose", &self.verbose.is_some())
            .finish()
    }
}

/// What fetch's flags ask for: `-s`, `-v`, the body on stdout (`-o -`),
/// the heads on stdout (`-D -`).
pub fn shown(
    silent: bool,
    verbose: bool,
    body_on_stdout: bool,
    dump_on_stdout: bool,
) -> Arc<dyn Heads> {
    let console = match (silent, verbose, body_on_stdout) {
        _ if dump_on_stdout => Some(safe(io::stdout())),
        (true, _, _) | (false, true, _) => None,
        (false, false, true) => Some(on_stderr()),
        (false, false, false) => Some(safe(io::stdout())),
    };
    Arc::new(Terminal {
        console,
        verbose: verbose.then(on_stderr),
    })
}

impl Heads for Terminal {
    fn request(&self, host_port: &str, head: &[u8]) {
        if let Some(out) = &self.verbose {
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(out, "* connected to {host_port}");
            let _ = marked(&mut *out, b"> ", head);
        }
    }

    fn response(&self, head: &[u8]) {
        if let Some(out) = &self.verbose {
            let _ = marked(
                &mut *out.lock().unwrap_or_else(|e| e.into_inner()),
                b"< ",
                head,
            );
        }
        if let Some(out) = &self.console {
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            // A closed terminal or pipe must not stop the download.
            let _ = out.write_all(head).and_then(|()| out.flush());
        }
    }
}

/// Writes each line of a head with `mark` before it (`> `, `< `), the
/// blank line that ends it as a lone mark.
fn marked(out: &mut dyn Write, mark: &[u8], head: &[u8]) -> io::Result<()> {
    for line in head.split_inclusive(|b| *b == b'\n') {
        out.write_all(mark)?;
        out.write_all(line)?;
    }
    out.flush()
}

/// Stderr through the log's queue (a paused terminal must not hold up the
/// download), through `SafeTerminal` when it is a terminal.
fn on_stderr() -> Out {
    let queued = crate::logging::Stderr::default();
    if io::stderr().is_terminal() {
        Mutex::new(Box::new(SafeTerminal::new(queued)))
    } else {
        Mutex::new(Box::new(queued))
    }
}

/// `stream`, through `SafeTerminal` when it is a terminal.
fn safe<W: Write + IsTerminal + Send + 'static>(stream: W) -> Out {
    if stream.is_terminal() {
        Mutex::new(Box::new(SafeTerminal::new(stream)))
    } else {
        Mutex::new(Box::new(stream))
    }
}
