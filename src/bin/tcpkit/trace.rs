//! `--trace`: the library's [`tcpkit::trace::Lines`], each line on
//! stderr through the log's queue ([`crate::logging`]): a stderr nobody
//! reads drops them, and never holds up a connection. The bytes are
//! escaped and cut as in every log line.

use std::sync::Arc;

use tcpkit::trace::{Lines, Tracer};

/// A tracer that prints lines on stderr.
pub fn stderr() -> Arc<dyn Tracer> {
    Arc::new(Lines::new(|line| crate::logging::sayln!("trace {line}")))
}
