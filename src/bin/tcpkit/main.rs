//! The `tcpkit` binary: parse the command line, set up logs, dispatch, and
//! turn errors into `tcpkit: error: ...` and a documented exit code. It
//! owns the process (exit codes, signals, a closed stdout), here in this
//! file; the library never does.

mod activation;
mod alloc;
mod cli;
mod commands;
mod demo;
mod diagram;
mod exit;
mod habits;
mod heads;
mod logging;
mod notices;
mod signals;
mod trace;
mod values;

use std::process::ExitCode;

use tracing::info;

use clap::{CommandFactory, FromArgMatches};
use cli::Cli;

fn main() -> ExitCode {
    // Every command, before the heap grows: a client's whole life is a
    // few allocations, and each huge-page fault would cost 2 MiB of RSS.
    alloc::small_pages();
    // Messages name settings as this program's flags.
    tcpkit::setting::name_as_flags();
    let args = match habits::before_parse(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(hint) => {
            eprintln!("tcpkit: error: {hint}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let parsed = Cli::command()
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    let cli = match parsed {
        Ok((cli, matches)) => {
            if let Some(hint) = habits::unused_by_scenario(&matches) {
                eprintln!("tcpkit: error: {hint}");
                return ExitCode::from(exit::USAGE);
            }
            cli
        }
        Err(e) => {
            if let Some(hint) = habits::after_error(&e, &args) {
                eprintln!("tcpkit: error: {hint}");
                return ExitCode::from(exit::USAGE);
            }
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(exit::USAGE));
        }
    };
    logging::init(cli.verbosity(), cli.plain_logs, cli.log_buffer);
    let code = match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::fail(&err),
    };
    logging::finish();
    code
}

/// Completes at the first Ctrl+C or SIGTERM; a second one exits at once,
/// saying in the log how many connections `health` had open (they are
/// dropped). Watching starts when this is called (inside the runtime),
/// not when the future is first polled.
pub(crate) fn shutdown_signal(
    health: std::sync::Arc<tcpkit::server::agent::Health>,
) -> impl Future<Output = ()> {
    let mut signals = signals::Signals::watch();
    async move {
        signals.next().await;
        info!("Signal received: finishing open connections (signal again to stop at once).");
        tokio::spawn(async move {
            signals.next().await;
            let open = health.open_connections();
            tracing::warn!(
                "Second signal: stopping at once; {open} open connection{} dropped.",
                if open == 1 { "" } else { "s" }
            );
            commands::remove_before_exit();
            // At once, whatever stderr does: a paused terminal gets a
            // moment to take the line, no more.
            logging::finish_within(std::time::Duration::from_millis(200));
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
