//! The `tcpkit` binary: parse the command line, set up logs, dispatch, and
//! turn errors into `tcpkit: error: ...` and a documented exit code. It
//! owns the process (exit codes, signals, a closed stdout), here in this
//! file; the library never does.

mod alloc;
mod cli;
mod commands;
mod demo;
mod exit;
mod logging;
mod signals;
mod values;

use std::process::ExitCode;

use tracing::info;

use clap::Parser;
use cli::Cli;

fn main() -> ExitCode {
    if let Some(hint) = cli::nc_quit_seconds(std::env::args()) {
        eprintln!("tcpkit: error: {hint}");
        return ExitCode::from(exit::USAGE);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let args: Vec<String> = std::env::args().collect();
            if let Some(hint) = cli::nc_habit(&e, &args) {
                eprintln!("tcpkit: error: {hint}");
                return ExitCode::from(exit::USAGE);
            }
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(exit::USAGE));
        }
    };
    logging::init(cli.verbosity(), cli.plain_logs);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if tcpkit::ErrorKind::of(&err) == Some(tcpkit::ErrorKind::OutputClosed) => {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tcpkit: error: {}", exit::message(&err));
            ExitCode::from(exit::code_of(&err))
        }
    }
}

/// Completes at the first Ctrl+C or SIGTERM; a second one exits at once.
/// Watching starts when this is called (inside the runtime), not when the
/// future is first polled.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> {
    let mut signals = signals::Signals::watch();
    async move {
        signals.next().await;
        info!("Signal received: finishing open connections (signal again to stop at once).");
        tokio::spawn(async move {
            signals.next().await;
            eprintln!("tcpkit: second signal: stopping at once");
            std::process::exit(i32::from(exit::INTERRUPTED));
        });
    }
}

/// Completes at the first Ctrl+C or SIGTERM: for work that stops cleanly
/// and says what it kept (`fetch`). Watching starts when this is called.
pub(crate) fn interrupted() -> impl Future<Output = ()> {
    let mut signals = signals::Signals::watch();
    async move { signals.next().await }
}
