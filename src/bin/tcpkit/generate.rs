//! `tcpkit --generate KIND`: shell completions and the man page, made from
//! the command line's own definition (clap_complete, clap_mangen), as
//! ripgrep and xh make theirs; a packager installs their output.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::printer::Printer;

/// What `--generate` makes.
const KINDS: &str = "complete-bash, complete-zsh, complete-fish, complete-powershell or man";

/// Answers `tcpkit --generate KIND` on stdout, if that is what `args`
/// ask; `None` otherwise.
pub fn asked(args: &[OsString], printer: &Printer) -> Option<ExitCode> {
    let (flag, kind) = (args.get(1)?.to_str()?, args.get(2).and_then(|k| k.to_str()));
    let kind = match flag.strip_prefix("--generate") {
        Some("") => kind.unwrap_or(""),
        Some(value) => value.strip_prefix('=')?,
        None => return None,
    };
    let mut cmd = crate::cli::Cli::command();
    let mut out = printer.out(false, false);
    let shell = match kind {
        "complete-bash" => Shell::Bash,
        "complete-zsh" => Shell::Zsh,
        "complete-fish" => Shell::Fish,
        "complete-powershell" => Shell::PowerShell,
        "man" => {
            let man = clap_mangen::Man::new(cmd);
            let written = man.render(&mut out).and_then(|()| out.flush());
            return Some(match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => printer.fail(&tcpkit::Error::writing_output("standard output", e).into()),
            });
        }
        other => {
            return Some(printer.usage(format_args!("--generate takes {KINDS}, not '{other}'")));
        }
    };
    clap_complete::generate(shell, &mut cmd, "tcpkit", &mut out);
    Some(ExitCode::SUCCESS)
}
