//! `tcpkit demo`: the messages checked ([`tcpkit::demo::messages`]), then
//! the two windows or the picture.

use tcpkit::trace::scenario::Scenario;

use crate::cli::DemoArgs;
use crate::printer::Printer;

pub(super) fn demo(mut args: DemoArgs, verbosity: i8, printer: &Printer) -> anyhow::Result<()> {
    args.messages = tcpkit::demo::messages(args.messages, args.scenario)?;
    match (&args.diagram, args.scenario) {
        (None, Scenario::Tutorial) => {
            crate::demo::run(&args.messages, verbosity, args.port, printer)
        }
        (file, scenario) => crate::diagram::run(
            printer,
            &args.messages,
            scenario,
            file.as_deref().unwrap_or(std::path::Path::new("-")),
            args.port,
            args.max_drawn,
            args.force,
        ),
    }
}
