//! tracing's writer on a [`Lossy`] queue (feature `cli`): each event one
//! [`Piece`], so that a line is dropped or written whole, and, when
//! stderr is the systemd journal's stream, its priority first.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use super::Lossy;

/// Where each log line goes (the queue, or stderr itself when there is
/// none), and what goes before it.
#[derive(Debug)]
pub struct Lines {
    queue: Option<Lossy>,
    prefix: &'static str,
    /// stderr is the journal's stream: each line starts with its priority
    /// (sd-daemon's `<3>` error, `<4>` warning, `<6>` info, `<7>` debug),
    /// which journald takes and strips, so that `journalctl -p warning`
    /// finds warnings even in lines that do not name their level.
    journal: bool,
}

impl Lines {
    /// Lines into `queue`, each after `prefix` (`""`: none); with the
    /// journal's priority instead when stderr is its stream.
    pub fn new(queue: Option<Lossy>, prefix: &'static str) -> Lines {
        Lines {
            queue,
            prefix,
            journal: crate::sys::stderr_is_the_journal(),
        }
    }

    fn writer(&self, prefix: &'static str) -> Box<dyn Write + Send + '_> {
        match &self.queue {
            Some(queue) => Box::new(queue.piece(prefix)),
            None => Box::new(io::stderr()),
        }
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Box<dyn Write + Send + 'a>;

    fn make_writer(&'a self) -> Self::Writer {
        self.writer(self.prefix)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        if !self.journal {
            return self.make_writer();
        }
        self.writer(match *meta.level() {
            tracing::Level::ERROR => "<3>",
            tracing::Level::WARN => "<4>",
            tracing::Level::INFO => "<6>",
            _ => "<7>",
        })
    }
}
