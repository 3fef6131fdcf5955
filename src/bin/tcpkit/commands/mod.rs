//! What each subcommand does with its parsed arguments: the glue between
//! [`crate::cli`] and the library, one file per subcommand as in `cli/`.
//! Each turns its arguments into the library's options, runs it, and shows
//! what came; `main.rs` turns the error into its exit code.

mod bench;
mod demo;
mod fetch;
mod serve;
mod talk;

use tcpkit::Error;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

/// Runs the command the user asked for, its output on `printer`.
pub fn run(cli: Cli, printer: &Printer) -> anyhow::Result<()> {
    let verbosity = cli.verbosity();
    match cli.command {
        Command::Serve(args) => serve::serve(args, printer),
        Command::Talk(args) => talk::talk(args, printer),
        Command::Demo(args) => demo::demo(args, verbosity, printer),
        Command::Fetch(args) => fetch::fetch(args, verbosity > 0, printer),
        Command::Bench(args) => bench::command(args, verbosity < -1, printer),
    }
}

/// An address written in a way [`crate::spelling::address_mistake`] knows.
pub(super) fn address_error(spec: &str, hint: String) -> anyhow::Error {
    Error::Address {
        spec: spec.to_string(),
        reason: hint.into(),
        source: None,
    }
    .into()
}
