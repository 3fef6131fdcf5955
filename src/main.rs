//! The `tcpkit` binary: parse the command line, set up logs, dispatch, and
//! turn errors into `tcpkit: error: ...` and a documented exit code.

use std::process::ExitCode;

use clap::Parser;
use tcpkit::cli::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(
                u8::try_from(e.exit_code()).unwrap_or(tcpkit::error::exit::USAGE),
            );
        }
    };
    tcpkit::logging::init(cli.verbosity(), cli.plain_logs);
    match tcpkit::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tcpkit: error: {err:#}");
            ExitCode::from(tcpkit::error::exit_code_of(&err))
        }
    }
}
