//! How fetch's heads look, as curl shows them: the response head on
//! stdout (on stderr when the body goes to stdout; `-D -` puts it on
//! stdout whatever else is asked), and with `-v` the request's `> ` lines
//! and the response's `< ` lines on stderr instead. The printer makes them
//! safe on a terminal, so a server's control bytes cannot drive it; a pipe
//! or file gets them byte for byte.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use tcpkit::fetch::Heads;

use crate::printer::Printer;

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

/// What fetch's flags ask for of its heads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shown {
    /// `-s`: no response head on the console.
    pub silent: bool,
    /// `-v`: both heads on stderr, marked.
    pub verbose: bool,
    /// `-o -`: the body is on stdout, so the head goes to stderr.
    pub body_on_stdout: bool,
    /// `-D -`: the head on stdout, whatever else is asked.
    pub dump_on_stdout: bool,
}

/// The heads shown as `shown` asks, on the printer's stdout and stderr.
pub fn shown(shown: Shown, printer: &Printer) -> Arc<dyn Heads> {
    let console = match (shown.silent, shown.verbose, shown.body_on_stdout) {
        _ if shown.dump_on_stdout => Some(Mutex::new(printer.stdout_for_heads())),
        (true, _, _) | (false, true, _) => None,
        (false, false, true) => Some(Mutex::new(printer.beside())),
        (false, false, false) => Some(Mutex::new(printer.stdout_for_heads())),
    };
    Arc::new(Terminal {
        console,
        verbose: shown.verbose.then(|| Mutex::new(printer.beside())),
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
