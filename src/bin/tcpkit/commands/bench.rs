//! `tcpkit bench`: the run, its report as a table or JSON, and a failed
//! run said as what failed.

use std::io::{self, Write};

use tcpkit::{Error, bench};

use super::address_error;
use crate::cli::BenchArgs;

/// The longest `--message-file` read: far more than a greeting server
/// takes by default (64 KiB), and a bound on what a typo can load.
const MAX_MESSAGE_FILE: u64 = 1024 * 1024;

/// The message in `path`, less one trailing newline.
fn message_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let shown = path.display();
    let unreadable = |e| Error::LocalFile {
        message: format!("cannot read --message-file {shown}"),
        source: Some(e),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_MESSAGE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_MESSAGE_FILE {
        return Err(Error::InvalidInput(format!(
            "--message-file {shown} is larger than 1 MiB, the longest message bench sends"
        ))
        .into());
    }
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    Ok(bytes)
}

pub(super) fn bench(args: BenchArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    for spec in &args.addrs {
        let example = format!("tcpkit bench {} {{}}", args.scenario_name());
        if let Some(hint) = crate::spelling::address_mistake(spec, &example) {
            return Err(address_error(spec, hint));
        }
    }
    let mut opts = args.options(io::stderr().is_terminal() && !args.json);
    opts.tls = args.tls()?;
    if args.insecure {
        crate::logging::sayln!(
            "tcpkit: warning: --insecure: the server's certificate is not checked"
        );
    }
    if let Some(path) = &args.message_file {
        opts.message = message_file(path)?;
    }
    let report = bench::run(&opts)?;
    let mut stdout = io::stdout().lock();
    let shown = if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)
    } else {
        write!(stdout, "{}", report.table())
    };
    shown
        .and_then(|()| stdout.flush())
        .map_err(|e| tcpkit::Error::writing_output("standard output", e))?;
    if !report.clean() {
        if report.errors == 0 && report.mismatches == 0 && report.done == 0 {
            // Sessions paced by --interval may simply be longer than the run.
            let hint = match (opts.interval, opts.messages.unwrap_or(3)) {
                (Some(pause), messages) if messages > 0 && !pause.is_zero() => format!(
                    " (each session pauses {} in all with --messages {messages} --interval {}: \
                     measure longer with --duration)",
                    humantime::format_duration(pause * messages as u32),
                    humantime::format_duration(pause)
                ),
                _ => String::new(),
            };
            return Err(Error::BenchFailed(format!(
                "{} {}: no {} completed in the {:.1} s measured{hint}",
                report.scenario, report.server, report.unit, report.seconds
            ))
            .into());
        }
        return Err(Error::BenchFailed(format!(
            "{} {}: {} errors and {} wrong replies{}",
            report.scenario,
            report.server,
            report.errors,
            report.mismatches,
            report
                .first_error
                .as_ref()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        ))
        .into());
    }
    Ok(())
}
