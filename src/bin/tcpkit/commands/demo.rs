//! `tcpkit demo`: the messages checked, then the two windows or the
//! picture.

use tcpkit::Error;

use tcpkit::trace::scenario::Scenario;

use crate::cli::DemoArgs;
use crate::printer::Printer;

pub(super) fn demo(mut args: DemoArgs, verbosity: i8, printer: &Printer) -> anyhow::Result<()> {
    if args.messages.iter().any(|m| m.contains('\n')) {
        return Err(Error::InvalidInput("demo messages cannot contain line breaks".into()).into());
    }
    if args.scenario != Scenario::Tutorial && !args.messages.is_empty() {
        return Err(Error::InvalidInput(
            "--scenario plays its own messages: give MESSAGEs without --scenario (or with \
             --scenario tutorial)"
                .into(),
        )
        .into());
    }
    if args.messages.is_empty() {
        args.messages = ["Michael", "Tracy", "Sarah"].map(String::from).to_vec();
    }
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
