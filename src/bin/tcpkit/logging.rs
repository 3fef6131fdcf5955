//! Log setup for the binary: `tracing` events to stderr, at the level
//! `-v`/`-q` or `RUST_LOG` choose. (Client bytes reach a log only through
//! [`tcpkit::wire::Escaped`].) The library only emits events; where they
//! go is the binary's choice.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Sends logs to stderr. `verbosity` counts `-v` minus `-q`; `RUST_LOG`
/// wins when set. `plain` leaves out time and level, as the tutorial prints.
pub fn init(verbosity: i8, plain: bool) {
    let level = match verbosity {
        i8::MIN..=-2 => "error",
        -1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    if plain {
        builder.without_time().with_level(false).init();
    } else {
        builder.init();
    }
}
