//! `tcpkit demo`: the messages checked ([`tcpkit::demo::messages`]), then
//! the two windows or the picture.

use tcpkit::trace::scenario::Scenario;

use crate::cli::DemoArgs;
use crate::printer::Printer;

pub(super) fn demo(mut args: DemoArgs, verbosity: i8, printer: &Printer) -> anyhow::Result<()> {
    args.messages = tcpkit::demo::messages(args.messages, args.scenario)?;
    match (&args.diagram, &args.pcap, args.scenario) {
        (None, None, Scenario::Tutorial) => {
            crate::demo::run(&args.messages, verbosity, args.port, printer)
        }
        _ => crate::diagram::run(printer, &args),
    }
}
