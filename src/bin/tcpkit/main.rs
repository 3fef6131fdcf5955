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
mod values;

use std::process::ExitCode;

use tracing::{info, warn};

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
            if let Some(hint) = cli::nc_habit(&e) {
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
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => Some(term),
        Err(e) => {
            warn!("cannot watch SIGTERM ({e}); only Ctrl+C stops the server");
            None
        }
    };
    next_signal(term.as_mut()).await;
    info!("Signal received: finishing open connections (signal again to stop at once).");
    tokio::spawn(async move {
        next_signal(term.as_mut()).await;
        eprintln!("tcpkit: second signal: stopping at once");
        std::process::exit(i32::from(exit::INTERRUPTED));
    });
}

/// Completes at the first Ctrl+C or SIGTERM: for work that stops cleanly
/// and says what it kept (`fetch`).
pub(crate) async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    next_signal(term.as_mut()).await;
}

/// The next Ctrl+C, or SIGTERM when it is watched.
async fn next_signal(term: Option<&mut tokio::signal::unix::Signal>) {
    match term {
        Some(term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        },
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
