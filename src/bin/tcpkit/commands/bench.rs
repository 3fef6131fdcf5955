//! `tcpkit bench`: the run, its report as a table or JSON (and an
//! HdrHistogram log), a failed run said as what failed; and `bench merge`,
//! runs' reports added up and shown the same way.

use std::io::Write;

use tcpkit::bench;

use super::address_error;
use crate::cli::{BenchArgs, BenchCommand, MergeCommand};
use crate::printer::Printer;

/// `bench`, or `bench merge`; `-qq` (`quiet`) keeps the notices too off
/// stderr, which then holds an error or nothing.
pub(super) fn command(command: BenchCommand, quiet: bool, printer: &Printer) -> anyhow::Result<()> {
    let Some(MergeCommand::Merge { files, json }) = command.merge else {
        return bench(command.run, quiet, printer);
    };
    let report = bench::merge::files(&files)?;
    show(&report, json, printer)?;
    Ok(bench::merge::verdict(&report)?)
}

fn bench(args: BenchArgs, quiet: bool, printer: &Printer) -> anyhow::Result<()> {
    for spec in &args.addrs {
        let scenario = args.scenario.map_or("pingpong", |s| s.name());
        let example = format!("tcpkit bench {scenario} {{}}");
        if let Some(hint) = crate::spelling::address_mistake(spec, &example) {
            return Err(address_error(spec, hint));
        }
    }
    let progress = printer.draws_progress() && !args.json && !quiet;
    let mut opts = args.options(printer.notices(quiet), progress);
    opts.tls = args.tls()?;
    if args.insecure {
        printer.warn("--insecure: the server's certificate is not checked");
    }
    if let Some(path) = &args.message_file {
        opts.message = bench::message_from_file(path)?;
    }
    let hdr_log = args
        .hdr_log
        .as_deref()
        .map(bench::HdrLog::create)
        .transpose()?;
    let report = bench::run(&opts)?;
    if let Some(log) = hdr_log {
        log.write(&report)?;
    }
    show(&report, args.json, printer)?;
    Ok(report.verdict(&opts)?)
}

/// The report on stdout, as a table or JSON.
fn show(report: &bench::Report, json: bool, printer: &Printer) -> anyhow::Result<()> {
    let mut stdout = printer.out(false, false);
    let shown = if json {
        writeln!(stdout, "{}", report.json(crate::FLAGS)?)
    } else {
        write!(stdout, "{}", report.table(crate::FLAGS))
    };
    let shown = shown.and_then(|()| stdout.flush());
    Ok(shown.map_err(|e| tcpkit::Error::writing_output("standard output", e))?)
}
