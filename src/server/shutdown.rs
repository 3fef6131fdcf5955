//! The stages of a graceful shutdown, in order (tokio's graceful-shutdown
//! example, with a load balancer's drain in front): drain (still serving
//! while balancers stop sending), stop accepting, the grace for open
//! connections to end as their clients choose, then each answers what it
//! received and closes with the lingering close, bounded; whatever is
//! left is dropped. Each stage says in the log what it does.

use std::sync::Arc;

use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::{FINISH_MARGIN, Shared, agent};

/// What serving left running, for the shutdown to stop stage by stage.
pub(super) struct Serving {
    pub shared: Arc<Shared>,
    /// One accept loop per listener.
    pub accept_loops: JoinSet<()>,
    /// Stops the accept loops (after the drain).
    pub stop_accepting: CancellationToken,
    /// Every connection's task.
    pub tracker: TaskTracker,
    /// The idle clock's task, stopped with the grace.
    pub clock: JoinHandle<()>,
}

/// Runs every stage; returns once the server is stopped.
pub(super) async fn stages(serving: Serving) {
    let Serving {
        shared,
        mut accept_loops,
        stop_accepting,
        tracker,
        clock,
    } = serving;
    let config = &shared.config;
    let (token, kill) = (shared.token.clone(), shared.kill.clone());
    config.health.set(agent::State::Draining);
    let open_now = || shared.open.load(std::sync::atomic::Ordering::Acquire);
    config.service.stopping(format!(
        "Stopping: {} connection(s) open; serving {} more while load balancers stop sending",
        open_now(),
        humantime::format_duration(config.drain)
    ));
    if !config.drain.is_zero() {
        info!(
            "Draining: still serving for {}, while load balancers stop sending new clients.",
            humantime::format_duration(config.drain)
        );
        tokio::time::sleep(config.drain).await;
    }
    // No new connections; the open ones go on exactly as before (every
    // message answered, the timeouts still apply) until their clients end
    // them or the grace ends.
    stop_accepting.cancel();
    config.health.set(agent::State::Stopped);
    while accept_loops.join_next().await.is_some() {}
    tracker.close();
    let open = open_now();
    config.service.status(format!(
        "Stopping: no new connections; {open} connection(s) open, for up to {}",
        humantime::format_duration(config.grace)
    ));
    if open > 0 && config.grace.is_zero() {
        info!(
            "Shutting down: no new connections; {open} open connection(s) are dropped at once \
             ({}), without answering what they sent.",
            crate::words!("{} 0", crate::setting::Setting::Grace).render(config.naming)
        );
    } else if open > 0 {
        info!(
            "Shutting down: no new connections; {open} open connection(s) go on until their \
             clients end them, for up to {}; then what they sent is answered and they are closed.",
            humantime::format_duration(config.grace)
        );
    } else {
        info!("Shutting down: no new connections, and none open.");
    }
    let grace_ran_out = config.grace.is_zero()
        || tokio::time::timeout(config.grace, tracker.wait())
            .await
            .is_err();
    // Grace over: each connection answers what it has received, then
    // closes with the lingering close. The clock wakes every waiting
    // connection as it stops.
    token.cancel();
    let _ = clock.await;
    if grace_ran_out && !config.grace.is_zero() {
        info!(
            "Grace period over: closing {} connection(s) after answering what they sent.",
            open_now()
        );
        config.service.status(format!(
            "Stopping: closing {} connection(s) after answering what they sent",
            open_now()
        ));
    }
    // Answering and the lingering close are bounded too: past them, the
    // rest are dropped, which is worth a warning. With --grace 0 they are
    // dropped at once, as the operator chose and the log said above.
    if config.grace.is_zero() {
        kill.cancel();
        tracker.wait().await;
    } else if tokio::time::timeout(config.linger + FINISH_MARGIN, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            "Dropping {} connection(s) that did not finish closing.",
            tracker.len()
        );
        kill.cancel();
        tracker.wait().await;
    }
    info!("Server stopped.");
}
