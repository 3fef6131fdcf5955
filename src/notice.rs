//! What a client says on the side while it works, and who shows it: the
//! library raises a [`Notice`] (a hint, a warning, a progress line) on the
//! [`Notices`] in its options; the binary decides how it looks (`tcpkit:
//! ...` on stderr). A library user gets none by default ([`Quiet`]).
//!
//! [`SlowNotice`] is the rule that no wait is silent: a wait that may last
//! longer than [`AFTER`] (a connect to a host that does not answer, a
//! server that sends no response head) says, once it has lasted that
//! long, what it is waiting for and for how long at most.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use crate::setting::Words;

/// Something to tell the person at the terminal, beside the work's output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// What a wait or a behaviour suggests (`... it speaks TLS? add --tls`).
    Hint(Words),
    /// Something went otherwise than asked, and the work goes on.
    Warning(Words),
    /// A live progress line, replacing the one before.
    Progress(String),
    /// The progress line is done: clear it.
    ProgressEnd,
    /// A transfer's bytes so far, and of how many when known (fetch's
    /// progress bar).
    Transfer {
        /// Bytes so far (a resumed download starts at the part file's).
        done: u64,
        /// The whole, when the response said it.
        total: Option<u64>,
    },
    /// The transfer is over: complete (clear the bar), or not (leave it).
    TransferEnd {
        /// Every byte came.
        completed: bool,
    },
}

/// Where notices go.
pub trait Notices: Send + Sync + std::fmt::Debug {
    /// Shows (or drops) one notice.
    fn notice(&self, notice: Notice);

    /// Whether notices are shown at all: a wait need not start a timer to
    /// raise one ([`SlowNotice`]) that would be dropped.
    fn wanted(&self) -> bool {
        true
    }
}

/// Drops every notice: the default for a library user.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Notices for Quiet {
    fn notice(&self, _notice: Notice) {}

    fn wanted(&self) -> bool {
        false
    }
}

/// The default notices of an options struct: none.
pub fn quiet() -> Arc<dyn Notices> {
    Arc::new(Quiet)
}

/// How long a wait may last before it is named.
pub const AFTER: Duration = Duration::from_secs(2);

/// Raises its hint if it is still alive [`AFTER`] its start; dropping it
/// first says nothing.
pub struct SlowNotice {
    _cancel: mpsc::Sender<()>,
}

impl SlowNotice {
    /// Starts the clock for `line`, raised on `notices`.
    pub fn new(notices: &Arc<dyn Notices>, line: Words) -> SlowNotice {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let notices = notices.clone();
        // A thread, not a task: the wait may block this one (a blocking
        // connect) or a single-threaded runtime.
        let _ = std::thread::Builder::new()
            .name("slow-notice".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(AFTER) {
                    notices.notice(Notice::Hint(line));
                }
            });
        SlowNotice { _cancel: cancel }
    }

    /// [`SlowNotice::new`] when `notices` shows anything: a caller whose
    /// notices are dropped starts no timer and makes no words.
    pub fn if_wanted(
        notices: &Arc<dyn Notices>,
        line: impl FnOnce() -> Words,
    ) -> Option<SlowNotice> {
        notices.wanted().then(|| SlowNotice::new(notices, line()))
    }
}

/// How long at most, in words: `up to --connect-timeout 10s`, or `with no
/// limit of our own`.
pub fn up_to(flag: crate::setting::Setting, limit: Option<Duration>) -> Words {
    match limit {
        Some(limit) => crate::words!("up to {} {}", flag, humantime::format_duration(limit)),
        None => "with no limit of our own".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Keeps what it is told, for the tests.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<Notice>>);

    impl Notices for Recorder {
        fn notice(&self, notice: Notice) {
            self.0.lock().unwrap().push(notice);
        }
    }

    #[test]
    fn a_wait_is_named_once_it_lasts_and_not_before() {
        let recorder = Arc::new(Recorder::default());
        let notices: Arc<dyn Notices> = recorder.clone();
        let short = SlowNotice::new(&notices, "short".into());
        drop(short);
        let long = SlowNotice::new(&notices, "long".into());
        std::thread::sleep(AFTER + Duration::from_millis(300));
        drop(long);
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [Notice::Hint("long".into())],
            "the wait dropped early says nothing"
        );
    }
}
