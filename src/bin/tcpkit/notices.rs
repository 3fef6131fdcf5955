//! How the library's notices look: one line each on stderr, `tcpkit: ...`
//! (`tcpkit: warning: ...` for a warning), the live progress line redrawn
//! in place, and fetch's transfer as an indicatif bar. All of it goes
//! through the log's queue ([`crate::logging`]), bar frames included, so
//! a paused terminal never holds up a transfer and lines keep their order.

use std::sync::{Arc, Mutex};

use std::fmt::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use tcpkit::notice::{Notice, Notices};

/// Notices on stderr; the transfer's bar while there is one.
#[derive(Debug, Default)]
struct Stderr {
    bar: Mutex<Option<ProgressBar>>,
    /// Whether stderr is a terminal, where the bar is drawn.
    terminal: bool,
}

impl Notices for Stderr {
    fn notice(&self, notice: Notice) {
        let line = match notice {
            Notice::Transfer { done, total } => return self.transfer(done, total),
            Notice::TransferEnd { completed } => return self.transfer_end(completed),
            Notice::Hint(line) => format!("tcpkit: {}\n", line.render(crate::FLAGS)),
            Notice::Warning(line) => format!("tcpkit: warning: {}\n", line.render(crate::FLAGS)),
            Notice::Progress(line) => format!("\r\x1b[K{line}"),
            Notice::ProgressEnd => "\r\x1b[K".to_string(),
            _ => return,
        };
        let bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        let write = || crate::logging::say(&line);
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
        match bar.as_ref() {
            Some(bar) => bar.set_position(done),
            None => {
                let made = progress_bar(total, self.terminal);
                // Where the bar starts (the first bytes, or a resumed
                // part) is no sample of the rate: counted from 0 in no
                // time, it read 1.51 GiB/s at 20 KiB/s.
                made.set_position(done);
                made.reset_eta();
                *bar = Some(made);
            }
        }
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

fn progress_bar(total: Option<u64>, terminal: bool) -> ProgressBar {
    // indicatif draws on a terminal only; so does this.
    let target = match crate::logging::queue() {
        Some(queue) if terminal => {
            ProgressDrawTarget::term_like(Box::new(tcpkit::lossy::Frames::new(queue)))
        }
        _ => ProgressDrawTarget::hidden(),
    };
    let bar = ProgressBar::with_draw_target(total, target);
    let template = if total.is_some() {
        "{bytes:>10} / {total_bytes} [{bar:30}] {rate:>12} eta {eta}"
    } else {
        "{bytes:>10} {spinner} {rate:>12} {elapsed}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        let style = style.with_key("rate", |state: &ProgressState, out: &mut dyn Write| {
            let _ = out.write_str(&rate(state.per_sec(), state.elapsed()));
        });
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Until the rate has a sample of its own (half a second of transfer),
/// none is shown.
fn rate(per_sec: f64, elapsed: std::time::Duration) -> String {
    if elapsed < std::time::Duration::from_millis(500) || !per_sec.is_finite() || per_sec <= 0.0 {
        return "-- /s".to_string();
    }
    format!("{}/s", indicatif::HumanBytes(per_sec as u64))
}

/// The binary's notices: on stderr (`terminal`: a terminal, where the
/// transfer's bar is drawn).
pub fn stderr(terminal: bool) -> Arc<dyn Notices> {
    Arc::new(Stderr {
        bar: Mutex::default(),
        terminal,
    })
}

#[cfg(test)]
mod tests {
    use super::rate;
    use std::time::Duration;

    #[test]
    fn no_rate_is_shown_before_it_has_a_sample() {
        assert_eq!(rate(1.6e9, Duration::from_millis(10)), "-- /s");
        assert_eq!(rate(0.0, Duration::from_secs(3)), "-- /s");
        assert_eq!(rate(f64::NAN, Duration::from_secs(3)), "-- /s");
        assert_eq!(rate(20.0 * 1024.0, Duration::from_secs(3)), "20.00 KiB/s");
    }
}
