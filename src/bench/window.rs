//! The measured window, from the main thread's side and the load threads':
//! every thread connects, one clock starts for all, the server's CPU is
//! sampled at the window's edges, and the progress line is drawn.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::{
    Live, Options, Pacer, ProcSample, Scenario, Tally, Targets, Window, churn, flow, report,
    sample_failed,
};
use crate::error::Error;

/// Waits out the run on the main thread: samples the server's CPU time at
/// the start and end of the measured part, and draws the progress line.
pub(super) fn watch(opts: &Options, window: Window, live: &Live) -> Result<Usage, Error> {
    let server = |at: &str| -> Result<Option<ProcSample>, Error> {
        opts.server_pid
            .map(|pid| {
                report::sample_process(pid).map_err(|e| sample_failed(crate::words!("{at}: {}", e)))
            })
            .transpose()
    };
    let me = || report::sample_process(std::process::id()).ok();
    sleep_until(window.measure, opts, live);
    let from = std::time::SystemTime::now();
    let (before, my_before) = (server("at the start of the measurement")?, me());
    sleep_until(window.end, opts, live);
    let to = std::time::SystemTime::now();
    let (after, my_after) = (server("at the end of the measurement")?, me());
    if opts.progress {
        opts.notices.notice(crate::notice::Notice::ProgressEnd);
    }
    let cpu = |b: Option<ProcSample>, a: Option<ProcSample>| {
        b.zip(a).map(|(b, a)| a.cpu_ns.saturating_sub(b.cpu_ns))
    };
    Ok(Usage {
        server_cpu_ns: cpu(before, after),
        bench_cpu_ns: cpu(my_before, my_after),
        measured: (from, to),
    })
}

/// CPU time spent during the measured part.
#[derive(Debug, Clone, Copy)]
pub(super) struct Usage {
    /// By the server (`--server-pid`).
    pub(super) server_cpu_ns: Option<u64>,
    /// By this process, all load threads together.
    pub(super) bench_cpu_ns: Option<u64>,
    /// The wall clock when the measured part began and ended.
    pub(super) measured: (std::time::SystemTime, std::time::SystemTime),
}

/// Sleeps until `until`, redrawing the progress line each second.
fn sleep_until(until: Instant, opts: &Options, live: &Live) {
    let mut last = (Instant::now(), live.done.load(Ordering::Relaxed));
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_secs(1)));
        if opts.progress {
            let done = live.done.load(Ordering::Relaxed);
            let now = Instant::now();
            let rate = (done - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-9);
            opts.notices.notice(crate::notice::Notice::Progress(format!(
                "{}: {}/s, {} errors",
                opts.scenario.name(),
                report::group(rate),
                live.errors.load(Ordering::Relaxed)
            )));
            last = (now, done);
        }
    }
}

/// Load thread number `thread`: a single-threaded runtime owning
/// connections `thread`, `thread + threads`, ... It connects, waits at
/// the barrier for the common clock, then runs.
pub(super) fn load_thread(
    opts: &Options,
    targets: &Targets,
    thread: usize,
    live: Arc<Live>,
    barrier: &Barrier,
    window: &std::sync::OnceLock<Window>,
) -> Result<Tally, Error> {
    let threads = opts.threads.clamp(1, opts.connections);
    let count = (thread..opts.connections).step_by(threads).count();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            // Still meet the others at the barrier, or they would wait forever.
            barrier.wait();
            barrier.wait();
            return Err(Error::other("cannot start a load thread's runtime", e));
        }
    };
    let local = tokio::task::LocalSet::new();
    let pacer = Rc::new(Pacer::new(opts.connect_rate, threads, thread));
    let tally = Rc::new(RefCell::new(Tally::with_intervals(opts.intervals())));
    let ready = match opts.scenario {
        Scenario::Churn | Scenario::Handshake => Vec::new(),
        _ => local.block_on(
            &runtime,
            flow::connect_all(opts, targets, (thread, threads), count, &tally, &pacer),
        ),
    };
    barrier.wait();
    barrier.wait();
    let Some(window) = window.get().copied() else {
        return Ok(tally.take());
    };
    local.block_on(&runtime, async {
        let mut tasks = Vec::new();
        if matches!(opts.scenario, Scenario::Churn | Scenario::Handshake) {
            for k in 0..count {
                let addr = targets.of(thread + k * threads);
                let task = churn::worker(
                    opts.clone(),
                    addr,
                    (tally.clone(), live.clone(), pacer.clone()),
                    window,
                );
                tasks.push(tokio::task::spawn_local(task));
            }
        } else {
            for (index, stream) in ready {
                let task = flow::connection(
                    opts.clone(),
                    index,
                    stream,
                    tally.clone(),
                    live.clone(),
                    window,
                );
                tasks.push(tokio::task::spawn_local(task));
            }
        }
        for task in tasks {
            let _ = task.await;
        }
    });
    Ok(tally.take())
}
