//! `tcpkit fetch`: the heads shown as asked, the download run until done
//! or interrupted, and where the body went said.

use anyhow::Context;

use tcpkit::fetch;

use crate::cli::FetchArgs;

pub(super) fn fetch(args: FetchArgs, verbose: bool) -> anyhow::Result<()> {
    let mut opts = args.options();
    opts.heads = crate::heads::shown(
        args.silent,
        verbose,
        matches!(opts.destination, fetch::Destination::Writer(_)),
        opts.dump_head
            .as_ref()
            .is_some_and(|p| p.as_os_str() == "-"),
    );
    // One connection at a time: a single-threaded runtime is all it needs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Ctrl+C stops the download cleanly: FILE.part keeps what came.
    let fetched =
        runtime.block_on(async { fetch::run_until(&opts, crate::signals::interrupted()).await })?;
    if let (Some(path), false) = (&fetched.saved_to, args.silent)
        && path != "-"
    {
        crate::logging::sayln!(
            "tcpkit: saved {} to {path}",
            tcpkit::wire::Bytes(fetched.bytes)
        );
    }
    Ok(())
}
