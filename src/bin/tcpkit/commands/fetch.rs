//! `tcpkit fetch`: the heads shown as asked, the download run until done
//! or interrupted, and where the body went said.

use anyhow::Context;

use tcpkit::fetch;

use crate::cli::FetchArgs;
use crate::heads::Shown;
use crate::printer::Printer;

pub(super) fn fetch(args: FetchArgs, verbose: bool, printer: &Printer) -> anyhow::Result<()> {
    let mut opts = args.options(printer);
    opts.heads = printer.heads(Shown {
        silent: args.silent,
        verbose,
        body_on_stdout: matches!(opts.destination, fetch::Destination::Writer(_)),
        dump_on_stdout: opts
            .dump_head
            .as_ref()
            .is_some_and(|p| p.as_os_str() == "-"),
    });
    // One connection at a time: a single-threaded runtime is all it needs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Ctrl+C stops the download cleanly: FILE.part keeps what came.
    let fetched =
        runtime.block_on(async { fetch::run_until(&opts, tcpkit::signal::stopped()).await })?;
    if let (Some(path), false) = (&fetched.saved_to, args.silent)
        && path != "-"
    {
        printer.say(format_args!(
            "saved {} to {path}",
            tcpkit::wire::Bytes(fetched.bytes)
        ));
    }
    Ok(())
}
