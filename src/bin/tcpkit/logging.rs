//! The binary's stderr: `tracing` events at the level `-v`/`-q` or
//! `RUST_LOG` choose, `--trace` lines, notices, heads and the final error,
//! all through one [`tcpkit::lossy::Lossy`] queue, so that no work ever
//! waits on a stderr nobody reads (a terminal paused with Ctrl+S, a stalled
//! log shipper): lines that find the queue full are dropped, counted, and
//! the count is said once stderr drains. (Client bytes reach a log only
//! through [`tcpkit::wire::Escaped`].) The library only emits events;
//! where they go is the binary's choice.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tcpkit::lossy::Lossy;
use tracing_subscriber::EnvFilter;

/// The queue in front of stderr, once [`init`] made it.
static OUTPUT: OnceLock<Lossy> = OnceLock::new();

/// How long the end of the program waits for a stderr that takes nothing:
/// a paused terminal must not keep a finished (or signalled) program alive.
const EXIT_STALL: Duration = Duration::from_secs(1);

/// How log lines look (`--log-format`'s values, but the last).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// Time, level and message.
    #[value(name = "text")]
    Full,
    /// The message alone, as the tutorial prints (--plain-logs).
    Plain,
    /// One JSON object a line: time, level, message and target, for log shippers.
    Json,
    /// The message in the server's window, as `demo` shows it
    /// (`server | ...`): for `demo --diagram` and `--scenario`, whose
    /// server runs in this process.
    #[value(skip)]
    Window,
}

/// Sends logs to stderr through a queue of `--log-buffer` bytes, at the
/// level `-v`/`-q` say; `RUST_LOG` wins when set, but not over serve's
/// `--no-connection-logs`.
pub fn init(cli: &crate::cli::Cli) {
    let (style, connections) = (cli.log_style(), cli.connection_logs());
    if let Ok(lossy) = Lossy::new(io::stderr(), cli.log_buffer) {
        if style == Style::Json {
            lossy.say_in_json();
        }
        let _ = OUTPUT.set(lossy);
    }
    let level = match cli.verbosity() {
        i8::MIN..=-2 => "error",
        -1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    if !connections && let Ok(off) = format!("{}=off", tcpkit::server::CONNECTION_LOG).parse() {
        filter = filter.add_directive(off);
    }
    let prefix = match style {
        Style::Window => "server | ",
        _ => "",
    };
    let lines = tcpkit::lossy::Lines::new(OUTPUT.get().cloned(), prefix);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(lines)
        .with_target(false)
        .with_ansi(io::stderr().is_terminal() && !matches!(style, Style::Window | Style::Json));
    match style {
        Style::Full => builder.init(),
        Style::Json => builder.json().flatten_event(true).with_target(true).init(),
        Style::Plain | Style::Window => builder.without_time().with_level(false).init(),
    }
}

/// Writes `text` to stderr without waiting on it (directly, before
/// [`init`], when there is no queue yet); as a JSON object with
/// `--log-format json`.
pub fn say(text: &str) {
    match OUTPUT.get() {
        Some(lossy) => lossy.say(text),
        None => send(text.as_bytes()),
    }
}

fn send(bytes: &[u8]) {
    match OUTPUT.get() {
        Some(lossy) => {
            lossy.send(bytes);
        }
        None => {
            // A closed stderr must not stop the work.
            let _ = io::stderr().write_all(bytes);
        }
    }
}

/// The queue in front of stderr, once [`init`] made it (fetch's bar
/// draws its frames into it).
pub fn queue() -> Option<Lossy> {
    OUTPUT.get().cloned()
}

/// The log lines dropped so far (for `serve --metrics`).
pub fn dropped() -> Option<Arc<AtomicU64>> {
    OUTPUT.get().map(Lossy::dropped)
}

/// Lets stderr take what is queued before the program ends, while it
/// takes anything: a stderr that takes nothing for a second is given up.
pub fn finish() {
    finish_within(EXIT_STALL);
}

/// [`finish`] with another patience (a second signal's exit waits less).
pub fn finish_within(stall: Duration) {
    if let Some(lossy) = OUTPUT.get() {
        lossy.flush_within(stall);
    }
}

/// A writer of one piece to stderr's queue, `prefix` first: sent whole
/// at flush or drop ([`tcpkit::lossy::Piece`]), so a line is dropped or
/// written whole. (Tracing makes one per event and writes the line with
/// one `write_all`.) Without a queue, stderr itself, unprefixed.
pub fn piece(prefix: &'static str) -> Box<dyn Write + Send> {
    match OUTPUT.get() {
        Some(lossy) => Box::new(lossy.piece(prefix)),
        None => Box::new(io::stderr()),
    }
}
