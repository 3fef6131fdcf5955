//! The process's part of its signals ([`tcpkit::signal`] watches them):
//! a second stop signal ends `serve` at once, and what its exit would
//! skip (the made certificate's removal, the log's last lines) is done
//! first.

/// Completes at the first Ctrl+C or SIGTERM; a second one exits at once,
/// saying in the log how many connections `health` had open (they are
/// dropped). Watching starts when this is called (inside the runtime),
/// not when the future is first polled.
pub fn shutdown_signal(
    health: std::sync::Arc<tcpkit::server::agent::Health>,
) -> impl Future<Output = ()> {
    let mut signals = tcpkit::signal::Stops::watch();
    async move {
        signals.next().await;
        tracing::info!(
            "Signal received: finishing open connections (signal again to stop at once)."
        );
        tokio::spawn(async move {
            signals.next().await;
            let open = health.open_connections();
            tracing::warn!(
                "Second signal: stopping at once; {open} open connection{} dropped.",
                if open == 1 { "" } else { "s" }
            );
            remove_before_exit();
            // At once, whatever stderr does: a paused terminal gets a
            // moment to take the line, no more.
            crate::logging::finish_within(std::time::Duration::from_millis(200));
            std::process::exit(i32::from(crate::exit::INTERRUPTED));
        });
    }
}

/// The made certificate's temporary file, for [`remove_before_exit`]: a
/// second signal's exit skips the destructor that removes it.
static REMOVED_AT_EXIT: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// Remembers `path` to remove before a second signal's exit.
pub fn remove_at_exit(path: Option<&std::path::Path>) {
    if let Ok(mut at_exit) = REMOVED_AT_EXIT.lock() {
        *at_exit = path.map(Into::into);
    }
}

/// Removes, before `process::exit`, what the made certificate's drop would have.
fn remove_before_exit() {
    if let Ok(mut at_exit) = REMOVED_AT_EXIT.lock()
        && let Some(path) = at_exit.take()
    {
        let _ = std::fs::remove_file(path);
    }
}
