//! `tcpkit bench`: the run, its report as a table or JSON, and a failed
//! run said as what failed.

use std::io::Write;

use tcpkit::bench;

use super::address_error;
use crate::cli::BenchArgs;
use crate::printer::Printer;

pub(super) fn bench(args: BenchArgs, printer: &Printer) -> anyhow::Result<()> {
    for spec in &args.addrs {
        let example = format!("tcpkit bench {} {{}}", args.scenario.name());
        if let Some(hint) = crate::spelling::address_mistake(spec, &example) {
            return Err(address_error(spec, hint));
        }
    }
    let mut opts = args.options(printer, printer.draws_progress() && !args.json);
    opts.tls = args.tls()?;
    if args.insecure {
        printer.warn("--insecure: the server's certificate is not checked");
    }
    if let Some(path) = &args.message_file {
        opts.message = bench::message_from_file(path)?;
    }
    let report = bench::run(&opts)?;
    let mut stdout = printer.out(false, false);
    let shown = if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&json(&report)?)?)
    } else {
        write!(stdout, "{}", report.table(crate::FLAGS))
    };
    shown
        .and_then(|()| stdout.flush())
        .map_err(|e| tcpkit::Error::writing_output("standard output", e))?;
    Ok(report.verdict(&opts)?)
}

/// The report as JSON, its words naming settings as flags (the library
/// names them as its fields).
fn json(report: &bench::Report) -> serde_json::Result<serde_json::Value> {
    let mut value = serde_json::to_value(report)?;
    value["notes"] = report
        .notes
        .iter()
        .map(|n| n.render(crate::FLAGS))
        .collect();
    if let Some(first) = &report.first_error {
        value["first_error"] = first.render(crate::FLAGS).into();
    }
    Ok(value)
}
