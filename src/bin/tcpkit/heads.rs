//! How fetch's heads are shown, as curl shows them
//! ([`tcpkit::fetch::CurlHeads`]): the response head on stdout (on stderr
//! when the body goes to stdout; `-D -` puts it on stdout whatever else is
//! asked), and with `-v` the request's `> ` lines and the response's `< `
//! lines on stderr instead. The printer makes them safe on a terminal, so
//! a server's control bytes cannot drive it; a pipe or file gets them byte
//! for byte.

use std::sync::{Arc, Mutex};

use tcpkit::fetch::{CurlHeads, Heads};

use crate::printer::Printer;

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
    Arc::new(CurlHeads {
        console,
        verbose: shown.verbose.then(|| Mutex::new(printer.beside())),
    })
}
