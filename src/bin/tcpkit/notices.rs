//! How the library's notices look: one line each on stderr, `tcpkit: ...`
//! (`tcpkit: warning: ...` for a warning), the live progress line redrawn
//! in place, and fetch's transfer as an indicatif bar.

use std::io::Write;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tcpkit::notice::{Notice, Notices};

/// Notices on stderr; the transfer's bar while there is one.
#[derive(Debug, Default)]
struct Stderr {
    bar: Mutex<Option<ProgressBar>>,
}

impl Notices for Stderr {
    fn notice(&self, notice: Notice) {
        let line = match notice {
            Notice::Transfer { done, total } => return self.transfer(done, total),
            Notice::TransferEnd { completed } => return self.transfer_end(completed),
            Notice::Hint(line) => format!("tcpkit: {line}\n"),
            Notice::Warning(line) => format!("tcpkit: warning: {line}\n"),
            Notice::Progress(line) => format!("\r\x1b[K{line}"),
            Notice::ProgressEnd => "\r\x1b[K".to_string(),
            _ => return,
        };
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        let write = || {
            let mut err = std::io::stderr().lock();
            // A closed stderr must not stop the work.
            let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
        };
        // Above the bar, when one is drawn, so it is not torn.
        match bar.as_ref() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl Stderr {
    fn transfer(&self, done: u64, total: Option<u64>) {
        let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        bar.get_or_insert_with(|| progress_bar(total))
            .set_position(done);
    }

    fn transfer_end(&self, completed: bool) {
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take();
        match (bar, completed) {
            (Some(bar), true) => bar.finish_and_clear(),
            (Some(bar), false) => bar.abandon(),
            (None, _) => {}
        }
    }
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "{bytes:>10} / {total_bytes} [{bar:30}] {bytes_per_sec:>12} eta {eta}"
    } else {
        "{bytes:>10} {spinner} {bytes_per_sec:>12} {elapsed}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The binary's notices: on stderr.
pub fn stderr() -> Arc<dyn Notices> {
    Arc::new(Stderr::default())
}
