//! `tcpkit serve`: the flags made into a [`server::Builder`], which binds
//! and serves; this process's part is the rest: sockets a service manager
//! passed, the allocator, the runtime, and its signals (stop, and SIGHUP
//! to read the certificate again).

use anyhow::Context;
use tracing::{info, warn};

use tcpkit::server;

use super::address_error;
use crate::cli::ServeArgs;
use crate::printer::Printer;

pub(super) fn serve(args: ServeArgs, printer: &Printer) -> anyhow::Result<()> {
    // First, before the runtime's threads: it clears LISTEN_FDS.
    // SAFETY: the only other thread, the log's, reads no environment.
    let inherited = unsafe { tcpkit::service::passed_listeners() }
        .context("cannot use the sockets the service manager passed (LISTEN_FDS)")?;
    tcpkit::memory::small_pages();
    tcpkit::memory::return_memory_promptly();
    let mut config = args.config();
    config.service = tcpkit::service::Notifier::from_env();
    if args.metrics.is_some() {
        let metrics = server::metrics::Metrics::default();
        config.metrics = Some(std::sync::Arc::new(match crate::logging::dropped() {
            Some(dropped) => metrics.with_log_drops(dropped),
            None => metrics,
        }));
    }
    // Kept for the second signal's line: how many connections it drops.
    let health = config.health.clone();
    let passed = inherited.len();
    let mut builder = server::Builder::new(config)
        .inherited(inherited)
        .backlog(args.backlog)
        .reuse_port(args.reuse_port)
        .raise_fd_limit(args.max_connections.map(|n| n as usize));
    if passed == 0 {
        for spec in &args.bind {
            if let Some(hint) = crate::spelling::address_mistake(spec, "tcpkit serve --bind {}") {
                return Err(address_error(spec, hint).context("--bind"));
            }
            builder = builder.bind(spec.as_str());
        }
    } else {
        info!(
            "Using {passed} listening socket(s) passed by the service manager (LISTEN_FDS); \
             --bind is not used."
        );
    }
    if let Some(spec) = &args.metrics {
        builder = builder.metrics(spec.as_str());
    }
    if let Some(spec) = &args.agent {
        builder = builder.agent(spec.as_str());
    }
    if let Some(source) = args.tls_source() {
        builder = builder.tls(source);
    }
    if args.trace {
        builder = builder.trace(printer.tracer());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(tcpkit::memory::give_back_this_threads_memory)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = builder.listen().await?;
        for warning in server.warnings() {
            warn!("{warning}");
        }
        crate::signals::remove_at_exit(server.made_cert().and_then(|m| m.removed_at_exit()));
        server.reload_tls_at_sighup();
        server.run(crate::signals::shutdown_signal(health)).await;
        Ok(())
    })
}
