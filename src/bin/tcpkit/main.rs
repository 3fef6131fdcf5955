//! The `tcpkit` binary: parse the command line, set up logs, dispatch, and
//! turn errors into `tcpkit: error: ...` and a documented exit code. It
//! owns the process (exit codes, signals, a closed stdout), here in this
//! file; the library never does.

mod alloc;
mod cli;
mod commands;
mod demo;
mod diagram;
mod exit;
mod generate;
mod habits;
mod heads;
mod logging;
mod notices;
mod printer;
mod signals;

use std::process::ExitCode;

// Flag values and address hints are the library's words.
pub(crate) use tcpkit::spelling;
pub(crate) use tcpkit::units as values;

use clap::{CommandFactory, FromArgMatches};

/// How this program's messages name a setting: as its flags
/// (`--connect-timeout`), where the library names its fields.
const FLAGS: tcpkit::Naming = tcpkit::Naming::Flags;
use cli::Cli;

fn main() -> ExitCode {
    // Every command, before the heap grows: a client's whole life is a
    // few allocations, and each huge-page fault would cost 2 MiB of RSS.
    tcpkit::memory::small_pages();
    let printer = printer::Printer::new();
    let args: Vec<_> = std::env::args_os().collect();
    if let Some(code) = generate::asked(&args, &printer) {
        return code;
    }
    let args = match habits::before_parse(args) {
        Ok(args) => args,
        Err(hint) => return printer.usage(hint),
    };
    let parsed = Cli::command()
        .try_get_matches_from(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    let cli = match parsed {
        Ok((cli, matches)) => {
            if let Some(hint) = habits::unused_by_scenario(&matches) {
                return printer.usage(hint);
            }
            cli
        }
        Err(e) => {
            if let Some(hint) = habits::after_error(&e, &args) {
                return printer.usage(hint);
            }
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(exit::USAGE));
        }
    };
    logging::init(&cli);
    let code = match commands::run(cli, &printer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => printer.fail(&err),
    };
    logging::finish();
    code
}
