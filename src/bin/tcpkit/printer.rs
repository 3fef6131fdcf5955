//! The one owner of this program's output, as xh's `Printer`: stdout for
//! what a command makes (talk's transcript, fetch's body with `-o -`,
//! bench's report, demo's windows, a chart), and stderr, through the log's
//! queue ([`crate::logging`]), for everything said beside it: notices,
//! heads, `--trace` lines, hints, the final error. `main` makes one and
//! hands it to the command; nothing else in the binary opens stdout, and
//! only the log's queue writes to stderr.
//!
//! A peer's bytes shown on a terminal go through
//! [`tcpkit::term::SafeTerminal`], so a hostile server cannot drive it; a
//! pipe or a file gets them byte for byte.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use tcpkit::fetch::{BodyWriter, Heads};
use tcpkit::notice::Notices;
use tcpkit::term::SafeTerminal;
use tcpkit::trace::{Lines, Tracer};

/// Where a command's output and words go.
pub struct Printer {
    stdout: io::Stdout,
    stdout_is_terminal: bool,
    stderr_is_terminal: bool,
}

impl Printer {
    /// The process's stdout and stderr.
    pub fn new() -> Printer {
        let stdout = io::stdout();
        Printer {
            stdout_is_terminal: stdout.is_terminal(),
            stdout,
            stderr_is_terminal: io::stderr().is_terminal(),
        }
    }

    /// Stdout for a command's output: a peer's bytes (`peer`) are made
    /// safe on a terminal, unless `raw` asks for them as they came.
    pub fn out(&self, peer: bool, raw: bool) -> Box<dyn Write> {
        let stdout = self.stdout.lock();
        if peer && !raw && self.stdout_is_terminal {
            Box::new(SafeTerminal::new(stdout))
        } else {
            Box::new(stdout)
        }
    }

    /// Stdout for fetch's response heads (shared with the library's
    /// threads, so not locked here), made safe on a terminal.
    pub fn stdout_for_heads(&self) -> Box<dyn Write + Send> {
        if self.stdout_is_terminal {
            Box::new(SafeTerminal::new(io::stdout()))
        } else {
            Box::new(io::stdout())
        }
    }

    /// Stderr, through the queue, made safe on a terminal: for a peer's
    /// bytes said beside the output (fetch's heads).
    pub fn beside(&self) -> Box<dyn Write + Send> {
        let queued = crate::logging::piece("");
        if self.stderr_is_terminal {
            Box::new(SafeTerminal::new(queued))
        } else {
            Box::new(queued)
        }
    }

    /// Fetch's body with `-o -`: stdout, byte for byte.
    pub fn body(&self) -> BodyWriter {
        BodyWriter::new(io::stdout())
    }

    /// The library's notices, shown on stderr (none when `quiet`).
    pub fn notices(&self, quiet: bool) -> Arc<dyn Notices> {
        if quiet {
            tcpkit::notice::quiet()
        } else {
            crate::notices::stderr(self.stderr_is_terminal)
        }
    }

    /// How wide a text chart on stdout may be: `COLUMNS` when set, else
    /// the terminal's width, else 80.
    pub fn columns(&self) -> usize {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .or_else(|| {
                let (_, width) = console::Term::stdout().size_checked()?;
                self.stdout_is_terminal.then_some(usize::from(width))
            })
            .unwrap_or(tcpkit::trace::draw::DEFAULT_COLUMNS)
    }

    /// Whether a live progress line can be drawn (stderr is a terminal).
    pub fn draws_progress(&self) -> bool {
        self.stderr_is_terminal
    }

    /// Fetch's heads, as its flags ask ([`crate::heads`]).
    pub fn heads(&self, shown: crate::heads::Shown) -> Arc<dyn Heads> {
        crate::heads::shown(shown, self)
    }

    /// `--trace`: the library's lines ([`tcpkit::trace::Lines`]), each
    /// on stderr through the log's queue, so a stderr nobody reads drops
    /// them and never holds up a connection.
    pub fn tracer(&self) -> Arc<dyn Tracer> {
        Arc::new(Lines::new(|line| {
            crate::logging::say(&format!("trace {line}\n"));
        }))
    }

    /// `tcpkit: LINE` on stderr.
    pub fn say(&self, line: impl Display) {
        crate::logging::say(&format!("tcpkit: {line}\n"));
    }

    /// `tcpkit: warning: LINE` on stderr.
    pub fn warn(&self, line: impl Display) {
        crate::logging::say(&format!("tcpkit: warning: {line}\n"));
    }

    /// Demo's windows: each line marked with its window, on stdout.
    pub fn windows(&self) -> tcpkit::demo::Say {
        Arc::new(|who: &str, line: &str| {
            let _ = writeln!(io::stdout().lock(), "{who:<6} | {line}");
        })
    }

    /// A command line clap parsed but a habit explains better: its hint,
    /// and the usage exit code.
    pub fn usage(&self, hint: impl Display) -> ExitCode {
        crate::logging::say(&format!("tcpkit: error: {hint}\n"));
        ExitCode::from(crate::exit::USAGE)
    }

    /// Ends the program on `err`: its line on stderr (unless it was shown
    /// already, or is a closed output), and its exit code.
    pub fn fail(&self, err: &anyhow::Error) -> ExitCode {
        if !crate::exit::quiet(err) {
            crate::logging::say(&format!("tcpkit: error: {}\n", crate::exit::message(err)));
        }
        ExitCode::from(crate::exit::code_of(err))
    }
}
