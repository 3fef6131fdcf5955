//! [`SlowNotice`]: the rule that no wait is silent. A wait that may last
//! longer than [`AFTER`] (a connect to a host that does not answer, a
//! server that sends no response head) says on stderr, once it has lasted
//! that long, what it is waiting for and for how long at most.

use std::sync::mpsc;
use std::time::Duration;

/// How long a wait may last before it is named.
pub const AFTER: Duration = Duration::from_secs(2);

/// Prints its line on stderr if it is still alive [`AFTER`] its start;
/// dropping it first says nothing.
pub struct SlowNotice {
    _cancel: mpsc::Sender<()>,
}

impl SlowNotice {
    /// Starts the clock for `line` (printed as `tcpkit: {line}`).
    pub fn new(line: String) -> SlowNotice {
        let (cancel, cancelled) = mpsc::channel::<()>();
        // A thread, not a task: the wait may block this one (a blocking
        // connect) or a single-threaded runtime.
        let _ = std::thread::Builder::new()
            .name("slow-notice".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(AFTER) {
                    eprintln!("tcpkit: {line}");
                }
            });
        SlowNotice { _cancel: cancel }
    }
}

/// How long at most, in words: `up to --connect-timeout 10s`, or `until
/// the system gives up` without a limit.
pub fn up_to(flag: &str, limit: Option<Duration>) -> String {
    match limit {
        Some(limit) => format!("up to {flag} {}", humantime::format_duration(limit)),
        None => "with no limit of our own".to_string(),
    }
}
